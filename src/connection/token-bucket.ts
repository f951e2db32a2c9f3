// A token bucket: the rate limiter's frames and bytes (rate-limit.ts), and `sockjet serve`'s chat lines.

/** Tokens that refill at `perMs` up to `size`; `level` may go below 0 (debt) after an oversized frame. */
export class TokenBucket {
  level: number;
  readonly size: number;
  private readonly perMs: number;

  constructor(perSecond: number, size: number) {
    this.size = size;
    this.level = size;
    this.perMs = perSecond / 1000;
  }

  refill(elapsedMs: number): void {
    this.level = Math.min(this.size, this.level + elapsedMs * this.perMs);
  }

  /** Whether `cost` may be taken now: all of it, or (a cost larger than the bucket) a full bucket. */
  allows(cost: number): boolean {
    return this.level >= Math.min(cost, this.size);
  }

  /** Milliseconds until `allows(cost)` holds. */
  waitMs(cost: number): number {
    const missing = Math.min(cost, this.size) - this.level;
    return missing <= 0 ? 0 : missing / this.perMs;
  }
}
