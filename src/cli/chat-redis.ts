import { randomBytes } from "node:crypto";
// Only `sockjet serve --redis URL` loads this module (through chat-redis-connect.ts, which serve.ts imports
// lazily): a serve without --redis must work without the optional `redis` package.
import { nameKey } from "./chat-names.js";
import type { ChatPresence, PresenceJoin } from "./chat-presence.js";
import { HEARTBEAT, JOIN, LEAVE, LEAVE_ALL } from "./chat-redis-scripts.js";

// The chat room across processes: a RedisStreamStore (sockjet/redis) carries the room's topic between the
// `serve` processes (on a Redis Cluster: sharded, through ClusterStoreClient) and keeps its last lines for
// resumed sessions (docs/resume.md: a client resumes on any process, the one it was on may be gone), and
// RedisPresence keeps who is in the room in Redis, so that every process announces the same, honest user
// count (the alternative, a per-process count labelled "online here", would show each process a different
// room size for the same room).
//
// Presence, in four keys under `sockjet:presence:<topic>:`:
//   members    HASH   name key (nameKey(): case-folded, confusables mapped) → id of the process serving it
//   processes  ZSET   process id → when it expires (Redis clock, ms); refreshed by a heartbeat every ttl/3
//   guests     STRING the counter behind guest-N names, shared so two processes never hand out the same one
//   restoring  STRING when the registry was found lost (Redis clock, ms); expires after restoringMs
// Every change is one Lua script (atomic), which first sweeps the processes whose heartbeat stopped (a
// crashed or SIGKILLed `serve`) together with their members, and returns the count after the change. So a
// crashed process's users vanish from the count within `ttlMs` (30 s), without leave notices.
//
// A Redis that restarts empty forgets every name while their members are still connected (issue 21 item 11).
// A name must never be given twice, so:
// - a process that was registered and finds itself unknown (Redis lost the registry) marks the registry as
//   being restored, and registers its members again (at once when its connection comes back; before its next
//   join otherwise);
// - while the registry is being restored, joins wait: for `settleMs` (2 s) in any case, the time every
//   process needs to reconnect (node-redis retries at least every second), then until every process
//   subscribed to the room's channel (PUBSUB NUMSUB: a process with members is subscribed) holds names in
//   the registry again. `restoringMs` (ttl/3 + 1 s: every live process has sent a heartbeat by then) ends
//   the wait in any case. A fresh Redis has nothing to restore: joins do not wait.
// - the heartbeat makes the registry hold exactly this process's members (it registers the missing, drops
//   those that left while Redis did not answer), so counts are right again within seconds of a recovery.
//
// Every call to Redis is bounded by `timeoutMs` (issue 21 item 12: a frozen Redis held every join). While
// Redis fails or does not answer, joins are refused with a message saying so (one could not tell which names
// other processes hold), the members already in keep chatting, leaves are counted down from the last known
// count, and trouble is reported once, with a line again when Redis answers.

/** The node-redis calls presence makes. */
export interface PresenceClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export interface RedisPresenceOptions {
  /** The room's topic; the keys are `sockjet:presence:<topic>:…`. */
  topic: string;
  /**
   * The Redis channel the room's members are subscribed through (RedisStreamStore.channel(topic)): after a
   * Redis restart, joins wait until every process subscribed to it has registered its members again.
   */
  channel?: string;
  /**
   * Redis Cluster: the keys are `sockjet:presence:{<the channel's hash tag>}:…` (hashTag(): they and the
   * room's sharded channel are in one slot: a script may only touch keys of one slot, and it counts the
   * channel's subscribers with PUBSUB SHARDNUMSUB on the node that owns them).
   */
  cluster?: boolean;
  /** How long a process counts without a heartbeat. Default 30 s; the heartbeat runs every ttlMs/3. */
  ttlMs?: number;
  /** Longest wait for one answer from Redis. Default 3 s. */
  timeoutMs?: number;
  /** Longest wait of a join for the registry to be restored after a Redis restart. Default 5 s. */
  joinWaitMs?: number;
  /** How long joins wait in any case once the registry is found lost (every process reconnects). 2 s. */
  settleMs?: number;
  /** Where trouble goes (one line each). */
  report: (message: string) => void;
}

/**
 * What a key's slot is computed from (Redis Cluster spec, "Hash tags"): the text between its first "{" and
 * the next "}" when not empty, else the whole key. The store's channel `sockjet:{t:chat}:live` hashes as
 * `t:chat`: presence keys tagged `{t:chat}` share its slot.
 */
