// What publishes waiting for Redis's answer hold in memory, and the bound on it (RedisAdapter's
// maxWaitingPublishBytes, RedisStreamStore's maxWaitingAppendBytes for its appends). A Redis that stops
// answering without dropping the connection (frozen, paused, overloaded) keeps every command written to it in
// node-redis's queue until it answers: the adapter's commandTimeoutMs fails the call, not the command, whose
// memory stays until Redis answers or the connection drops. Without a bound, a server publishing ~25,000
// messages of 100 B a second to a frozen Redis reached a heap of 874 MiB and an RSS of 1.7 GiB within 15 s.
//
// The bound refuses only while Redis lags: past it, a publish is refused once the oldest one waiting has
// waited LAGGING_MS. A burst of one turn of the event loop to a Redis that answers (it drains 58,000 small
// publishes in ~0.5 s) is never refused, however large; a frozen Redis is held to the bound plus what is
// published in LAGGING_MS.

/**
 * What one waiting publish holds beyond its message, measured on Node 20 with node-redis 6.3 against a frozen
 * redis-server (publishes and appends of 100 B to 1 MiB): 4.1–5.4 KB of heap per command (the command, its
 * promises, our timer), and 2 copies of the message (ours and node-redis's encoding or socket buffer).
 */
const OVERHEAD_BYTES = 5 * 1024;
const MESSAGE_COPIES = 2;

/** How long the oldest waiting publish must have waited for Redis to count as lagging. */
export const LAGGING_MS = 1000;

/** The default of maxWaitingPublishBytes and maxWaitingAppendBytes: ~48,000 waiting publishes of 100 bytes. */
export const DEFAULT_MAX_WAITING_PUBLISH_BYTES = 256 * 1024 * 1024;

/**
 * A maxWaiting…Bytes option (`option` names it in the error): a whole number of bytes ≥ 1 or Infinity (no
 * bound). Not a number: TypeError; out of range: RangeError (WebIDL's conversions and [EnforceRange]).
 */
export function waitingPublishLimit(value: unknown, option: string): number {
  if (value === undefined) return DEFAULT_MAX_WAITING_PUBLISH_BYTES;
  const leaveOut = "; leave it out for the default 256 MiB";
  if (typeof value !== "number")
    throw new TypeError(`${option} must be a number of bytes, not ${describe(value)}${leaveOut}`);
  if (!(value >= 1) || !(Number.isInteger(value) || value === Number.POSITIVE_INFINITY))
    throw new RangeError(
      `${option} must be a whole number of bytes ≥ 1 or Infinity, not ${value}${leaveOut}`,
    );
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** The memory a publish of a `messageBytes` message is counted for while it waits. */
export function waitingPublishCost(messageBytes: number): number {
  return OVERHEAD_BYTES + MESSAGE_COPIES * messageBytes;
}

/** Publishes are counted by when they were sent, to this precision (the oldest is looked up in O(1)). */
const BUCKET_MS = 50;

/**
 * Publishes sent to Redis and not answered yet (nor failed with the connection), and their bound. On a
 * cluster each publish belongs to the master it waits on (`group`): the bytes are counted together, but
 * whether Redis lags is asked of the publish's own master, so a frozen master does not hold back the others.
 */
export class WaitingPublishes {
  private bytes = 0;
  private count = 0;
  /**
   * Per group, waiting publishes per BUCKET_MS of their sending, oldest first (buckets are added in time
   * order and removed when empty): not a queue of publishes, as different masters answer out of order.
   */
  private readonly sentIn = new Map<string, Map<number, number>>();
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Publishes waiting, and the bytes they are counted for. */
  get waiting(): { publishes: number; bytes: number } {
    return { publishes: this.count, bytes: this.bytes };
  }

  /** Whether a publish to `group` may be sent now: below the bound, or past it while that group answers. */
  admits(group = "", now = performance.now()): boolean {
    return this.bytes < this.limit || !this.lagging(group, now);
  }

  /** Counts `command` (costing `cost`, sent to `group`) until Redis answers it or it fails with the connection. */
  track(cost: number, command: Promise<unknown>, group = "", now = performance.now()): void {
    const bucket = Math.floor(now / BUCKET_MS);
    let buckets = this.sentIn.get(group);
    if (buckets === undefined) {
      buckets = new Map();
      this.sentIn.set(group, buckets);
    }
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
    this.bytes += cost;
    this.count++;
    const settled = () => {
      const left = (buckets.get(bucket) ?? 1) - 1;
      if (left > 0) buckets.set(bucket, left);
      else {
        buckets.delete(bucket);
        if (buckets.size === 0 && this.sentIn.get(group) === buckets) this.sentIn.delete(group);
      }
      this.bytes -= cost;
      this.count--;
    };
    command.then(settled, settled);
  }

  /** Whether `group`'s oldest publish still waiting was sent LAGGING_MS ago or more (to within BUCKET_MS). */
  private lagging(group: string, now: number): boolean {
    const oldest = this.sentIn.get(group)?.keys().next();
    return oldest !== undefined && !oldest.done && now - (oldest.value + 1) * BUCKET_MS >= LAGGING_MS;
  }
}
