import type { WebSocket } from "../index.js";

// How many lines each chat member may say: a token bucket per member (`--chat-rate`, lines per second, bursts
// of twice that). The connection's own rate limit (--rate-limit, frames per second) lets a member send 100
// lines a second, and every line is written to every member: 100 members flooding a room made 10,000 lines a
// second to fan out to each of the others, which `serve --workers` could not relay (lines delayed by tens of
// seconds, workers killed at their IPC bound: the attack review). People say a few lines a second at most.

export class ChatLineRate {
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly buckets = new WeakMap<WebSocket, { tokens: number; at: number }>();

  /** `perSecond` 0: no limit. */
  constructor(perSecond: number) {
    this.perSecond = perSecond;
    this.burst = Math.max(1, 2 * perSecond);
  }

  get limit(): number {
    return this.perSecond;
  }

  /** Whether `member` may say a line now (it is counted if so). */
  allow(member: WebSocket, now = performance.now()): boolean {
    if (this.perSecond === 0) return true;
    let bucket = this.buckets.get(member);
    if (bucket === undefined) this.buckets.set(member, (bucket = { tokens: this.burst, at: now }));
    else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }
}
