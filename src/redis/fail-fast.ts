import type { RedisClientOptions } from "redis";

// How every Redis connection of sockjet behaves while Redis is away: commands fail at once instead of being
// queued and run late (a publish or an append must not arrive minutes after it was reported failed), and
// reconnects are tried quickly, backing off to one a second.

/** node-redis reconnectStrategy: 50 ms, doubling, at most 1 s between tries. */
export function quickReconnect(retries: number): number {
  return Math.min(50 * 2 ** retries, 1000);
}

/**
 * Client options failing fast while disconnected, over `options` (the user's own win, socket options merged).
 */
export function failFastOptions(options: RedisClientOptions = {}): RedisClientOptions {
  return {
    disableOfflineQueue: true,
    ...options,
    socket: { reconnectStrategy: quickReconnect, ...options.socket },
  } as RedisClientOptions;
}
