import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { growingPercentFor } from "./growing-percent.js";

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
// set once V8 runs; the growing factor can, so it is set again after every Mark-Compact, for a next limit of
// at least the live heap plus the headroom (docs/ARCHITECTURE.md, "Large messages and V8's heap limit").
//
// It is a process-wide V8 setting, so the library never makes it by itself: the CLI, which owns its process,
// does, and an application opts in.

/** The headroom keepHeapHeadroom() keeps by default: twice the 32 MB of young ArrayBuffers V8 lets pile up. */
export const DEFAULT_HEAP_HEADROOM = 64 * 1024 * 1024;

/** The largest headroom accepted: 16 GiB (V8's flag is a 32-bit percentage). */
const MAX_HEADROOM = 16 * 1024 * 1024 * 1024;

let observer: PerformanceObserver | null = null;
let headroom = DEFAULT_HEAP_HEADROOM;
let percent = -1;

function setGrowingPercent(): void {
  const next = growingPercentFor(getHeapStatistics().used_heap_size, headroom);
  if (next === percent) return;
  percent = next;
  setFlagsFromString(`--heap-growing-percent=${next}`);
}

function stop(): void {
  if (observer === null) return;
  observer.disconnect();
  observer = null;
  percent = -1;
  // 0: V8 chooses its growing factor itself again.
  setFlagsFromString("--heap-growing-percent=0");
}

/**
 * Keeps at least `headroomBytes` of room above the live JavaScript heap before V8's next full garbage
 * collection (a Mark-Compact), from now until the returned function is called. For processes that send or
 * receive large binary messages (from ~16 KiB) on Node 20: with an application's heap beside it, a 64 KiB
 * echo server ran 2.1× as fast with it (sockjet; `ws` 2.7×), and `sockjet serve` calls it. Heaps of
 * `headroomBytes` or more are left to V8's own rule.
 *
 * This changes a V8 setting of the whole process (`--heap-growing-percent`): call it once, at startup, in
 * the program's entry point, not from a library. Calling it again sets a new headroom. The heap may grow by
 * up to `headroomBytes` more than it would have before V8 collects it.
 *
 * @param headroomBytes bytes of room to keep (default 64 MiB, {@link DEFAULT_HEAP_HEADROOM}).
 * @returns a function that stops it, leaving the growing factor to V8 again.
 * @throws TypeError if `headroomBytes` is not a number; RangeError if it is not between 1 and 16 GiB.
 */
export function keepHeapHeadroom(headroomBytes: number = DEFAULT_HEAP_HEADROOM): () => void {
  if (typeof headroomBytes !== "number") {
    throw new TypeError(
      `keepHeapHeadroom: headroomBytes must be a number of bytes, not ${typeof headroomBytes}`,
    );
  }
  if (!(headroomBytes >= 1 && headroomBytes <= MAX_HEADROOM)) {
    throw new RangeError(
      `keepHeapHeadroom: headroomBytes must be between 1 and ${MAX_HEADROOM}, not ${headroomBytes}`,
    );
  }
  headroom = headroomBytes;
  percent = -1;
  setGrowingPercent();
  if (observer === null) {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        // A "gc" entry's detail says which collection it was (Node ≥ 16).
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) return setGrowingPercent();
      }
    });
    observer.observe({ entryTypes: ["gc"] });
  }
  return stop;
}
