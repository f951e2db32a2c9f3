// What publishes waiting for Redis's answer hold in memory, and the bound on it (RedisAdapter's
// maxWaitingPublishBytes, RedisStreamStore's maxWaitingAppendBytes for its appends). A Redis that stops answering without dropping the connection (frozen, paused,
// overloaded) keeps every PUBLISH sent to it in node-redis's queue until it answers: the adapter's own
// commandTimeoutMs fails the call, not the command, whose memory stays until Redis answers or the connection
// drops. Without a bound, a server publishing ~25,000 messages of 100 B a second to a frozen Redis reached a
// heap of 874 MiB and an RSS of 1.7 GiB within 15 s; with the default bound, 293 MiB and 709 MiB.

/**
 * What one waiting publish holds beyond its message, measured on Node 20 with node-redis 6.3 against a frozen
 * redis-server (20,000 publishes of 100 B and of 1,000 B, 5,000 of 16 KiB): 4.1–5.3 KB of heap per
 * command (the command, its promises, our timer), and about 4 copies of the message outside the heap (ours,
 * node-redis's encoding, the socket's buffer, the caller's). A RedisStreamStore append: 4.7–5.0 KB of heap
 * and 2 copies.
 */
const OVERHEAD_BYTES = 4096;
const MESSAGE_COPIES = 4;

/** RedisAdapter's maxWaitingPublishBytes unless given: ~58,000 waiting publishes of 100 bytes. */
export const DEFAULT_MAX_WAITING_PUBLISH_BYTES = 256 * 1024 * 1024;

/** A maxWaiting…Bytes option: a number above 0 (Infinity: no bound), else a RangeError naming `option`. */
export function waitingPublishLimit(value: unknown, option: string): number {
  if (value === undefined) return DEFAULT_MAX_WAITING_PUBLISH_BYTES;
  if (typeof value !== "number" || !(value > 0))
    throw new RangeError(`${option} must be a number above 0 (or Infinity), not ${String(value)}`);
  return value;
}

/** The memory a publish of an `encodedBytes` message is counted for while it waits. */
export function waitingPublishCost(encodedBytes: number): number {
  return OVERHEAD_BYTES + MESSAGE_COPIES * encodedBytes;
}

/** Bytes of publishes sent to Redis and not answered yet (nor failed with the connection). */
export class WaitingPublishes {
  private bytes = 0;
  private count = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Publishes waiting, and the bytes they are counted for. */
  get waiting(): { publishes: number; bytes: number } {
    return { publishes: this.count, bytes: this.bytes };
  }

  /** Whether a publish costing `cost` may be sent now: always when none waits, however large it is. */
  admits(cost: number): boolean {
    return this.count === 0 || this.bytes + cost <= this.limit;
  }

  /** Counts `command` (costing `cost`) until Redis answers it or it fails with the connection. */
  track(cost: number, command: Promise<unknown>): void {
    this.bytes += cost;
    this.count++;
    const settled = () => {
      this.bytes -= cost;
      this.count--;
    };
    command.then(settled, settled);
  }
}
