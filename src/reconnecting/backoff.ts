// When to try again: exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
// Jitter", 2015): the n-th retry waits a random time in [0, min(cap, base × 2^n)). Spreading retries over
// the whole window keeps a crowd of clients dropped at once (a server restart) from returning at once.

/** The delay before retry number `retry` (0 for the first), in whole ms. `random` returns [0, 1). */
export function backoffDelayMs(
  retry: number,
  initialDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(retry, 52));
  const r = random();
  // A random source outside [0, 1) would make the delay negative or past the cap.
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}
