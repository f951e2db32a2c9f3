import { setFlagsFromString } from "node:v8";
import { isMainThread } from "node:worker_threads";

// sweepArrayBuffersInPause(), for processes that make many small ArrayBuffers (binaryType "arraybuffer").
//
// Why: V8 frees a dead ArrayBuffer's memory (its backing store, and the bookkeeping objects beside it) on a
// background thread after each garbage collection, while the main thread allocates the next ones. On a machine
// with a core to spare for that thread, glibc's malloc then serves every allocation from memory freed on
// another core: each `new ArrayBuffer(32)` took 800-890 ns, against 300-320 ns when V8 frees them in the
// collection's pause on the main thread (V8's --no-concurrent-array-buffer-sweeping), and the process spent
// 3.6-4.8× the CPU (main thread and V8's threads, /proc/self/task; bench/micro/arraybuffer.mjs --threads).
// A 32 B "arraybuffer" echo server, not pinned to a CPU, echoed 1.28–1.33× as many messages with 0.64× the CPU per
// message; pinned to one CPU (the benchmark's setting) it made no difference, nor did it at 64 KiB or 1 MiB.
//
// It is a process-wide V8 setting, so the library never makes it by itself: the `sockjet` command does, and
// an application opts in.

const FLAG = "concurrent-array-buffer-sweeping";

/** Which call's stop function still stops it: only the latest call's. */
let generation = 0;
let inPause = false;

/**
 * Whether node was started with V8's concurrent ArrayBuffer sweeping turned off or on
 * (`--no-concurrent-array-buffer-sweeping`, `--concurrent-array-buffer-sweeping`; the last one given counts):
 * false, true, or undefined when neither was given.
 */
export function commandLineConcurrentSweeping(execArgv: readonly string[]): boolean | undefined {
  let concurrent: boolean | undefined;
  for (const arg of execArgv) {
    const match = /^--(no[-_])?concurrent[-_]array[-_]buffer[-_]sweeping$/.exec(arg);
    if (match !== null) concurrent = match[1] === undefined;
  }
  return concurrent;
}

/**
 * Makes V8 free dead ArrayBuffers in the garbage collector's pause, on the main thread that allocates them,
 * instead of on a background thread, from now until the returned function is called. For processes that
 * receive or make many small ArrayBuffers (`binaryType = "arraybuffer"`, the standard's type) on a machine
 * with more than one core: on Node 20, a 32 B echo server with "arraybuffer" echoed 1.28–1.33× as many messages
 * with 0.64× the CPU per message, and one `new ArrayBuffer(32)` took 300-320 ns instead of 800-890 ns
 * (memory freed on another core made glibc's malloc slow). Measured on Node 20 (V8 11) only. The `sockjet`
 * command calls it for its own process.
 *
 * It changes a V8 setting of the whole process (`--no-concurrent-array-buffer-sweeping`): call it once, from
 * the main thread of the program's entry point, never from a library. The collector's pauses grow by the
 * time the frees take (less CPU in all: the background thread's work was larger than what it moves).
 *
 * @returns a function that stops it (only the latest call's does), giving the frees back to V8's background
 * thread, unless node was started with `--no-concurrent-array-buffer-sweeping`.
 * @throws Error if called from a worker thread.
 */
export function sweepArrayBuffersInPause(): () => void {
  if (!isMainThread) {
    throw new Error(
      "sweepArrayBuffersInPause: call it from the main thread; the V8 setting it changes is shared by every thread of the process",
    );
  }
  if (!inPause) {
    setFlagsFromString(`--no-${FLAG}`);
    inPause = true;
  }
  const mine = ++generation;
  return () => {
    if (mine !== generation || !inPause) return;
    inPause = false;
    if (commandLineConcurrentSweeping(process.execArgv) !== false) setFlagsFromString(`--${FLAG}`);
  };
}
