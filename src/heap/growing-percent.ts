// The arithmetic of keepHeapHeadroom() (index.ts), apart so that it can be tested without touching V8.

const MiB = 1024 * 1024;

/**
 * V8's --heap-growing-percent for a live heap of `liveBytes`, so that the limit V8 sets after a Mark-Compact,
 * live × (1 + percent / 100), is at least live + `headroomBytes`. 0 (V8's own factor) for heaps of
 * `headroomBytes` or more, where a fixed factor could collect more often than V8 would choose to. A heap
 * under 1 MiB counts as 1 MiB, which bounds the factor.
 */
export function growingPercentFor(liveBytes: number, headroomBytes: number): number {
  if (liveBytes >= headroomBytes) return 0;
  return Math.ceil((100 * headroomBytes) / Math.max(liveBytes, MiB));
}
