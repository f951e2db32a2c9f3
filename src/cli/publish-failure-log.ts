import { PubSubError } from "../index.js";

// `sockjet serve` with a scale-out adapter or --workers: while publishes cannot be taken (Redis down or
// frozen, or Redis or the cluster primary slower than a flood of them), every publish is an 'error' of the
// server, ~100 a second at a modest rate. The log gets two lines per outage instead (issue 21 item 13); the
// server's `pubsubStats.adapterFailed` counts them all, for metrics.

/**
 * The chat server's failed publishes during a Redis outage, in two log lines instead of one per publish
 * (issue 21 item 13): one when they start, one with their count once a publish gets through again. The count
 * is the server's `pubsubStats.adapterFailed`, for metrics.
 */
export class PublishFailureLog {
  private readonly stats: () => { adapterPublished: number; adapterFailed: number };
  private readonly report: (message: string) => void;
  private readonly checkMs: number;
  /** What publishes go to: "Redis", or "the cluster primary" (--workers). */
  private readonly where: string;
  /**
   * `failed`: the count before it began; `published` and `lastFailed`: the counts at the last check (or its
   * start).
   */
  private outage: {
    since: number;
    published: number;
    failed: number;
    lastFailed: number;
    timer: NodeJS.Timeout;
  } | null = null;

  constructor(
    stats: () => { adapterPublished: number; adapterFailed: number },
    report: (message: string) => void,
    checkMs = 500,
    where = "Redis",
  ) {
    this.stats = stats;
    this.report = report;
    this.checkMs = checkMs;
    this.where = where;
  }

  /** Whether `error` is a failed publish: then it is counted here, and the caller does not log it. */
  take(error: unknown): boolean {
    if (!(error instanceof PubSubError) || error.code !== "SJ_ERR_ADAPTER_PUBLISH") return false;
    if (this.outage !== null) return true;
    const { adapterPublished, adapterFailed } = this.stats();
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    this.report(`chat: publishes do not reach ${this.where} (${cause}); counting them until they do`);
    const timer = setInterval(() => this.check(), this.checkMs);
    timer.unref();
    // This failure is counted already.
    this.outage = {
      since: Date.now(),
      published: adapterPublished,
      failed: adapterFailed - 1,
      lastFailed: adapterFailed,
      timer,
    };
    return true;
  }

  /** Stops watching (the server is closing): an outage still on gets its count now. */
  stop(): void {
    if (this.outage !== null) this.end("at shutdown");
  }

  private check(): void {
    const outage = this.outage;
    if (outage === null) return;
    const { adapterPublished, adapterFailed } = this.stats();
    // Over once publishes get through and none fails for a whole check: an outage in which some get through
    // and others fail (a flood on a slow broker) is one outage, not a pair of lines each time one gets through.
    if (adapterPublished > outage.published && adapterFailed === outage.lastFailed) this.end("");
    else {
      outage.published = adapterPublished;
      outage.lastFailed = adapterFailed;
    }
  }

  private end(when: string): void {
    const outage = this.outage;
    if (outage === null) return;
    this.outage = null;
    clearInterval(outage.timer);
    const failed = this.stats().adapterFailed - outage.failed;
    const seconds = ((Date.now() - outage.since) / 1000).toFixed(1);
    this.report(
      when === ""
        ? `chat: publishes reach ${this.where} again; ${failed} failed in ${seconds} s (one that timed out may still have been stored and reached the other processes)`
        : `chat: ${failed} publish(es) failed in ${seconds} s (${when}; one that timed out may still have been stored and reached the other processes)`,
    );
  }
}
