// Connecting `sockjet serve --redis` to Redis: the chat room's resume store (RedisStreamStore, on a Redis
// Cluster through ClusterStoreClient), its presence (chat-redis.ts) and the heartbeat of their connection.
// Only `serve --redis` loads this module (serve.ts imports it lazily): `redis` is an optional peer dependency,
// and a serve without --redis must work without it.
import { createClient } from "redis";
import type { ResumeStore } from "../index.js";
import { failFastOptions } from "../redis/fail-fast.js";
import { DEFAULT_PING_INTERVAL_MS } from "../redis/heartbeat.js";
import {
  ClusterStoreClient,
  type RedisStoreClientLike,
  type RedisStoreClusterLike,
  RedisStreamStore,
} from "../redis/index.js";
import { type OwnClient, OwnConnections } from "../redis/own-connections.js";
import { type PresenceClient, RedisPresence } from "./chat-redis.js";
import { createChatCluster, isClusterNode } from "./chat-redis-cluster.js";
import { LocalFallbackStore } from "./chat-resume-store.js";

export interface RedisChat {
  /** A Redis Cluster (sharded pub/sub), not a single Redis. */
  cluster: boolean;
  /** The chat server's resume store: positions, replays, sessions, and the topic between processes. */
  store: ResumeStore;
  presence: RedisPresence;
  /** Releases the presence heartbeat, the store and the Redis connection (after the server has closed). */
  close(): Promise<void>;
}

/** What the chat does with its node-redis client, single node or cluster alike. */
interface ChatConnection {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
  close(): Promise<void>;
  destroy(): void;
}

/**
 * Connects to Redis for the chat room: one connection for the store's commands and presence, and the store's
 * own duplicate for SUBSCRIBE. Resolves once it is up; rejects after `timeoutMs` otherwise. Several URLs, or
 * one of a Redis Cluster node, make it a cluster client (chat-redis-cluster.ts) and the store sharded.
 */
export async function connectRedisChat(
  urls: string[],
  options: { topic: string; report: (message: string) => void; timeoutMs?: number; resumeLines?: number },
): Promise<RedisChat> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const cluster = urls.length > 1 || (await isClusterNode(urls[0], timeoutMs));
  const client: ChatConnection = cluster
    ? createChatCluster(urls, timeoutMs)
    : // Fail at once while Redis is away rather than replay stale commands later (as the adapter does).
      createClient(failFastOptions({ url: urls[0], socket: { connectTimeout: timeoutMs } }));
  let lastError = "no answer";
  const onError = (error: Error) => {
    lastError = error.message || String(error);
  };
  client.on("error", onError);
  if (cluster) client.on("node-error", onError);
  // A dead network path to Redis: this connection's PING goes unanswered, and it is dropped and made again
  // (own-connections.ts; the store does the same for its subscriber). A cluster's are node-redis's to manage.
  let closed = false;
  const own = new OwnConnections({
    pingIntervalMs: cluster ? 0 : DEFAULT_PING_INTERVAL_MS,
    commandTimeoutMs: Math.min(timeoutMs, 3_000),
    owner: "chat's",
    closed: () => closed,
    dropped: (_client, error) => options.report(error.message),
  });
  if (!cluster) {
    const single = client as unknown as OwnClient & { ping(): Promise<unknown> };
    own.watch(single, "command", () => single.ping());
    own.closeLate(single);
  }
  // On a cluster the store drives the cluster through ClusterStoreClient (each command routed by its key,
  // SPUBLISH/SSUBSCRIBE); its connect() keeps trying until the cluster's topology is found.
  const storeClient = cluster
    ? new ClusterStoreClient(client as unknown as RedisStoreClusterLike)
    : (client as unknown as RedisStoreClientLike);
  // Every store call is bounded by timeoutMs: a line that cannot be stored reaches this process's members
  // (LocalFallbackStore) once that time is up, so a frozen Redis holds a line for no longer.
  const streams = new RedisStreamStore({
    client: storeClient,
    sharded: cluster,
    commandTimeoutMs: Math.min(timeoutMs, 3_000),
    maxMessagesPerTopic: Math.max(1, options.resumeLines ?? 1000),
  });
  const store = new LocalFallbackStore(streams);
  const presence = new RedisPresence(client as unknown as PresenceClient, {
    topic: options.topic,
    channel: streams.channel(options.topic),
    cluster,
    report: options.report,
  });
  // Back after a drop (maybe a Redis restarted empty): this process's members are registered again at once.
  // (A cluster's nodes are ready before its topology is known: presence waits for that.)
  client.on(cluster ? "node-ready" : "ready", () => {
    if (client.isReady) presence.restore();
  });
  const close = async () => {
    closed = true;
    own.stop();
    presence.stop();
    await store.close();
    // Bounded: a graceful close waits for a frozen Redis forever. (On a cluster, the wrapper: its close also
    // stops its connect() tries.)
    let timer: NodeJS.Timeout | undefined;
    try {
      if (presence.unanswered) storeClient.destroy();
      else if (storeClient.isReady) {
        await Promise.race([
          storeClient.close(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("close")), timeoutMs))),
        ]);
      } else if (storeClient.isOpen) storeClient.destroy();
    } catch {
      storeClient.destroy();
    } finally {
      clearTimeout(timer);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      streams.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${timeoutMs / 1000} s (last error: ${lastError})`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { cluster, store, presence, close };
}
