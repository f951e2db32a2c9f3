import { TokenBucket } from "../connection/token-bucket.js";
import type { WebSocket } from "../index.js";
import type { ChatAddressLevel } from "./chat-address.js";

// How many lines chat members may say: token buckets (`--chat-rate`, lines per second, bursts of twice that),
// one per member and one per remote address. The connection's own rate limit (--rate-limit, frames per
// second) lets a member send 100 lines a second, and every line is written to every member: 100 members
// flooding a room made 10,000 lines a second to fan out to each of the others, which `serve --workers` could
// not relay (lines delayed by tens of seconds, workers killed at their IPC bound: the attack review). People
// say a few lines a second at most. The address's bucket (ADDRESS_SHARE members' worth) outlives its members:
// without it, leaving and joining again gave a fresh burst each time (11,232 lines a second from one address:
// review of the first version).

/** An address's members share this many members' lines. */
const ADDRESS_SHARE = 4;
/** Addresses remembered at most; past it, those whose bucket has refilled are forgotten. */
const MAX_ADDRESSES = 10_000;

/** A bucket and when it was last refilled. */
interface Bucket {
  tokens: TokenBucket;
  at: number;
}

export class ChatLineRate {
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly members = new WeakMap<WebSocket, Bucket>();
  private readonly addresses = new Map<string, Bucket>();

  /** `perSecond` 0: no limit. */
  constructor(perSecond: number) {
    this.perSecond = perSecond;
    this.burst = Math.max(1, 2 * perSecond);
  }

  get limit(): number {
    return this.perSecond;
  }

  /**
   * Whether `member` (counted under the address levels `levels`: chat-address.ts) may say a line now; if so
   * it is counted in its own bucket and in each level's.
   */
  allow(member: WebSocket, levels: ChatAddressLevel[], now = performance.now()): boolean {
    if (this.perSecond === 0) return true;
    let mine = this.members.get(member);
    if (mine === undefined) {
      mine = { tokens: new TokenBucket(this.perSecond, this.burst), at: now };
      this.members.set(member, mine);
    }
    refill(mine, now);
    const shared = levels.map((level) => this.addressBucket(level, now));
    if (!mine.tokens.allows(1) || shared.some((bucket) => !bucket.tokens.allows(1))) return false;
    mine.tokens.level--;
    for (const bucket of shared) bucket.tokens.level--;
    return true;
  }

  /** The bucket of an address level (ADDRESS_SHARE members' worth, times the level's share), refilled. */
  private addressBucket(level: ChatAddressLevel, now: number): Bucket {
    let bucket = this.addresses.get(level.key);
    if (bucket === undefined) {
      if (this.addresses.size >= MAX_ADDRESSES) this.forgetRefilled(now);
      const share = ADDRESS_SHARE * level.share;
      bucket = { tokens: new TokenBucket(share * this.perSecond, share * this.burst), at: now };
      this.addresses.set(level.key, bucket);
    }
    refill(bucket, now);
    return bucket;
  }

  /** Drops the addresses whose bucket is full again (nothing to remember), or all if none is. */
  private forgetRefilled(now: number): void {
    const refillMs = (1000 * this.burst) / this.perSecond;
    for (const [address, bucket] of this.addresses)
      if (now - bucket.at >= refillMs) this.addresses.delete(address);
    if (this.addresses.size >= MAX_ADDRESSES) this.addresses.clear();
  }
}

function refill(bucket: Bucket, now: number): void {
  bucket.tokens.refill(now - bucket.at);
  bucket.at = now;
}
