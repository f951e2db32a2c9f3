// The arithmetic of keepHeapHeadroom() (index.ts), apart so that it can be tested without touching V8.

const MiB = 1024 * 1024;

/**
 * Heaps are taken as at least this large. V8 starts incremental marking on its limit only past 8 MB, so a
 * smaller heap is not what the headroom is for; and the percentage set now is applied to whatever the heap
 * is at the next Mark-Compact, so a heap that grows fast after a small reading would get a huge factor from
 * it (a factor of at most 9 with the default headroom).
 */
const SMALLEST_HEAP = 8 * MiB;

/**
 * V8's --heap-growing-percent for a live heap of `liveBytes`, so that the limit V8 sets after a Mark-Compact,
 * live × (1 + percent / 100), is at least live + `headroomBytes`. 0 (V8's own factor) for heaps of
 * `headroomBytes` or more, where a fixed factor could collect more often than V8 would choose to.
 */
export function growingPercentFor(liveBytes: number, headroomBytes: number): number {
  if (liveBytes >= headroomBytes) return 0;
  return Math.ceil((100 * headroomBytes) / Math.max(liveBytes, SMALLEST_HEAP));
}

/** The --heap-growing-percent given to node on its command line, if any (0: V8's own factor). */
export function commandLineGrowingPercent(execArgv: readonly string[]): number {
  let percent = 0;
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    const match = /^--heap[-_]growing[-_]percent(?:=(.*))?$/.exec(arg);
    if (match === null) continue;
    const value = match[1] ?? execArgv[i + 1];
    const parsed = Number(value);
    if (Number.isInteger(parsed) && parsed >= 0) percent = parsed;
  }
  return percent;
}
