// A PING on each of sockjet's own Redis connections every pingIntervalMs; a connection whose PING is not
// answered within the heartbeat's limit (pingIntervalMs, or commandTimeoutMs if longer), or whose handshake
// is not (TCP connected, node-redis's HELLO/CLIENT SETINFO unanswered: node-redis has no timeout for it), is
// dropped and connected again. A dead network path (a peer or proxy gone silent, a failover that blackholes
// the old address) keeps a TCP connection open while nothing crosses it: TCP itself gives up only after its
// retransmissions (~15 minutes on Linux, tcp_retries2) or, for an idle connection, its keep-alive probes
// (~11 minutes), or never behind a proxy that still acknowledges. Until then every publish would time out or
// be refused, and a subscriber would miss every message without a sign.
//
// Redis answers a PING in order, behind everything sent before it: a PING unanswered for commandTimeoutMs
// means that everything sent before it has failed for its callers already. What Redis received may still
// run when it answers again (a stalled Redis is not told apart from a dead path: a stall longer than the
// limit costs a subscriber what is published while it reconnects); commands node-redis still held are failed
// at once with the connection.

import { RedisTimeoutError } from "./adapter-options.js";

/** What the heartbeat needs of a node-redis client. */
export interface PingableClient {
  readonly isReady: boolean;
  ping(): Promise<unknown>;
  /** 'connect' (TCP connected, handshake begins), 'ready' (handshake done), 'error', 'end'. */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** The default of pingIntervalMs. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;

/** setInterval's longest delay: a longer one is taken as 1 ms (Node's TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The pingIntervalMs option (`option` names it in the error): 0 (no heartbeat), or milliseconds from 1 to
 * 2^31 − 1 (setInterval's limit). Not a number: TypeError; out of range: RangeError.
 */
export function pingInterval(value: unknown, option: string): number {
  if (value === undefined) return DEFAULT_PING_INTERVAL_MS;
  if (typeof value !== "number")
    throw new TypeError(
      `${option} must be a number of milliseconds, not ${value === null ? "null" : `a value of type ${typeof value}`}`,
    );
  if (!(value === 0 || (value >= 1 && value <= MAX_TIMER_MS)))
    throw new RangeError(
      `${option} must be 0 (no heartbeat) or a number of milliseconds from 1 to ${MAX_TIMER_MS}, not ${value}`,
    );
  return value;
}

/** Why a connection is dropped, and how long it waited. `batch`: the same object for those judged together. */
export interface DeadConnection {
  waitedMs: number;
  /** The handshake of a new connection went unanswered (not a PING). */
  handshake: boolean;
  batch: object;
}

interface Watched {
  client: PingableClient;
  /** The PING in flight, or null. */
  pending: Promise<unknown> | null;
  /** When the PING in flight went out (the loop turned after it: node-redis writes it then). */
  sentAt: number;
  /** When its TCP connection opened and the handshake began; undefined once ready, or lost. */
  handshakeSince: number | undefined;
  dead: (why: DeadConnection) => void;
}

/**
 * Pings the clients it watches (those that are ready) every `intervalMs`, and hands one whose PING or
 * handshake has waited `limitMs` to its `dead` callback, which drops it.
 */
export class RedisHeartbeat {
  private readonly watched: Watched[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The timers that judge the PINGs sent. */
  private readonly judging = new Set<NodeJS.Timeout>();
  private stopped = false;
  readonly intervalMs: number;
  readonly limitMs: number;

  /** `intervalMs` 0: no heartbeat. `limitMs`: at least `intervalMs`. */
  constructor(intervalMs: number, limitMs: number) {
    this.intervalMs = intervalMs;
    this.limitMs = Math.max(intervalMs, limitMs);
  }

  /** Watches `client` from now on (before it connects, so that its handshake is seen). */
  watch(client: PingableClient, dead: (why: DeadConnection) => void): void {
    if (this.intervalMs === 0 || this.stopped) return;
    const watched: Watched = { client, pending: null, sentAt: 0, handshakeSince: undefined, dead };
    this.watched.push(watched);
    client.on("connect", () => {
      watched.handshakeSince = performance.now();
    });
    const settled = () => {
      watched.handshakeSince = undefined;
    };
    client.on("ready", settled);
    client.on("error", settled); // node-redis tries again: a new 'connect' starts a new handshake
    client.on("end", settled);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      // The heartbeat alone must not keep the process alive.
      this.timer.unref();
    }
  }

