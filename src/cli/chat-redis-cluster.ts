// `sockjet serve --redis` on a Redis Cluster: found by asking the node given (INFO cluster), or given as
// several node URLs. The chat then runs as on one Redis, with the adapter on sharded pub/sub and the presence
// keys in one hash slot (chat-redis.ts).

import { createClient, createCluster, type RedisClientOptions, type RedisClusterOptions } from "redis";
import { failFastOptions } from "../redis/fail-fast.js";

/**
 * Whether the Redis at `url` is a node of a Redis Cluster (`cluster_enabled:1`). Throws when it cannot be
 * reached within timeoutMs; a Redis that refuses INFO is taken for a single node.
 */
export async function isClusterNode(url: string, timeoutMs: number): Promise<boolean> {
  const probe = createClient({
    url,
    socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
  } as RedisClientOptions);
  let lastError: Error | undefined;
  probe.on("error", (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = (async () => {
      await probe.connect();
      try {
        return String(await probe.sendCommand(["INFO", "cluster"]));
      } catch {
        return "";
      }
    })();
    const reply = await Promise.race([
      info,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(lastError ?? new Error(`no answer within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]);
    return /^cluster_enabled:1\b/m.test(reply);
  } finally {
    clearTimeout(timer);
    if (probe.isOpen) probe.destroy();
  }
}

/**
 * A cluster client for the chat: `urls` are the nodes to discover the cluster from. The cluster's own
 * connections to each node (found by discovery) take their credentials and TLS from the first URL: node-redis
 * does not carry them over from a root node's URL.
 */
export function createChatCluster(urls: string[], timeoutMs: number) {
  const first = new URL(urls[0]);
  // Fail at once while a node is away rather than replay stale commands later (as the adapter does).
  const defaults = failFastOptions({
    socket: { connectTimeout: timeoutMs, ...(first.protocol === "rediss:" ? { tls: true } : {}) },
    ...(first.username !== "" ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password !== "" ? { password: decodeURIComponent(first.password) } : {}),
  } as RedisClientOptions);
  return createCluster({
    rootNodes: urls.map((url) => ({ url })),
    defaults,
    // A replica that took over a dead master is looked for after a second of failed reconnects, not 5.
    topologyRefreshOnReconnectionAttemptStrategy: 1000,
  } as RedisClusterOptions);
}
