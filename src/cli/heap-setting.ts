import { commandLineConcurrentSweeping } from "../heap/array-buffer-sweeping.js";
import { DEFAULT_HEAP_HEADROOM, keepHeapHeadroom, sweepArrayBuffersInPause } from "../heap/index.js";

// The `sockjet` command's V8 settings (src/heap/ says why each helps), applied first for every command:
// - a heap headroom: the default, or SOCKJET_HEAP_HEADROOM bytes, or none with SOCKJET_HEAP_HEADROOM=0 (a
//   small container may prefer V8's own rule to 64 MiB more heap);
// - ArrayBuffers freed in the collector's pause (`connect` and `bench` receive "arraybuffer" messages), unless
//   SOCKJET_ARRAYBUFFER_SWEEPING=concurrent or node was started with --concurrent-array-buffer-sweeping.

export const HEAP_HEADROOM_ENV = "SOCKJET_HEAP_HEADROOM";
/** Stops the headroom applyHeapSettings() kept; a no-op when it kept none. */
let stopHeadroom: () => void = () => {};
export const ARRAYBUFFER_SWEEPING_ENV = "SOCKJET_ARRAYBUFFER_SWEEPING";

/** Applies what the environment asks for; returns a usage message, and applies nothing, when a value is wrong. */
export function applyHeapSettings(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): string | null {
  const sweeping = (env[ARRAYBUFFER_SWEEPING_ENV] ?? "").trim();
  if (sweeping !== "" && sweeping !== "pause" && sweeping !== "concurrent") {
    return `${ARRAYBUFFER_SWEEPING_ENV} must be "pause" (the default: V8 frees ArrayBuffers in the collector's pause) or "concurrent" (on a background thread, V8's own rule); got ${JSON.stringify(env[ARRAYBUFFER_SWEEPING_ENV])}`;
  }
  const headroomProblem = applyHeapHeadroom(env[HEAP_HEADROOM_ENV]);
  if (headroomProblem !== null) return headroomProblem;
  if (sweeping !== "concurrent" && commandLineConcurrentSweeping(execArgv) !== true)
    sweepArrayBuffersInPause();
  return null;
}

/**
 * Gives the heap back to V8's own rule in a process that moves no messages: the primary of `serve --workers`,
 * which only hands connections over (the headroom is per process: an outside review measured 375-432 MB in
 * all for two workers and their primary, against 315-347 without it).
 */
export function releaseHeapHeadroom(): void {
  stopHeadroom();
}

function applyHeapHeadroom(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === "") {
    stopHeadroom = keepHeapHeadroom(DEFAULT_HEAP_HEADROOM);
    return null;
  }
  const bytes = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (bytes === 0) return null;
  try {
    stopHeadroom = keepHeapHeadroom(bytes);
    return null;
  } catch {
    return `${HEAP_HEADROOM_ENV} must be a number of bytes from 1048576 (1 MiB) to 17179869184 (16 GiB), or 0 to leave V8's heap rule alone; got ${JSON.stringify(raw)}`;
  }
}
