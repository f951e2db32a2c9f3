// The options of RedisStreamStore (stream-store.ts) and the node-redis client shape it needs.
import type { RedisClientOptions } from "redis";
import { RedisBacklogError } from "./adapter-options.js";

/** The parts of a node-redis client the store uses. */
export interface RedisStoreClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** A new client with the same options (the store subscribes on one). */
  duplicate(overrides?: { disableOfflineQueue?: boolean }): RedisStoreClientLike;
  /** Any command; the store asks for bulk strings as Buffers (typeMapping). */
  sendCommand(
    args: (string | Buffer)[],
    options?: { typeMapping?: Record<number, unknown> },
  ): Promise<unknown>;
  /** Redis SUBSCRIBE, with messages as Buffers. */
  subscribe(
    channels: string | string[],
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<void>;
  /** Redis UNSUBSCRIBE. */
  unsubscribe(channels?: string | string[]): Promise<void>;
  /** Redis SSUBSCRIBE (sharded pub/sub, Redis ≥ 7), with messages as Buffers. */
  sSubscribe(
    channels: string | string[],
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<void>;
  /** Redis SUNSUBSCRIBE. */
  sUnsubscribe(channels?: string | string[]): Promise<void>;
  /** Listens to the client's events (error, ready). */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Closes the connection once pending commands are answered. */
  close(): Promise<void>;
  /** Closes the connection at once. */
  destroy(): void;
}

/** How a RedisStreamStore reaches Redis (a `url`, or a `client` of your own), and its limits. */
export interface RedisStreamStoreOptions {
  /** redis[s]://[[user][:password]@]host[:port][/db]. The store makes, connects and closes its clients. */
  url?: string;
  /** More createClient() options when `url` is given. */
  clientOptions?: RedisClientOptions;
  /** Instead of `url`: your own node-redis client (the store subscribes on a duplicate() and never closes it). */
  client?: RedisStoreClientLike;
  /** Prefix of every key and channel; must not contain "{" or "}" (the hash tag follows it). Default "sockjet:". */
  prefix?: string;
  /** Messages kept per topic (XADD MAXLEN ~: at least this many, a little more between trims). Default 1000. */
  maxMessagesPerTopic?: number;
  /** A topic's stream is dropped this long after its last message (PEXPIRE); 0 keeps it. Default 86400000. */
  streamTtlMs?: number;
  /**
   * How long a taken session id stays remembered, so that a save from a stale connection of a session that
   * was resumed elsewhere is ignored (the ResumeStore contract). Default 600000.
   */
  takenSessionTtlMs?: number;
  /** SPUBLISH/SSUBSCRIBE (Redis ≥ 7, sharded pub/sub for Redis Cluster) instead of PUBLISH/SUBSCRIBE. Default false. */
  sharded?: boolean;
  /** Longest wait for Redis to answer any command; then it fails with RedisTimeoutError. Default 5000. */
  commandTimeoutMs?: number;
  /**
   * Most memory held by appends sent to Redis and not answered yet (a frozen or overloaded Redis), counted as
   * ~5 KiB per append plus 2 copies of its message. Past it, once the oldest has waited a second (Redis lags),
   * an append fails at once with RedisStoreBacklogError; a burst to a Redis that keeps up is not refused. A
   * timed-out append still counts until Redis answers it or the connection drops. On a cluster the bytes are
   * counted together and the age per master: a frozen master holds back only its own topics. A whole number
   * of bytes, or Infinity (no bound). Default 256 MiB.
   */
  maxWaitingAppendBytes?: number;
  /**
   * The store PINGs each connection it made from `url` (and its subscriber on your own single-node `client`)
   * this often; one whose PING or handshake goes unanswered for pingIntervalMs (or commandTimeoutMs if longer)
   * is dropped and made again (an error is reported, and what was published meanwhile is read back). A dead
   * network path would otherwise keep a connection that carries nothing until TCP gives up (~15 minutes on
   * Linux). Not done with `sharded`. 0: no heartbeat; else 1 to 2^31 − 1. Default 10000.
   */
  pingIntervalMs?: number;
}

/** Raised when a store command is attempted while Redis is unreachable. */
export class RedisStoreUnavailableError extends Error {
  readonly code = "SJ_ERR_REDIS_UNAVAILABLE";
  constructor(what: string) {
    super(`Redis is not connected: could not ${what}`);
    this.name = "RedisStoreUnavailableError";
  }
}

/** Raised by append() while the appends waiting for Redis's answer hold maxWaitingAppendBytes and it lags. */
export class RedisStoreBacklogError extends RedisBacklogError {
  constructor(waitingAppends: number, limit: number, master = "") {
    super(waitingAppends, limit, master, {
      commands: "appends",
      option: "maxWaitingAppendBytes",
      lost: "stored",
    });
    this.name = "RedisStoreBacklogError";
  }
}

export function positiveInteger(
  value: number | undefined,
  fallback: number,
  name: string,
  zeroAllowed = false,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1))
    throw new TypeError(
      `RedisStreamStore: options.${name} must be a ${zeroAllowed ? "non-negative" : "positive"} integer`,
    );
  return value;
}