export function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open === -1 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Raised (and reported) when Redis does not answer a presence call within timeoutMs. */
class PresenceTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms / 1000} s`);
  }
}

export class RedisPresence implements ChatPresence {
  /** This process in the registry. */
  readonly id = randomBytes(8).toString("hex");
  readonly keys: [members: string, processes: string, guests: string, restoring: string];
  private readonly client: PresenceClient;
  private readonly channel: string;
  private readonly numsub: "NUMSUB" | "SHARDNUMSUB";
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly joinWaitMs: number;
  private readonly restoringMs: number;
  private readonly settleMs: number;
  /** A script has succeeded: Redis knew this process (finding it unknown then means Redis lost it). */
  private registered = false;
  private readonly report: (message: string) => void;
  /** This process's members: name → key. */
  private readonly local = new Map<string, string>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Joins sent and not answered: a heartbeat meanwhile must not drop the names they are getting. */
  private joinsInFlight = 0;
  /** The count of the last answer, counted down by leaves while Redis does not answer. */
  private lastCount = 0;
  private failing = false;
  private refusedWhileFailing = 0;
  private stopped = false;

  constructor(client: PresenceClient, options: RedisPresenceOptions) {
    this.client = client;
    this.channel = options.channel ?? "";
    this.ttlMs = options.ttlMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.joinWaitMs = options.joinWaitMs ?? 5_000;
    this.restoringMs = Math.floor(this.ttlMs / 3) + 1_000;
    this.settleMs = Math.min(options.settleMs ?? 2_000, this.restoringMs);
    this.report = options.report;
    this.numsub = options.cluster === true ? "SHARDNUMSUB" : "NUMSUB";
    const prefix =
      options.cluster === true
        ? `sockjet:presence:{${hashTag(options.channel ?? options.topic)}}:`
        : `sockjet:presence:${options.topic}:`;
    this.keys = [`${prefix}members`, `${prefix}processes`, `${prefix}guests`, `${prefix}restoring`];
    this.heartbeat = setInterval(() => this.restore(), Math.max(10, Math.floor(this.ttlMs / 3)));
    this.heartbeat.unref();
  }

  async join(requested: string): Promise<PresenceJoin> {
    const deadline = Date.now() + this.joinWaitMs;
    const key = requested === "" ? "" : nameKey(requested);
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(100, ms)));
    for (;;) {
      let reply: [string, number, number?];
      this.joinsInFlight++;
      try {
        reply = (await this.run(JOIN, [
          requested,
          key,
          String(this.local.size),
          this.channel,
          String(this.settleMs),
          this.numsub,
        ])) as [string, number, number?];
        if (Number(reply[1]) === -1) {
          // Redis lost this process (restarted empty, or this process was frozen past its ttl).
          await this.beat();
          continue;
        }
      } catch (error) {
        // A connection coming back (a restart) is worth waiting for; a Redis that does not answer is not.
        if (error instanceof PresenceTimeoutError || Date.now() >= deadline) {
          this.refusedWhileFailing++;
          return {
            refused: "the chat room cannot reach its Redis, so it cannot check names: try again later",
          };
        }
        await pause(100);
        continue;
      } finally {
        this.joinsInFlight--;
      }
      const [name, count, retryMs] = reply;
      if (name !== "") {
        this.local.set(name, nameKey(name));
        this.lastCount = Number(count);
        return { name, users: this.lastCount };
      }
      if (Date.now() >= deadline) {
        return { refused: "the chat room is being restored after a restart of its Redis: try again shortly" };
      }
      await pause(Number(retryMs ?? 100));
    }
  }

  async leave(name: string): Promise<number> {
    const key = this.local.get(name) ?? nameKey(name);
    this.local.delete(name);
    try {
      this.lastCount = Number(await this.run(LEAVE, [key]));
    } catch {
      // The next heartbeat that gets through drops it from Redis.
      this.lastCount = Math.max(this.local.size, this.lastCount - 1);
    }
    return this.lastCount;
  }

  async leaveAll(names: readonly string[]): Promise<number> {
    const keys = names.map((name) => this.local.get(name) ?? nameKey(name));
    for (const name of names) this.local.delete(name);
    try {
      this.lastCount = Number(await this.run(LEAVE_ALL, keys));
    } catch {
      this.lastCount = Math.max(this.local.size, this.lastCount - names.length);
    }
    return this.lastCount;
  }

  /** Whether Redis failed or did not answer the last call. */
  get unanswered(): boolean {
    return this.failing;
  }

  /** Registers this process's members again now (its connection to Redis is back). Never rejects. */
  restore(): void {
    if (!this.stopped) this.beat().catch(() => {});
  }

  /** Stops the heartbeat (leaveAll() has taken this process out of the registry). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeat);
  }

  private async beat(): Promise<void> {
    const prune = this.joinsInFlight === 0 ? "prune" : "keep";
    const [count, ...taken] = (await this.run(HEARTBEAT, [prune, ...this.local.values()])) as [
      number,
      ...string[],
    ];
    this.lastCount = Number(count);
    if (taken.length > 0) {
      this.report(
        `chat presence: ${taken.length} name(s) of this process's members were given to others while Redis ` +
          `had lost them (${taken.slice(0, 5).join(", ")})`,
      );
    }
  }

  private async run(script: string, args: string[]): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const call = this.client.eval(script, {
      keys: [...this.keys],
      arguments: [
        this.id,
        String(this.ttlMs),
        this.registered ? "1" : "0",
        String(this.restoringMs),
        ...args,
      ],
    });
    // A join given up on may still be done once Redis answers: that name is nobody's, it leaves again.
    call.then(
      (reply) => {
        const name = Array.isArray(reply) ? String(reply[0] ?? "") : "";
        if (timedOut && script === JOIN && name !== "") this.run(LEAVE, [nameKey(name)]).catch(() => {});
      },
      () => {},
    );
    try {
      const reply = await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(new PresenceTimeoutError(this.timeoutMs));
          }, this.timeoutMs);
        }),
      ]);
      this.registered = true;
      if (this.failing) {
        this.failing = false;
        const refused = this.refusedWhileFailing;
        this.refusedWhileFailing = 0;
        this.report(`chat presence: Redis answers again (${refused} join(s) were refused meanwhile)`);
        // Leaves it missed, names it lost: the registry is made right at once, not at the next heartbeat.
        if (script !== HEARTBEAT) this.restore();
      }
      return reply;
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        const detail = error instanceof Error ? error.message : String(error);
        this.report(`chat presence: Redis failed (${detail}); joins are refused until it answers`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
