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
// the new owner. What this adds: once every node that was lost is back or replaced, 'ready' makes the adapter
// subscribe all its topics again (SSUBSCRIBE of a channel already subscribed sends nothing), so a
// resubscription node-redis missed or failed is made then; a channel node-redis could not move is reported
// and retried; and each lost node is reported ('error', 'reconnecting': the adapter's 'disconnect').

import { EventEmitter } from "node:events";
import type { RedisClientLike } from "./adapter-options.js";
import { keySlot } from "./key-slot.js";

/** The parts of a node-redis cluster client (`createCluster()`) the adapter uses. */
export interface RedisClusterLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  /** The shard of each hash slot, as last discovered (undefined: a slot no master serves). */
  readonly slots?: ArrayLike<unknown>;
  /** Discovers the cluster's topology and connects. */
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
  /** Listens to the cluster's events (error, connect, node-error, node-reconnecting, node-ready…). */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Removes a listener added with on(). */
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  off(event: string, listener: (...args: any[]) => void): unknown;
  /** Closes every connection once pending commands are answered. */
  close(): Promise<void>;
  /** Closes every connection at once. */
  destroy(): void;
}

/** Where a node-redis cluster event comes from. */
interface NodeInfo {
  host: string;
  port: number;
}

/** Delay before subscribing again a channel node-redis failed to move to its new owner. */
const MOVED_RETRY_MS = 1000;

/**
 * A node-redis cluster client as the adapter's RedisClientLike. Events: 'error' (the cluster's and each
 * node's), 'reconnecting' (a node's connection was lost), 'ready' (connected; then each time the last node
 * that was down is back or replaced).
 */
export class ShardedClusterClient extends EventEmitter implements RedisClientLike {
  readonly cluster: RedisClusterLike;
  /** Nodes (host:port) whose connection is lost and not back, nor dropped from the topology. */
  private readonly down = new Set<string>();
  /** close() or destroy() was called: connect() stops trying. */
  private stopped = false;
  private connecting = false;

  constructor(cluster: RedisClusterLike) {
    super();
    this.cluster = cluster;
    const where = (node: NodeInfo) => `${node.host}:${node.port}`;
    cluster.on("error", (error: Error) => this.report(error));
    cluster.on("node-error", (error: Error, node: NodeInfo) => {
      this.down.add(where(node));
      this.report(new Error(`node ${where(node)}: ${error.message}`, { cause: error }));
      // node-redis says 'reconnecting' only when it tries again, maybe seconds later; the node is lost now.
      this.emit("reconnecting");
    });
    cluster.on("node-reconnecting", (node: NodeInfo) => {
      this.down.add(where(node));
      this.emit("reconnecting");
    });
    cluster.on("sharded-channel-moved-error", (error: Error, channel: string) => {
      this.report(new Error(`channel ${channel} lost on a slot move: ${error.message}`, { cause: error }));
      // The adapter subscribes its topics again at each 'ready'.
      setTimeout(() => this.readyIfAllUp(), MOVED_RETRY_MS).unref();
    });
    cluster.on("connect", () => this.readyIfAllUp());
    cluster.on("node-ready", (node: NodeInfo) => {
      this.down.delete(where(node));
      this.readyIfAllUp();
    });
    // A dead master dropped from the topology (its replica took over) is no longer waited for.
    cluster.on("node-disconnect", (node: NodeInfo) => {
      if (this.down.delete(where(node))) this.readyIfAllUp();
    });
  }

  /** Open, or trying to connect (so that the adapter's close() stops the tries). */
  get isOpen(): boolean {
    return this.cluster.isOpen || (this.connecting && !this.stopped);
  }

  /**
   * The cluster's topology is known. A master that is down does not make the whole client unready: the
   * commands for its slots fail at once (disableOfflineQueue) while the other masters go on.
   */
  get isReady(): boolean {
    return this.cluster.isReady;
  }

  /**
   * Connects, and keeps trying while the cluster cannot be reached: node-redis's cluster, unlike its
   * single-node client, gives up when its first discovery fails. Each failure is reported ('error').
   */
  async connect(): Promise<unknown> {
    this.connecting = true;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.cluster.connect();
          if (!this.hasSlots()) {
            // A node that is not part of a cluster yet (being created): node-redis would take it for a
            // cluster with no slots, and every command would fail until something rediscovered it.
            this.cluster.destroy();
            throw new Error("no hash slot is assigned yet (CLUSTER SLOTS is empty)");
          }
          this.connecting = false;
          this.readyIfAllUp();
          return this;
        } catch (error) {
          if (this.stopped) throw error;
          this.report(new Error(`cannot reach the cluster: ${(error as Error).message}`, { cause: error }));
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1000)));
          if (this.stopped) throw error;
        }
      }
    } finally {
      this.connecting = false;
    }
  }

  /** Stops connect()'s tries, leaving the cluster client as it is (one the adapter was given). */
  stopConnecting(): void {
    this.stopped = true;
  }

  /** A second cluster client that connects only where it subscribes (the adapter's subscriber). */
  duplicate(): ShardedClusterClient {
    return new ShardedClusterClient(this.cluster.duplicate({ minimizeConnections: true }));
  }

  publish(channel: string, message: Buffer): Promise<unknown> {
    return this.cluster.sPublish(channel, message);
  }

  /** The address ("host:port") of the master that owns `channel`'s slot, as last discovered. */
  masterOf(channel: string): string | undefined {
    const shard = this.cluster.slots?.[keySlot(channel)] as { master?: { address?: string } } | undefined;
    return shard?.master?.address;
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

  close(): Promise<void> {
    this.stopped = true;
    return this.cluster.close();
  }

  destroy(): void {
    this.stopped = true;
    this.cluster.destroy();
  }

  private report(error: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  private readyIfAllUp(): void {
    // Before the first discovery is done (and checked) there is nothing to subscribe on yet.
    if (this.cluster.isReady && this.down.size === 0 && !this.connecting) this.emit("ready");
  }

  /** Whether the topology found has at least one slot (node-redis's `slots`: one entry per slot, or none). */
  private hasSlots(): boolean {
    const slots = this.cluster.slots;
    if (slots === undefined) return true;
    for (let slot = 0; slot < slots.length; slot++) if (slots[slot] !== undefined) return true;
    return false;
  }
}

/**
 * Which master a command on `key` waits on, for the waiting-command bound (waiting-publishes.ts): its
 * address on a cluster, "" (one group) for a single Redis or a topology not discovered yet.
 */
export function masterGroup(client: unknown, key: string): string {
  return client instanceof ShardedClusterClient ? (client.masterOf(key) ?? "") : "";
}