  /** How long `client`'s PING in flight has waited (0: none). */
  unansweredMs(client: PingableClient | undefined): number {
    const watched = this.watched.find((w) => w.client === client);
    return watched?.pending == null ? 0 : performance.now() - watched.sentAt;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const timer of this.judging) clearTimeout(timer);
    this.judging.clear();
    // `watched` stays: close() asks unansweredMs() after stopping.
  }

  private tick(): void {
    const now = performance.now();
    const sent: [Watched, Promise<unknown>][] = [];
    const stuck: Watched[] = [];
    for (const watched of this.watched) {
      const since = watched.handshakeSince;
      if (since !== undefined && !watched.client.isReady) {
        if (now - since >= this.limitMs) stuck.push(watched);
      } else if (watched.pending === null && watched.client.isReady) {
        const pong = this.ping(watched);
        if (pong !== null) sent.push([watched, pong]);
      }
    }
    if (stuck.length > 0) this.judgeHandshakes(stuck);
    if (sent.length > 0)
      setImmediate(() => {
        if (this.stopped) return;
        // One time for all the PINGs of a tick, so that connections on one dead path are judged together.
        const sentAt = performance.now();
        for (const [watched, pong] of sent) if (watched.pending === pong) watched.sentAt = sentAt;
        const timer = setTimeout(() => {
          this.judging.delete(timer);
          this.judgePings(sent, sentAt);
        }, this.limitMs);
        timer.unref();
        this.judging.add(timer);
      });
  }

  private ping(watched: Watched): Promise<unknown> | null {
    let pong: Promise<unknown>;
    try {
      pong = watched.client.ping();
    } catch {
      return null; // not connected after all: the next tick tries again
    }
    watched.pending = pong;
    watched.sentAt = performance.now();
    const answered = () => {
      if (watched.pending === pong) watched.pending = null;
    };
    // A PING that fails (the connection dropped) is answered as far as the heartbeat cares.
    pong.then(answered, answered);
    return pong;
  }

  /**
   * Decides after this turn's poll phase: timers run before it, so after a long synchronous turn the answer
   * may be in the socket, unread. Still unanswered then: the connection is dead.
   */
  private judgePings(sent: [Watched, Promise<unknown>][], sentAt: number): void {
    setImmediate(() => {
      if (this.stopped) return;
      const batch = {};
      const waitedMs = Math.round(performance.now() - sentAt);
      for (const [watched, pong] of sent) {
        if (watched.pending !== pong) continue;
        watched.pending = null;
        watched.dead({ waitedMs, handshake: false, batch });
      }
    });
  }

  private judgeHandshakes(stuck: Watched[]): void {
    const since = stuck.map((watched) => watched.handshakeSince);
    setImmediate(() => {
      if (this.stopped) return;
      const batch = {};
      stuck.forEach((watched, i) => {
        if (watched.handshakeSince !== since[i] || watched.client.isReady) return;
        watched.handshakeSince = undefined;
        watched.dead({ waitedMs: Math.round(performance.now() - since[i]!), handshake: true, batch });
      });
    });
  }
}

/** The error reported for a dropped connection: `name` names it ("adapter's publishing"). */
export function deadConnectionError(name: string, why: DeadConnection): RedisTimeoutError {
  const what = why.handshake ? "the handshake of a new connection" : "a PING";
  const message =
    `Redis did not answer ${what} on the ${name} connection for ${why.waitedMs} ms (pingIntervalMs): ` +
    "the network path to Redis may be dead, or Redis stalled; the connection was dropped and is being made again";
  return new RedisTimeoutError(what, why.waitedMs, { message, cause: undefined });
}

/**
 * The error of a command that the drop of its connection failed (node-redis's DisconnectsClientError, "Disconnects
 * client", says nothing of why): `drop` is the error the drop was reported with.
 */
export function droppedCommandError(
  what: string,
  drop: RedisTimeoutError,
  cause: unknown,
): RedisTimeoutError {
  const message = `${what} got no answer: its connection was dropped. ${drop.message}`;
  return new RedisTimeoutError(what, 0, { message, cause });
}
