// How often `sockjet serve --workers` restarts dead workers: at most `max` restarts in any window of
// `windowMs`. A worker that crashes at once every time (a bug hit at startup, a full disk) would otherwise
// be forked in a tight loop forever; past the budget serve stops and says why.

export class RestartBudget {
  /** When the restarts of the current window happened, oldest first. */
  private readonly times: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one restart if the window has room for it; false once `max` restarts are in the window. */
  take(): boolean {
    const now = this.now();
    while (this.times.length > 0 && (this.times[0] ?? 0) <= now - this.windowMs) this.times.shift();
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
}
