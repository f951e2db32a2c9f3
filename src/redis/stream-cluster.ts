// RedisStreamStore on a Redis Cluster. The store drives one client with sendCommand() (EVAL of its
// scripts, XREVRANGE) and subscribes on its duplicate(); a node-redis cluster client routes a raw command only
// when told its key (sendCommand(firstKey, isReadonly, args)). ClusterStoreClient is that routing on top of
// ShardedClusterClient (cluster.ts: connect retries, the per-node events as 'error'/'reconnecting'/'ready',
// SSUBSCRIBE per channel). Every command of the store has one key, and a topic's stream and channel share its
// hash tag (`{t:<topic>}`), so the append script's XADD and SPUBLISH run on the master that owns that slot
// (Redis Cluster spec: a script's keys must all hash to one slot). Use it with `sharded: true`.

import { type RedisClusterLike, ShardedClusterClient } from "./cluster.js";
import type { RedisStoreClientLike } from "./stream-store-options.js";

/** A node-redis cluster client (`createCluster()`) with the raw command the store needs. */
export interface RedisStoreClusterLike extends RedisClusterLike {
  /** Any command, sent to the master that owns `firstKey`'s slot (MOVED/ASK followed by node-redis). */
  sendCommand(
    firstKey: string | Buffer | undefined,
    isReadonly: boolean | undefined,
    args: (string | Buffer)[],
    options?: { typeMapping?: Record<number, unknown> },
  ): Promise<unknown>;
  duplicate(overrides?: { minimizeConnections?: boolean }): RedisStoreClusterLike;
}

/**
 * A node-redis cluster client as the store's RedisStoreClientLike:
 * `new RedisStreamStore({ client: new ClusterStoreClient(createCluster(…)), sharded: true })`. The store does
 * not close a client it is given: close() this one after the store's close().
 */
export class ClusterStoreClient extends ShardedClusterClient implements RedisStoreClientLike {
  declare readonly cluster: RedisStoreClusterLike;

  constructor(cluster: RedisStoreClusterLike) {
    super(cluster);
  }

  sendCommand(
    args: (string | Buffer)[],
    options?: { typeMapping?: Record<number, unknown> },
  ): Promise<unknown> {
    // Sent to the master (not a replica, which may lag behind what was just appended).
    return this.cluster.sendCommand(commandKey(args), false, args, options);
  }

  sSubscribe(
    channels: string | string[],
    listener: (message: Buffer, channel: Buffer) => unknown,
    bufferMode: true,
  ): Promise<void> {
    return this.subscribe(channels, listener, bufferMode);
  }

  sUnsubscribe(channels?: string | string[]): Promise<void> {
    return this.unsubscribe(channels);
  }

  /** A second client that connects only where it subscribes (the store's subscriber). */
  override duplicate(): ClusterStoreClient {
    return new ClusterStoreClient(this.cluster.duplicate({ minimizeConnections: true }));
  }
}

/**
 * The key a command is routed by: the first key of EVAL/EVALSHA (`EVALSHA sha numkeys key…`), else the
 * command's first argument (XREVRANGE key …, GET key …). Undefined (any node) for a command without one.
 */
export function commandKey(args: (string | Buffer)[]): string | Buffer | undefined {
  const name = String(args[0]).toUpperCase();
  if (name === "EVAL" || name === "EVALSHA" || name === "EVAL_RO" || name === "EVALSHA_RO")
    return Number(String(args[2])) > 0 ? args[3] : undefined;
  return args[1];
}
