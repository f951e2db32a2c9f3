import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { isMainThread } from "node:worker_threads";
import { commandLineGrowingPercent, growingPercentFor } from "./growing-percent.js";

// sockjet/heap: keepHeapHeadroom(), for processes that move large binary messages on Node 20.
//
// Why: V8 (11, Node 20) counts the ArrayBuffer memory allocated since the last Mark-Compact against the old
// generation's limit, and scavenges only every 32 MB of young ArrayBuffer memory. The limit it sets after a
// Mark-Compact is the live heap times a factor that falls towards 1.1 when the program keeps little: for an
// ~8 MB heap, 19-36 MB. Large messages allocate ArrayBuffers fast, so that room fills with buffers that are
// already dead, and in any heap past V8's 8 MB threshold for incremental marking a Mark-Compact follows every
// 10-30 MB of messages: `sockjet serve` echoing 64 KiB did 75-89 in 2 s and ran at 0.66× the library's echo
// script (whose smaller heap stays under the threshold: 5); an echo beside a 20 MB application heap ran at
// 0.43× (`ws` alike). `node --initial-old-space-size=64` helps only until the first Mark-Compact and cannot be
// set once V8 runs; the growing factor can, so it is set again after every collection, for a limit after the
// next Mark-Compact of at least the live heap plus the headroom (docs/ARCHITECTURE.md, "Large messages and V8's heap limit").
//
// It is a process-wide V8 setting, so the library never makes it by itself: the `sockjet` command, which owns
// its process, does, and an application opts in.

/** The headroom keepHeapHeadroom() keeps by default: 64 MiB (67,108,864 bytes), twice the 32 MB of young
 * ArrayBuffers V8 lets pile up between scavenges. */
export const DEFAULT_HEAP_HEADROOM = 64 * 1024 * 1024;

const MiB = 1024 * 1024;
/** The smallest headroom accepted, 1 MiB: a smaller number is more likely MiB meant as bytes. */
const MIN_HEADROOM = MiB;
/** The largest headroom accepted: 16 GiB (V8's flag is a 32-bit percentage). */
const MAX_HEADROOM = 16 * 1024 * MiB;

let observer: PerformanceObserver | null = null;
let headroom = DEFAULT_HEAP_HEADROOM;
let percent = -1;
/** Which call's stop function still stops it: only the latest call's. */
let generation = 0;

/** The old generation's bytes in use: what V8 multiplies by the factor (the young generation is not in it). */
function oldGenerationBytes(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name !== "new_space" && space.space_name !== "new_large_object_space") {
      bytes += space.space_used_size;
    }
  }
  return bytes;
}

function setGrowingPercent(): void {
  const next = growingPercentFor(oldGenerationBytes(), headroom);
  if (next === percent) return;
  percent = next;
  setFlagsFromString(`--heap-growing-percent=${next}`);
}

/**
 * Keeps at least `headroomBytes` of room above the live JavaScript heap before V8's next full garbage
 * collection (a Mark-Compact), from now until the returned function is called. For processes that move many
 * binary messages of a few KiB or more: on Node 20, beside an application's 20 MB heap, a 64 KiB
 * echo server ran 2.1× as fast with it (`ws` 2.7×); measured on Node 20 (V8 11) only. The `sockjet`
 * command calls it for its own process. Heaps of `headroomBytes` or more are left to V8's own rule: pass a
 * larger headroom for them.
 *
 * It changes a V8 setting of the whole process (`--heap-growing-percent`, overriding one given to node):
 * call it once, from the main thread of the program's entry point, never from a library. The heap may grow
 * by up to `headroomBytes` more than it would have before V8 collects it, mostly dead ArrayBuffers, which
 * after a burst can stay until V8's memory reducer runs. A headroom smaller than V8's own can mean more
 * collections, not fewer.
 *
 * @param headroomBytes bytes of room to keep, from 1 MiB to 16 GiB (default {@link DEFAULT_HEAP_HEADROOM},
 * 64 MiB).
 * @returns a function that stops it (only the latest call's does), leaving the growing factor to V8 again,
 * or to the `--heap-growing-percent` node was started with.
 * @throws TypeError if `headroomBytes` is not a number; RangeError if it is outside 1 MiB–16 GiB; Error if
 * called from a worker thread.
 */
export function keepHeapHeadroom(headroomBytes: number = DEFAULT_HEAP_HEADROOM): () => void {
  if (typeof headroomBytes !== "number") {
    throw new TypeError(
      `keepHeapHeadroom: headroomBytes must be a number of bytes, e.g. 128 * 1024 * 1024, not a ${typeof headroomBytes}; leave it out for the default 64 MiB`,
    );
  }
  if (!(headroomBytes >= MIN_HEADROOM && headroomBytes <= MAX_HEADROOM)) {
    throw new RangeError(
      `keepHeapHeadroom: headroomBytes must be a number of bytes from 1 MiB (${MIN_HEADROOM}) to 16 GiB (${MAX_HEADROOM}), not ${headroomBytes}; leave it out for the default 64 MiB`,
    );
  }
  if (!isMainThread) {
    throw new Error(
      "keepHeapHeadroom: call it from the main thread; the V8 setting it changes is shared by every thread of the process",
    );
  }
  headroom = headroomBytes;
  percent = -1;
  setGrowingPercent();
  if (observer === null) {
    // After every collection, not only full ones: a heap that grows between two full collections (start-up,
    // a burst of connections) is read at each scavenge, so the factor in force at the next full collection
    // fits the heap it is applied to.
    observer = new PerformanceObserver(setGrowingPercent);
    observer.observe({ entryTypes: ["gc"] });
  }
  const mine = ++generation;
  return () => {
    if (mine !== generation || observer === null) return;
    observer.disconnect();
    observer = null;
    percent = -1;
    setFlagsFromString(`--heap-growing-percent=${commandLineGrowingPercent(process.execArgv)}`);
  };
}
