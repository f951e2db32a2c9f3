// A PING on each of sockjet's own Redis connections every pingIntervalMs, and a connection that leaves one
// unanswered until the next is dropped and connected again. A dead network path (a peer or proxy gone
// silent, a failover that blackholes the old address) keeps a TCP connection open while nothing crosses it:
// TCP itself gives up only after its retransmissions (~15 minutes on Linux, tcp_retries2) or, for an idle
// connection, its keep-alive probes (~11 minutes), or never behind a proxy that still acknowledges. Until
// then every publish would time out or be refused, and a subscriber would miss every message without a
// sign. Redis answers a PING in order behind everything sent before it, so an unanswered PING also means
// nothing sent before it was answered since: what the dropped connection held had already failed for its
// callers (commandTimeoutMs), or is failed now, at once, instead of being run late.

import { RedisTimeoutError } from "./adapter-options.js";

/** What the heartbeat needs of a node-redis client. */
export interface PingableClient {
  readonly isReady: boolean;
  ping(): Promise<unknown>;
}

/** The default of pingIntervalMs: a dead path is found within 10–20 s. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;

/**
 * The pingIntervalMs option (`option` names it in the error): a whole number of milliseconds ≥ 0, 0 for no
 * heartbeat. Not a number: TypeError; out of range: RangeError.
 */
export function pingInterval(value: unknown, option: string): number {
  if (value === undefined) return DEFAULT_PING_INTERVAL_MS;
  if (typeof value !== "number")
    throw new TypeError(`${option} must be a number of milliseconds, not a ${typeof value}`);
  if (!(value >= 0 && Number.isFinite(value)))
    throw new RangeError(
      `${option} must be 0 (no heartbeat) or a finite number of milliseconds above 0, not ${value}`,
    );
  return value;
}

interface Watched {
  client: PingableClient;
  name: string;
  /** The PING in flight, or null. */
  pending: Promise<unknown> | null;
  /** When the event loop turned after that PING was sent (node-redis writes it then); undefined until it has. */
  sentAt: number | undefined;
  /** Drops the connection, which has waited `waitedMs` for its PING. */
  dead: (waitedMs: number) => void;
}

/**
 * Pings the clients it watches (those that are ready) every `intervalMs`; one whose PING has waited a whole
 * interval is handed to its `dead` callback, which drops it.
 */
export class RedisHeartbeat {
  private readonly watched: Watched[] = [];
  private timer: NodeJS.Timeout | null = null;
  readonly intervalMs: number;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** Watches `client` from now on (no heartbeat if the interval is 0); `name` is for the error message. */
  watch(client: PingableClient, name: string, dead: (waitedMs: number) => void): void {
    if (this.intervalMs === 0) return;
    this.watched.push({ client, name, pending: null, sentAt: undefined, dead });
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      // The heartbeat alone must not keep the process alive.
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.watched.length = 0;
  }

  private tick(): void {
    const now = performance.now();
    for (const watched of this.watched) {
      if (watched.pending === null) {
        if (watched.client.isReady) this.ping(watched);
      } else if (watched.sentAt !== undefined && now - watched.sentAt >= this.intervalMs) {
        this.suspect(watched);
      }
    }
  }

  private ping(watched: Watched): void {
    let pong: Promise<unknown>;
    try {
      pong = watched.client.ping();
    } catch {
      return; // not connected after all: the next tick tries again
    }
    watched.pending = pong;
    watched.sentAt = undefined;
    setImmediate(() => {
      if (watched.pending === pong) watched.sentAt = performance.now();
    });
    const answered = () => {
      if (watched.pending === pong) watched.pending = null;
    };
    // A PING that fails (the connection dropped) is answered as far as the heartbeat cares.
    pong.then(answered, answered);
  }

  /**
   * Decides after this turn's poll phase: timers run before it, so after a long synchronous turn the answer
   * may be read but not handled yet. Still unanswered then: the connection is dead.
   */
  private suspect(watched: Watched): void {
    const pong = watched.pending;
    const sentAt = watched.sentAt!;
    setImmediate(() => {
      if (watched.pending !== pong || pong === null) return;
      watched.pending = null;
      watched.dead(Math.round(performance.now() - sentAt));
    });
  }
}

/** The error reported for a dropped connection: `name` names it ("adapter's publishing"). */
export function deadConnectionError(name: string, waitedMs: number): RedisTimeoutError {
  const message =
    `Redis did not answer a PING on the ${name} connection for ${waitedMs} ms (pingIntervalMs): the ` +
    "network path to Redis may be dead, so the connection was dropped and is being made again";
  return new RedisTimeoutError("a PING", waitedMs, { message, cause: undefined });
}
