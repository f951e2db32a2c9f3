import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics, setFlagsFromString } from "node:v8";

// Why the `sockjet` process keeps at least HEADROOM of room above its live heap before V8's next Mark-Compact.
//
// V8 (11, Node 20) counts the ArrayBuffer memory allocated since the last Mark-Compact against the old
// generation's limit, and scavenges only every 32 MB of young ArrayBuffer memory. The limit it sets after a
// Mark-Compact is the live heap times a factor that falls towards 1.1 when the program keeps little: for this
// CLI's ~8 MB heap, 19-36 MB. Large messages allocate ArrayBuffers fast, so that room is used up by buffers
// that are already dead, and in any heap past V8's 8 MB threshold for incremental marking a Mark-Compact
// follows every 10-30 MB of messages: `sockjet serve` echoing 64 KiB did 75 in 2 s and ran at 0.66× the
// library's echo script (whose smaller heap stays under the threshold: 5). `node --initial-old-space-size=64`
// avoids it but cannot be set once V8 runs; the growing factor can, and is set here after every Mark-Compact
// so that the next limit is at least the live heap plus HEADROOM (docs/ARCHITECTURE.md, "Large messages and
// V8's heap limit").
//
// This is a process-wide V8 setting, so only the CLI, which owns its process, makes it; the library never
// does (an application can start node with --initial-old-space-size=64).

/** Room above the live heap: more than the 32 MB of young ArrayBuffers that V8 lets pile up between scavenges. */
const HEADROOM = 64 * 1024 * 1024;

/**
 * V8's --heap-growing-percent for a live heap of `liveBytes`: the limit after a Mark-Compact is then
 * live × (1 + percent / 100) ≥ live + HEADROOM. 0 (V8's own factor) for heaps of HEADROOM or more, where a
 * fixed factor could collect less often than V8 would choose to.
 */
export function growingPercentFor(liveBytes: number): number {
  if (liveBytes >= HEADROOM) return 0;
  return Math.ceil((100 * HEADROOM) / Math.max(liveBytes, 1024 * 1024));
}

let observer: PerformanceObserver | null = null;
let percent = -1;

function setGrowingPercent(): void {
  const next = growingPercentFor(getHeapStatistics().used_heap_size);
  if (next === percent) return;
  percent = next;
  setFlagsFromString(`--heap-growing-percent=${next}`);
}

/** Keeps HEADROOM above the live heap from now on (idempotent); the observer does not keep the process alive. */
export function keepHeapHeadroom(): void {
  if (observer !== null) return;
  setGrowingPercent();
  observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // A "gc" entry's detail says which collection it was (Node ≥ 16).
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) return setGrowingPercent();
    }
  });
  observer.observe({ entryTypes: ["gc"] });
}
