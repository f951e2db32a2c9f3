/**
 * RedisAdapter: topic publishes across processes over Redis pub/sub (needs the optional peer `redis`).
 * @module sockjet/redis
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
// The official client (`redis`, node-redis), an optional peer dependency: only `sockjet/redis` imports it.
// Chosen over ioredis because it is the client Redis itself maintains and recommends for new projects
// (ioredis is in maintenance mode), it ships its own TypeScript types, its @redis/client core has no
// dependencies, and it resubscribes a connection's channels by itself after a reconnect. What it does not
// do, this adapter adds: re-establishing subscriptions whose SUBSCRIBE failed while Redis was away, and
// failing publishes fast while it is away instead of queueing them for later.
import type { RedisClientOptions, RedisClusterOptions } from "redis";
import type { AdapterMessage, PubSubAdapter } from "../server/adapter.js";
import {
  type RedisAdapterOptions,
  type RedisAdapterStats,
  RedisBacklogError,
  type RedisClientLike,
  RedisUnavailableError,
} from "./adapter-options.js";
import { boundedCall, commandTimeout } from "./bounded-call.js";
import { ChannelQueue } from "./channel-queue.js";
import { masterGroup, ShardedClusterClient } from "./cluster.js";
import { failFastOptions } from "./fail-fast.js";
import { pingInterval } from "./heartbeat.js";
import { createClient, createCluster } from "./node-redis.js";
import { OwnConnections } from "./own-connections.js";
import { WaitingPublishes, waitingPublishCost, waitingPublishLimit } from "./waiting-publishes.js";
import { decodeMessage, encodeMessage, ID_BYTES } from "./wire.js";

export * from "./adapter-options.js";
export type { RedisClusterLike } from "./cluster.js";
export * from "./stream-exports.js";
export { decodeMessage, encodeMessage, HEADER_BYTES, WIRE_VERSION } from "./wire.js";

// A PubSubAdapter over Redis pub/sub (https://redis.io/docs/latest/develop/interact/pubsub/): PUBLISH on one
// connection, SUBSCRIBE on a second (a subscribed RESP2 connection can do nothing else). Redis delivers a
// channel's messages to each subscribed connection in the order one connection published them, which gives
// per-publisher order; each message carries the publishing adapter's id, so a process skips its own
// publishes (it has delivered them locally already).
//
// While Redis is unreachable, publish() rejects at once (the server reports it as an 'error' and counts
// it): such a message reaches the local subscribers but no other process, and is not replayed later. Redis
// pub/sub is at-most-once: a message published while a subscriber connection is down is not delivered to
// it, and a publish whose reply is lost with the connection is reported as failed although Redis may have
// delivered it.

export interface RedisAdapter {
  /** Connected, and every topic subscription is in place (at start and after each reconnect). */
  on(event: "ready", listener: () => void): this;
  /** The connection to Redis was lost; the adapter reconnects by itself. */
  on(event: "disconnect", listener: (error: Error) => void): this;
}

