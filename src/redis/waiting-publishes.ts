// What publishes waiting for Redis's answer hold in memory, and the bound on it (RedisAdapter's
// maxWaitingPublishBytes, RedisStreamStore's maxWaitingAppendBytes for its appends). A Redis that stops
// answering without dropping the connection (frozen, paused, overloaded) keeps every command written to it in
// node-redis's queue until it answers: the adapter's commandTimeoutMs fails the call, not the command, whose
// memory stays until Redis answers or the connection drops. Without a bound, a server publishing ~25,000
// messages of 100 B a second to a frozen Redis reached a heap of 874 MiB and an RSS of 1.7 GiB within 15 s.
//
// The bound refuses only while Redis lags: past it, a publish is refused once the oldest one waiting has
// waited LAGGING_MS since the event loop turned after it (when node-redis writes it). A burst of one turn to a
// Redis that answers (it drains 58,000 small publishes in ~0.5 s) is not refused, however large; a frozen
// Redis holds the process to the bound plus what it publishes in LAGGING_MS (a review measured 1.47 GiB
// counted at 1,000 publishes of 1 MiB a second, 257 MiB once the second had passed).

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
 * bound). Not a number: TypeError; out of range: RangeError (Node's own convention for options).
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
 * The publishes tracked in one turn of the event loop, per group, until the loop turns: node-redis writes
 * them then, so their age starts then (a long synchronous turn must not make Redis look slow before it
 * could see a byte). `at`: when the loop turned.
 */
interface Turn {
  at: number | undefined;
  counts: Map<string, number>;
}

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
  private turn: Turn | null = null;
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
  track(cost: number, command: Promise<unknown>, group = ""): void {
    const turn = this.currentTurn();
    turn.counts.set(group, (turn.counts.get(group) ?? 0) + 1);
    this.bytes += cost;
    this.count++;
    const settled = () => {
      if (turn.at === undefined) addTo(turn.counts, group, -1);
      else this.addSent(group, Math.floor(turn.at / BUCKET_MS), -1);
      this.bytes -= cost;
      this.count--;
    };
    command.then(settled, settled);
  }

  private currentTurn(): Turn {
    if (this.turn !== null) return this.turn;
    const turn: Turn = { at: undefined, counts: new Map() };
    this.turn = turn;
    setImmediate(() => {
      this.turn = null;
      turn.at = performance.now();
      const bucket = Math.floor(turn.at / BUCKET_MS);
      for (const [group, count] of turn.counts) if (count > 0) this.addSent(group, bucket, count);
    });
    return turn;
  }

  /** Adds `n` (negative: takes) to `group`'s publishes sent in `bucket`; empty buckets and groups go. */
  private addSent(group: string, bucket: number, n: number): void {
    let buckets = this.sentIn.get(group);
    if (buckets === undefined) {
      buckets = new Map();
      this.sentIn.set(group, buckets);
    }
    addTo(buckets, bucket, n);
    if (buckets.size === 0) this.sentIn.delete(group);
  }

  /** Whether `group`'s oldest publish still waiting was sent LAGGING_MS ago or more (to within BUCKET_MS). */
  private lagging(group: string, now: number): boolean {
    const oldest = this.sentIn.get(group)?.keys().next();
    return oldest !== undefined && !oldest.done && now - (oldest.value + 1) * BUCKET_MS >= LAGGING_MS;
  }
}

/** Adds `n` to `key`'s count in `counts`, deleting it at 0. */
function addTo<K>(counts: Map<K, number>, key: K, n: number): void {
  const count = (counts.get(key) ?? 0) + n;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}
