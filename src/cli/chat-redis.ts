import { randomBytes } from "node:crypto";
// Only `sockjet serve --redis URL` loads this module (serve.ts imports it lazily): `redis` is an optional peer
// dependency, and a serve without --redis must work without it.
import { createClient, type RedisClientOptions } from "redis";
import { RedisAdapter, type RedisClientLike } from "../redis/index.js";
import { type ChatPresence, uniqueName } from "./chat-room.js";

// The chat room across processes: the RedisAdapter carries the room's topic between the `serve` processes,
// and RedisPresence keeps who is in the room in Redis, so that every process announces the same, honest user
// count (the alternative, a per-process count labelled "online here", would show each process a different
// room size for the same room).
//
// Presence, in three keys under `sockjet:presence:<topic>:`:
//   members    HASH   user name → id of the process that serves that user (names are unique in the room)
//   processes  ZSET   process id → when it expires (Redis clock, ms); refreshed by a heartbeat every ttl/3
//   guests     STRING the counter behind guest-N names, shared so two processes never hand out the same one
// Every change is one Lua script (atomic), which first sweeps the processes whose heartbeat stopped (a
// crashed or SIGKILLed `serve`) together with their members, and returns the count after the change. So a
// crashed process's users vanish from the count within `ttlMs` (30 s), without leave notices. The heartbeat
// also registers this process's members again, which restores the room after Redis restarted empty.
//
// While Redis is unreachable presence falls back to this process alone (names unique here, the count of
// members here) and says so once on stderr: the room is then split anyway, since publishes cannot reach the
// other processes either.

const SWEEP = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #dead > 0 then
  local gone = {}
  for _, id in ipairs(dead) do gone[id] = true end
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if gone[all[i + 1]] then redis.call('HDEL', KEYS[1], all[i]) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
`;

// KEYS: members, processes, guests. ARGV: process id, ttl ms, requested name ("" for a guest).
const JOIN = `${SWEEP}
local name = ARGV[3]
if name == '' then name = 'guest-' .. redis.call('INCR', KEYS[3]) end
local unique, n = name, 2
while redis.call('HEXISTS', KEYS[1], unique) == 1 do
  unique = name .. '-' .. n
  n = n + 1
end
redis.call('HSET', KEYS[1], unique, ARGV[1])
return {unique, redis.call('HLEN', KEYS[1])}
`;

// ARGV: process id, ttl ms, name.
const LEAVE = `${SWEEP}
if redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[3]) end
return redis.call('HLEN', KEYS[1])
`;

// ARGV: process id, ttl ms, names… The process leaves the room with all its members.
const LEAVE_ALL = `${SWEEP}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HLEN', KEYS[1])
`;

// ARGV: process id, ttl ms, names… Still alive, with these members (registered again if Redis lost them).
const HEARTBEAT = `${SWEEP}
for i = 3, #ARGV do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1]) end
return redis.call('HLEN', KEYS[1])
`;

/** The node-redis calls presence makes. */
export interface PresenceClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export interface RedisPresenceOptions {
  /** The room's topic; the keys are `sockjet:presence:<topic>:…`. */
  topic: string;
  /** How long a process counts without a heartbeat. Default 30 s; the heartbeat runs every ttlMs/3. */
  ttlMs?: number;
  /** Where trouble goes (one line each). */
  report: (message: string) => void;
}

export class RedisPresence implements ChatPresence {
  /** This process in the registry. */
  readonly id = randomBytes(8).toString("hex");
  readonly keys: [members: string, processes: string, guests: string];
  private readonly client: PresenceClient;
  private readonly ttlMs: number;
  private readonly report: (message: string) => void;
  /** This process's members, as registered (or as named locally while Redis is away). */
  private readonly local = new Set<string>();
  private readonly heartbeat: NodeJS.Timeout;
  private failing = false;
  private localGuests = 0;

  constructor(client: PresenceClient, options: RedisPresenceOptions) {
    this.client = client;
    this.ttlMs = options.ttlMs ?? 30_000;
    this.report = options.report;
    const prefix = `sockjet:presence:${options.topic}:`;
    this.keys = [`${prefix}members`, `${prefix}processes`, `${prefix}guests`];
    this.heartbeat = setInterval(
      () => {
        this.run(HEARTBEAT, [...this.local]).catch(() => {});
      },
      Math.max(10, Math.floor(this.ttlMs / 3)),
    );
    this.heartbeat.unref();
  }

  async join(requested: string): Promise<{ name: string; users: number }> {
    try {
      const [name, users] = (await this.run(JOIN, [requested])) as [string, number];
      this.local.add(name);
      return { name, users: Number(users) };
    } catch {
      const name = uniqueName(requested || `guest-${this.id.slice(0, 4)}-${++this.localGuests}`, this.local);
      this.local.add(name);
      return { name, users: this.local.size };
    }
  }

  async leave(name: string): Promise<number> {
    this.local.delete(name);
    try {
      return Number(await this.run(LEAVE, [name]));
    } catch {
      return this.local.size;
    }
  }

  async leaveAll(names: readonly string[]): Promise<number> {
    for (const name of names) this.local.delete(name);
    try {
      return Number(await this.run(LEAVE_ALL, [...names]));
    } catch {
      return this.local.size;
    }
  }

  /** Stops the heartbeat (leaveAll() has taken this process out of the registry). */
  stop(): void {
    clearInterval(this.heartbeat);
  }

  private async run(script: string, args: string[]): Promise<unknown> {
    try {
      const reply = await this.client.eval(script, {
        keys: [...this.keys],
        arguments: [this.id, String(this.ttlMs), ...args],
      });
      if (this.failing) {
        this.failing = false;
        this.report("chat presence: Redis answers again; the user count is the whole room's");
      }
      return reply;
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        const detail = error instanceof Error ? error.message : String(error);
        this.report(`chat presence: Redis failed (${detail}); counting this process's users only`);
      }
      throw error;
    }
  }
}

export interface RedisChat {
  adapter: RedisAdapter;
  presence: RedisPresence;
  /** Releases the presence heartbeat and the Redis connection (after the server has closed the adapter). */
  close(): Promise<void>;
}

/**
 * Connects to Redis for the chat room: one connection for PUBLISH and presence (the adapter's `client`), and
 * the adapter's own duplicate for SUBSCRIBE. Resolves once both are up; rejects after `timeoutMs` otherwise.
 */
export async function connectRedisChat(
  url: string,
  options: { topic: string; report: (message: string) => void; timeoutMs?: number },
): Promise<RedisChat> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const client = createClient({
    url,
    // Fail at once while Redis is away rather than replay stale commands later (as the adapter does).
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
    },
  } as RedisClientOptions);
  let lastError = "no answer";
  client.on("error", (error: Error) => {
    lastError = error.message || String(error);
  });
  const adapter = new RedisAdapter({ client: client as unknown as RedisClientLike });
  const presence = new RedisPresence(client as unknown as PresenceClient, options);
  const close = async () => {
    presence.stop();
    await adapter.close();
    try {
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    } catch {
      client.destroy();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      adapter.ready,
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
  return { adapter, presence, close };
}
