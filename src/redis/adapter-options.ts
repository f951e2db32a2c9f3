// The options, counters and errors of RedisAdapter (index.ts), and the node-redis client shape it needs.
import type { RedisClientOptions, RedisClusterOptions } from "redis";
import type { RedisClusterLike } from "./cluster.js";

/** The parts of a node-redis client this adapter uses. */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** A new client with the same options (the adapter subscribes on one). */
  duplicate(overrides?: { disableOfflineQueue?: boolean }): RedisClientLike;
  /** Redis PUBLISH. */
  publish(channel: string, message: Buffer): Promise<unknown>;
  /** Redis SUBSCRIBE, with messages as Buffers. */
  subscribe(
    channels: string | string[],
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<void>;
  /** Redis UNSUBSCRIBE (all channels when none is given). */
  unsubscribe(channels?: string | string[]): Promise<void>;
  /** Listens to the client's events (error, ready, end). */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Removes a listener added with on(). */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  off(event: string, listener: (...args: any[]) => void): unknown;
  /** Closes the connection once pending commands are answered. */
  close(): Promise<void>;
  /** Closes the connection at once. */
  destroy(): void;
  /** Redis PING (the heartbeat of the connections the adapter makes: pingIntervalMs). */
  ping?(): Promise<unknown>;
}

/**
 * How a RedisAdapter reaches Redis: a `url`, or a `client` of your own; or, for a Redis Cluster (sharded
 * pub/sub, Redis 7), `cluster` options, or a `clusterClient` of your own.
 */
export interface RedisAdapterOptions {
  /** redis[s]://[[user][:password]@]host[:port][/db]. The adapter makes, connects and closes its clients. */
  url?: string;
  /** More createClient() options when `url` is given (TLS, credentials, reconnectStrategy…). */
  clientOptions?: RedisClientOptions;
  /**
   * Instead of `url`: your own node-redis client, used to PUBLISH; the adapter subscribes on a duplicate()
   * of it. The adapter connects it if it is not open, and never closes it.
   */
  client?: RedisClientLike;
  /**
   * Instead of `url`: a Redis Cluster, as node-redis createCluster() options, e.g.
   * `{ rootNodes: [{ url: "redis://10.0.0.1:6379" }, { url: "redis://10.0.0.2:6379" }] }`. Topics go over
   * sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7): each topic's channel lives on the master that owns its
   * hash slot. The adapter makes, connects and closes its cluster clients.
   */
  cluster?: RedisClusterOptions;
  /**
   * Instead of `url`: your own node-redis cluster client (createCluster()), used to SPUBLISH; the adapter
   * subscribes on a duplicate() of it. The adapter connects it if it is not open, and never closes it.
   */
  clusterClient?: RedisClusterLike;
  /** Prefix of the Redis channel of each topic. Default "sockjet:". */
  prefix?: string;
  /**
   * Longest wait for Redis to answer a publish, subscribe or unsubscribe; then it fails (a publish is
   * counted in publishFailed). A Redis that stops answering (frozen, overloaded) without dropping the
   * connection would otherwise hold every call, and whoever waits for it, for as long. Default 5000.
   */
  commandTimeoutMs?: number;
  /**
   * Most memory held by publishes sent to Redis and not answered yet (a frozen or overloaded Redis), counted
   * as ~5 KiB per publish plus 2 copies of its message. Past it, once the oldest has waited a second (Redis
   * lags), a publish fails at once with RedisBacklogError (counted in publishFailed); a burst to a Redis that
   * keeps up is not refused. A timed-out publish still counts until Redis answers it or the connection drops
   * (commandTimeoutMs fails the call, not a command already written). On a cluster the bytes are counted
   * for all masters together, and whether Redis lags is asked of each publish's own master: a frozen master
   * holds back its own topics, not the others'. A whole number of bytes, or Infinity (no bound). Default
   * 256 MiB.
   */
  maxWaitingPublishBytes?: number;
  /**
   * The adapter PINGs each connection it made (its subscriber, and its publisher when made from `url`) this
   * often; one whose PING, or whose new connection's handshake, goes unanswered for pingIntervalMs (or
   * commandTimeoutMs if longer) is dropped and made again, with one 'disconnect' and one error, then 'ready'.
   * A dead network path (a silent peer or proxy, a failover that blackholes the old address) would otherwise
   * keep a connection that carries nothing until TCP gives up, ~15 minutes on Linux, or forever behind a
   * proxy: every publish failing, and no message from other processes, without a sign. A Redis that stalls
   * that long is dropped the same way. Not done on a cluster, nor for your own `client` (the subscriber the
   * adapter makes from it is pinged). 0: no heartbeat; else 1 to 2^31 − 1. Default 10000 (a dead path is found
   * 10–20 s after it died).
   */
  pingIntervalMs?: number;
}

/** Counters of one RedisAdapter (`adapter.stats`). */
export interface RedisAdapterStats {
  /** Publishes Redis accepted. */
  published: number;
  /**
   * Publishes rejected: Redis unreachable, the connection lost before its reply, no reply within
   * commandTimeoutMs, or refused at once past maxWaitingPublishBytes (RedisBacklogError).
   */
  publishFailed: number;
  /** Messages from other processes handed to the server. */
  received: number;
  /** Own publishes coming back from Redis, skipped. */
  skippedOwn: number;
  /** Messages on our channels that are not in our format. */
  malformed: number;
  /** Times the connection to Redis came back after being lost. */
  reconnects: number;
  /** Publishes sent to Redis and not answered yet, and the bytes they are counted for (maxWaitingPublishBytes). */
  waitingPublishes: number;
  waitingPublishBytes: number;
}

/** Raised when Redis does not answer within commandTimeoutMs. */
export class RedisTimeoutError extends Error {
  readonly code = "SJ_ERR_REDIS_TIMEOUT";
  /** `unsent`: node-redis dropped the command before writing it (its own timeout), with its error. */
  constructor(what: string, ms: number, unsent?: { message: string; cause: unknown }) {
    super(unsent?.message ?? `Redis did not answer ${what} within ${ms} ms`, { cause: unsent?.cause });
    this.name = "RedisTimeoutError";
  }
}

/** Raised by publish() while the publishes waiting for Redis's answer hold maxWaitingPublishBytes and it lags. */
export class RedisBacklogError extends Error {
  readonly code = "SJ_ERR_REDIS_BACKLOG";
  /**
   * `master`: on a cluster, the address of the master that lags. `of`: what waits (the store's appends use
   * their own words).
   */
  constructor(
    waiting: number,
    limit: number,
    master = "",
    of = { commands: "publishes", option: "maxWaitingPublishBytes", lost: "published to other processes" },
  ) {
    const commands = waiting === 1 ? of.commands.replace(/es$|s$/, "") : of.commands;
    const redis = master === "" ? "Redis" : `Redis (the master ${master})`;
    super(
      `${waiting} ${commands} wait for ${redis} to answer, past ${of.option} (${mebibytes(limit)}), and ` +
        `the oldest for over a second: this one was not ${of.lost}. Redis is slow or not answering: check ` +
        `it, or raise ${of.option} if it keeps up and your bursts are larger`,
    );
    this.name = "RedisBacklogError";
  }
}

function mebibytes(bytes: number): string {
  return bytes === Number.POSITIVE_INFINITY
    ? "Infinity"
    : `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}

/** Raised by publish() while Redis is unreachable. */
export class RedisUnavailableError extends Error {
  readonly code = "SJ_ERR_REDIS_UNAVAILABLE";
  constructor() {
    super("Redis is not connected: the message was not published to other processes");
    this.name = "RedisUnavailableError";
  }
}
