import { DEFAULT_HEAP_HEADROOM, keepHeapHeadroom } from "../heap/index.js";
import { byteSize } from "./args.js";

// The `sockjet` command's heap headroom (src/heap/index.ts says why it keeps one): the default, or
// SOCKJET_HEAP_HEADROOM (a size: bytes, 128m, 1g), or none with SOCKJET_HEAP_HEADROOM=0 (a small container may prefer V8's own
// rule to 64 MiB more heap).

export const HEAP_HEADROOM_ENV = "SOCKJET_HEAP_HEADROOM";
/** Stops the headroom applyHeapHeadroom() kept; a no-op when it kept none. */
let stopHeadroom: () => void = () => {};

/** Applies the headroom the environment asks for; returns a usage message when its value is not one. */
export function applyHeapHeadroom(env: NodeJS.ProcessEnv = process.env): string | null {
  const raw = env[HEAP_HEADROOM_ENV];
  let bytes = DEFAULT_HEAP_HEADROOM;
  // A size as --max-payload takes one (128m, 1g, 64MiB): `128m` was refused (a newcomer's review).
  if (raw !== undefined && raw.trim() !== "") {
    try {
      bytes = byteSize(raw);
    } catch {
      bytes = Number.NaN;
    }
  }
  if (bytes === 0) return null;
  try {
    stopHeadroom = keepHeapHeadroom(bytes);
    return null;
  } catch {
    return `${HEAP_HEADROOM_ENV} must be a size from 1m (1 MiB) to 16g (16 GiB), in bytes or with a k/m/g suffix like 128m, or 0 to leave V8's heap rule alone; got ${JSON.stringify(raw)}`;
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
