// RedisAdapter on a Redis Cluster, with sharded pub/sub (Redis 7: SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE;
// https://redis.io/docs/latest/develop/interact/pubsub/#sharded-pubsub). Classic PUBLISH on a cluster is
// copied to every node over the cluster bus, so it scales with nothing; a sharded channel lives on the master
// that owns its hash slot (the slot of the whole channel name, or of its {hash tag}), so the topics spread over
// the masters and each message crosses only the node that owns it.
//
// ShardedClusterClient makes a node-redis cluster client look like the single-node client the adapter drives
// (RedisClientLike): publish is SPUBLISH, subscribe is SSUBSCRIBE (one channel per call: the channels of one
// call must share a slot, or Redis answers CROSSSLOT), and the cluster's per-node events become the client
// events the adapter listens to. What node-redis does by itself (checked on a real cluster,
// test/pubsub/redis-cluster.test.ts): it sends SSUBSCRIBE to the owning master on a connection of its own per
// master; after a master dies and its replica takes over it refreshes the topology (after
// topologyRefreshOnReconnectionAttemptStrategy ms of failed reconnects) and subscribes the channels again on
// the new owner. What this adds: every node that comes back (`node-ready`) makes the adapter subscribe all its
// topics again (SSUBSCRIBE of a channel already subscribed sends nothing), so a resubscription node-redis
// missed or failed is made then, and a channel node-redis could not move is reported and retried.

import type { RedisClientLike } from "./index.js";

/** The parts of a node-redis cluster client (`createCluster()`) the adapter uses. */
export interface RedisClusterLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  /** A new cluster client with the same options and overrides (the adapter subscribes on one). */
  duplicate(overrides?: { minimizeConnections?: boolean }): RedisClusterLike;
  /** Redis SPUBLISH, routed to the master that owns the channel's slot. */
  sPublish(channel: string, message: Buffer): Promise<unknown>;
  /** Redis SSUBSCRIBE, with messages as Buffers. */
  sSubscribe(
    channels: string | string[],
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<void>;
  /** Redis SUNSUBSCRIBE. */
  sUnsubscribe(channels: string | string[]): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  off(event: string, listener: (...args: any[]) => void): unknown;
  close(): Promise<void>;
  destroy(): void;
}

/** Where a node-redis cluster event comes from. */
interface NodeInfo {
  host: string;
  port: number;
}

/** Delay before subscribing again a channel node-redis failed to move to its new owner. */
const MOVED_RETRY_MS = 1000;

// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
type Listener = (...args: any[]) => void;

export class ShardedClusterClient implements RedisClientLike {
  readonly cluster: RedisClusterLike;
  /** Our listeners by client event, to remove them again (off). */
  private readonly wrapped = new Map<Listener, { event: string; listener: Listener }[]>();
  /** The adapter's 'ready' listeners, called again to retry a channel node-redis could not move. */
  private readyListeners: Listener[] = [];

  constructor(cluster: RedisClusterLike) {
    this.cluster = cluster;
  }

  get isOpen(): boolean {
    return this.cluster.isOpen;
  }

  /**
   * The cluster's topology is known. A master that is down does not make the whole client unready: its
   * slots' commands fail at once (disableOfflineQueue) while the others go on.
   */
  get isReady(): boolean {
    return this.cluster.isReady;
  }

  connect(): Promise<unknown> {
    return this.cluster.connect();
  }

  /** A second cluster client that connects only where it subscribes (the adapter's subscriber). */
  duplicate(): ShardedClusterClient {
    return new ShardedClusterClient(this.cluster.duplicate({ minimizeConnections: true }));
  }

  publish(channel: string, message: Buffer): Promise<unknown> {
    return this.cluster.sPublish(channel, message);
  }

  async subscribe(
    channels: string | string[],
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<void> {
    const list = typeof channels === "string" ? [channels] : channels;
    await Promise.all(list.map((channel) => this.cluster.sSubscribe(channel, listener, bufferMode)));
  }

  async unsubscribe(channels?: string | string[]): Promise<void> {
    const list = channels === undefined ? [] : typeof channels === "string" ? [channels] : channels;
    await Promise.all(list.map((channel) => this.cluster.sUnsubscribe(channel)));
  }

  on(event: string, listener: Listener): this {
    const pairs: { event: string; listener: Listener }[] = [];
    const add = (clusterEvent: string, handler: Listener) => {
      this.cluster.on(clusterEvent, handler);
      pairs.push({ event: clusterEvent, listener: handler });
    };
    const where = (node: NodeInfo) => `${node.host}:${node.port}`;
    switch (event) {
      case "error":
        add("error", listener);
        add("node-error", (error: Error, node: NodeInfo) =>
          listener(new Error(`node ${where(node)}: ${error.message}`, { cause: error })),
        );
        add("sharded-channel-moved-error", (error: Error, channel: string) => {
          listener(new Error(`channel ${channel} lost on a slot move: ${error.message}`, { cause: error }));
          // The adapter subscribes its topics again at each 'ready'.
          setTimeout(() => {
            if (this.cluster.isReady) this.emitReady();
          }, MOVED_RETRY_MS).unref();
        });
        break;
      case "reconnecting":
        add("node-reconnecting", () => listener());
        break;
      case "ready":
        // A node came back (or a new master was found): before the cluster's first discovery is done there is
        // nothing to subscribe on yet ('connect' comes then).
        add("connect", () => listener());
        add("node-ready", () => {
          if (this.cluster.isReady) listener();
        });
        this.readyListeners.push(listener);
        break;
      default:
        add(event, listener);
    }
    this.wrapped.set(listener, [...(this.wrapped.get(listener) ?? []), ...pairs]);
    return this;
  }

  off(event: string, listener: Listener): this {
    const pairs = this.wrapped.get(listener) ?? [];
    for (const pair of pairs) this.cluster.off(pair.event, pair.listener);
    this.wrapped.delete(listener);
    if (event === "ready") this.readyListeners = this.readyListeners.filter((l) => l !== listener);
    return this;
  }

  close(): Promise<void> {
    return this.cluster.close();
  }

  destroy(): void {
    this.cluster.destroy();
  }

  private emitReady(): void {
    for (const listener of this.readyListeners) listener();
  }
}
