import { DEFAULT_HEAP_HEADROOM, keepHeapHeadroom } from "../heap/index.js";

// The `sockjet` command's heap headroom (src/heap/index.ts says why it keeps one): the default, or
// SOCKJET_HEAP_HEADROOM bytes, or none with SOCKJET_HEAP_HEADROOM=0 (a small container may prefer V8's own
// rule to 64 MiB more heap).

export const HEAP_HEADROOM_ENV = "SOCKJET_HEAP_HEADROOM";
/** Stops the headroom applyHeapHeadroom() kept; a no-op when it kept none. */
let stopHeadroom: () => void = () => {};

/** Applies the headroom the environment asks for; returns a usage message when its value is not one. */
export function applyHeapHeadroom(env: NodeJS.ProcessEnv = process.env): string | null {
  const raw = env[HEAP_HEADROOM_ENV];
  let bytes = DEFAULT_HEAP_HEADROOM;
  if (raw !== undefined && raw.trim() !== "") bytes = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (bytes === 0) return null;
  try {
    stopHeadroom = keepHeapHeadroom(bytes);
    return null;
  } catch {
    return `${HEAP_HEADROOM_ENV} must be a number of bytes from 1048576 (1 MiB) to 17179869184 (16 GiB), or 0 to leave V8's heap rule alone; got ${JSON.stringify(raw)}`;
  }
}

/**
 * Gives the heap back to V8's own rule in a process that moves no binary messages: the primary of
 * `serve --workers`, which hands connections over and relays the chat's lines and replays as strings over IPC
 * (the headroom is per process: an outside review measured 375-432 MB in all for two workers and their
 * primary, against 315-347 without it).
 */
export function releaseHeapHeadroom(): void {
  stopHeadroom();
}