/**
 * Carries topic publishes between processes over Redis pub/sub: pass it as the `adapter` option of each
 * process's WebSocketServer. Needs the `redis` package (node-redis), an optional peer dependency.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed EventEmitter events, as Node's own classes do
export class RedisAdapter extends EventEmitter implements PubSubAdapter {
  /** This adapter's id in every message it publishes. */
  readonly id: Buffer = randomBytes(ID_BYTES);
  /** Settles once connected with the topics subscribed for the first time. */
  readonly ready: Promise<void>;
  readonly prefix: string;
  private readonly commandTimeoutMs: number;
  private readonly waitingPublishes: WaitingPublishes;
  private readonly publisher: RedisClientLike;
  private readonly subscriber: RedisClientLike;
  private readonly ownsPublisher: boolean;
  /** The heartbeat of the connections the adapter made, and their close after close() (own-connections.ts). */
  private readonly own: OwnConnections;
  /** Topics this process wants, whatever the state of the connection. */
  private readonly topics = new Set<string>();
  /** Channels unsubscribed while Redis was away: node-redis would subscribe them again on reconnect. */
  private readonly staleChannels = new Set<string>();
  /** SUBSCRIBE/UNSUBSCRIBE of one channel one at a time (a quick unsubscribe + subscribe must not lose it). */
  private readonly channelQueue = new ChannelQueue();
  private messageHandlers: ((message: AdapterMessage) => void)[] = [];
  private errorHandlers: ((error: Error) => void)[] = [];
  private up = false;
  /** A call timed out and none has been answered since: Redis does not answer. */
  private stalled = false;
  private everUp = false;
  private restored = false;
  private lossReported = false;
  private closed = false;
  private readonly counters: Omit<RedisAdapterStats, "waitingPublishes" | "waitingPublishBytes"> = {
    published: 0,
    publishFailed: 0,
    received: 0,
    skippedOwn: 0,
    malformed: 0,
    reconnects: 0,
  };
  private readonly onChannelMessage = (message: Buffer, channel: Buffer) => this.handle(message, channel);

  constructor(options: RedisAdapterOptions) {
    super();
    const given = [options.url, options.client, options.cluster, options.clusterClient];
    if (given.filter((option) => option !== undefined).length !== 1) {
      throw new TypeError(
        "RedisAdapter needs exactly one of options.url, options.client, options.cluster and options.clusterClient",
      );
    }
    this.prefix = options.prefix ?? "sockjet:";
    // Channels are the prefix followed by the topic: any other type would deliver to the wrong topic.
    if (typeof this.prefix !== "string")
      throw new TypeError("RedisAdapter: options.prefix must be a string.");
    if (options.url !== undefined && typeof options.url !== "string")
      throw new TypeError("RedisAdapter: options.url must be a string, such as redis://localhost:6379.");
    this.commandTimeoutMs = commandTimeout(options.commandTimeoutMs);
    this.waitingPublishes = new WaitingPublishes(
      waitingPublishLimit(options.maxWaitingPublishBytes, "maxWaitingPublishBytes"),
    );
    if (options.clusterClient !== undefined) {
      this.publisher = new ShardedClusterClient(options.clusterClient);
      this.ownsPublisher = false;
    } else if (options.cluster !== undefined) {
      this.publisher = new ShardedClusterClient(createCluster(clusterDefaults(options.cluster)));
      this.ownsPublisher = true;
    } else if (options.client !== undefined) {
      this.publisher = options.client;
      this.ownsPublisher = false;
    } else {
      // Fail publishes fast while disconnected rather than replaying them late (see the top of this file).
      this.publisher = createClient(
        failFastOptions({ ...options.clientOptions, url: options.url }),
      ) as unknown as RedisClientLike;
      this.ownsPublisher = true;
    }
    this.subscriber = this.publisher.duplicate({ disableOfflineQueue: true });
    this.own = new OwnConnections({
      pingIntervalMs: pingInterval(options.pingIntervalMs, "pingIntervalMs"),
      commandTimeoutMs: this.commandTimeoutMs,
      owner: "adapter's",
      closed: () => this.closed,
      dropped: (client, error) => {
        if (client === this.subscriber) this.restored = false;
        if (this.up) this.lossReported = false; // a new outage; one already reported is not reported again
        this.lost(error);
      },
    });
    // Only single-node connections the adapter made: a cluster client's nodes are node-redis's to manage.
    if (!(this.publisher instanceof ShardedClusterClient)) {
      const watch = (client: RedisClientLike, name: string) =>
        this.own.watch(client, name, () => client.ping!());
      if (options.url !== undefined) watch(this.publisher, "publishing");
      if (this.subscriber.ping !== undefined) watch(this.subscriber, "subscribing");
    }
    if (this.ownsPublisher) this.own.closeLate(this.publisher);
    this.own.closeLate(this.subscriber);
    for (const client of [this.publisher, this.subscriber]) {
      client.on("error", (error: Error) => this.lost(error));
      client.on("reconnecting", () => {
        if (!staleReconnect(client)) this.lost(new Error("Redis connection lost; reconnecting"));
      });
    }
    // Subscriptions may be lost with it (on a cluster the client stays ready while one node is down): the
    // adapter is up again only once restore() has run on the subscriber.
    this.subscriber.on("reconnecting", () => {
      if (!staleReconnect(this.subscriber)) this.restored = false;
    });
    this.publisher.on("ready", () => this.checkUp());
    this.subscriber.on("ready", () => {
      if (this.closed) return;
      this.restored = false;
      this.restore().then(
        () => {
          this.restored = true;
          this.checkUp();
        },
        (error: Error) => this.lost(error),
      );
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.once("ready", resolve);
      this.once("closed", () => reject(new Error("RedisAdapter closed before it was ready")));
    });
    // Nobody may be waiting on `ready`: its rejection at close() must not be unhandled.
    this.ready.catch(() => {});
    const connect = (client: RedisClientLike) => {
      if (!client.isOpen) client.connect().catch(() => {}); // errors arrive as 'error' events too
    };
    connect(this.publisher);
    connect(this.subscriber);
  }

  get stats(): RedisAdapterStats {
    const { publishes, bytes } = this.waitingPublishes.waiting;
    return { ...this.counters, waitingPublishes: publishes, waitingPublishBytes: bytes };
  }

  /** Whether both connections are up and the subscriptions in place. */
  get connected(): boolean {
    return this.up;
  }

  /** The Redis channel of a topic: the prefix followed by the topic. */
  channel(topic: string): string {
    return this.prefix + topic;
  }

  async publish(message: AdapterMessage): Promise<void> {
    if (this.closed || !this.publisher.isReady) {
      this.counters.publishFailed++;
      throw new RedisUnavailableError();
    }
    const channel = this.channel(message.topic);
    // On a cluster, whether Redis lags is asked of the channel's master (a frozen one holds back only its own).
    const master = masterGroup(this.publisher, channel);
    // Checked before the message is copied: refusing is cheap, whatever its size.
    if (!this.waitingPublishes.admits(master)) {
      this.counters.publishFailed++;
      throw new RedisBacklogError(
        this.waitingPublishes.waiting.publishes,
        this.waitingPublishes.limit,
        master,
      );
    }
    try {
      const encoded = encodeMessage(this.id, message.payload, message.isText);
      const command = this.publisher.publish(channel, encoded);
      this.waitingPublishes.track(waitingPublishCost(encoded.length), command, master);
      await this.bounded("a publish", command);
      this.counters.published++;
    } catch (error) {
      this.counters.publishFailed++;
      throw error;
    }
  }

  async subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
    const channel = this.channel(topic);
    this.staleChannels.delete(channel);
    // While Redis is away the subscription waits for the reconnect (restore()).
    if (!this.subscriber.isReady || this.closed) return;
    // After an UNSUBSCRIBE of the channel still in flight (channel-queue.ts), unless unsubscribed again.
    const subscribing = this.channelQueue.run([channel], async () => {
      if (this.topics.has(topic) && !this.closed)
        await this.subscriber.subscribe(channel, this.onChannelMessage, true);
    });
    await this.bounded("a subscribe", subscribing, this.subscriber);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
    const channel = this.channel(topic);
    if (this.closed) return;
    if (!this.subscriber.isReady) {
      this.staleChannels.add(channel);
      return;
    }
    // After a SUBSCRIBE still in flight; not at all if subscribed again meanwhile (channel-queue.ts).
    const unsubscribing = this.channelQueue.run([channel], async () => {
      if (!this.topics.has(topic) && !this.closed) await this.subscriber.unsubscribe(channel);
    });
    try {
      await this.bounded("an unsubscribe", unsubscribing, this.subscriber);
    } catch (error) {
      // Still subscribed (e.g. its cluster node is down): unsubscribed again at the next restore().
      if (!this.topics.has(topic)) this.staleChannels.add(channel);
      throw error;
    }
  }

  onMessage(handler: (message: AdapterMessage) => void): void {
    this.messageHandlers.push(handler);
  }

  onError(handler: (error: Error) => void): void {
    this.errorHandlers.push(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    this.own.stop();
    this.emit("closed");
    // A graceful close waits for Redis to answer what is pending: a frozen Redis would hold it forever.
    const shut = async (client: RedisClientLike) => {
      try {
        if (client.isReady && !this.stalled && !this.own.silent(client))
          await this.bounded("a close", client.close(), client);
        else if (client.isOpen) client.destroy();
      } catch {
        client.destroy();
      }
    };
    await shut(this.subscriber);
    if (this.ownsPublisher) await shut(this.publisher);
    else if (this.publisher instanceof ShardedClusterClient) this.publisher.stopConnecting();
  }

  // ---- internals ---------------------------------------------------------------------------------------

  /** `call`, or a RedisTimeoutError after commandTimeoutMs (bounded-call.ts); a timeout marks Redis stalled. */
  private async bounded<T>(what: string, call: Promise<T>, client = this.publisher): Promise<T> {
    let result: T;
    try {
      result = await boundedCall(call, what, this.commandTimeoutMs, () => {
        this.stalled = true;
      });
    } catch (error) {
      throw this.own.named(error, what, client);
    }
    this.stalled = false;
    return result;
  }

  private handle(message: Buffer, channel: Buffer): void {
    const decoded = decodeMessage(message);
    const name = channel.toString("utf8");
    if (decoded === null || !name.startsWith(this.prefix)) {
      this.counters.malformed++;
      return;
    }
    if (decoded.publisher.equals(this.id)) {
      this.counters.skippedOwn++;
      return;
    }
    this.counters.received++;
    const delivered: AdapterMessage = {
      topic: name.slice(this.prefix.length),
      payload: decoded.payload,
      isText: decoded.isText,
    };
    for (const handler of this.messageHandlers) handler(delivered);
  }

  /** After a (re)connect: subscribe what is wanted and not subscribed, drop what was unsubscribed meanwhile. */
  private async restore(): Promise<void> {
    if (this.closed) return;
    const wanted = [...this.topics].map((topic) => this.channel(topic));
    // node-redis resubscribes what it had; for those this only adds the same listener again (a no-op).
    // Behind the channels' commands in flight, like any subscribe; those unsubscribed meanwhile left out.
    if (wanted.length > 0)
      await this.channelQueue.run(wanted, async () => {
        const still = wanted.filter((channel) => this.topics.has(channel.slice(this.prefix.length)));
        if (still.length > 0) await this.subscriber.subscribe(still, this.onChannelMessage, true);
      });
    const stale = [...this.staleChannels];
    this.staleChannels.clear();
    if (stale.length > 0)
      await this.channelQueue.run(stale, async () => {
        const still = stale.filter((channel) => !this.topics.has(channel.slice(this.prefix.length)));
        if (still.length > 0) await this.subscriber.unsubscribe(still);
      });
  }

  private checkUp(): void {
    if (this.up || this.closed || !this.restored) return;
    if (!this.publisher.isReady || !this.subscriber.isReady) return;
    this.up = true;
    this.lossReported = false;
    if (this.everUp) this.counters.reconnects++;
    this.everUp = true;
    this.emit("ready");
  }

  private lost(error: Error): void {
    if (this.closed) return;
    if (!this.subscriber.isReady) this.restored = false;
    const wasUp = this.up;
    this.up = false;
    if (wasUp) this.emit("disconnect", error);
    // One report per outage: node-redis raises an error at each reconnection attempt.
    if (this.lossReported) return;
    this.lossReported = true;
    const reported = new Error(`Redis connection: ${error.message}`, { cause: error });
    for (const handler of this.errorHandlers) handler(reported);
  }
}

/**
 * A single-node client that says 'reconnecting' while it is ready: a connect loop that a heartbeat drop
 * ended, waking from node-redis's backoff after the new connection is up (with `disableOfflineQueue: false`
 * in clientOptions; found by review). A cluster client is ready while one of its nodes reconnects.
 */
function staleReconnect(client: RedisClientLike): boolean {
  return client.isReady && !(client instanceof ShardedClusterClient);
}

/**
 * The adapter's cluster: like its single-node client, commands fail at once while their node is away
 * (disableOfflineQueue) and reconnects are quick; a topology refresh after a second of failed reconnects (not
 * node-redis's 5) finds the replica that took over a dead master's slots soon after it did.
 */
function clusterDefaults(options: RedisClusterOptions): RedisClusterOptions {
  return {
    topologyRefreshOnReconnectionAttemptStrategy: 1000,
    ...options,
    defaults: failFastOptions(options.defaults as RedisClientOptions),
  } as RedisClusterOptions;
}
