// RedisStreamStore: the resume store (src/server/resume-store.ts) on Redis Streams, for many server processes.
// A topic's messages live in a Redis Stream, so a session survives the process that held its connection:
// the client reconnects to any process and that process replays from the stream. The scripts and the live
// message layout are in stream-scripts.ts, its subscriber connection in stream-subscriber.ts; the design and
// what happens at each failure in docs/resume.md.
//
// Keys share the topic's hash tag (`{t:<topic>}`), so the stream and its channel map to one Redis Cluster slot
// and the append script (XADD + SPUBLISH) is legal there. Sessions are keys of their own.

import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { ResumeStore, SessionRecord, StoredMessage } from "../server/resume-store.js";
import { RedisTimeoutError } from "./adapter-options.js";
import { boundedCall } from "./bounded-call.js";
import { masterGroup } from "./cluster.js";
import { failFastOptions } from "./fail-fast.js";
import { pingInterval } from "./heartbeat.js";
import { createClient } from "./node-redis.js";
import { OwnConnections } from "./own-connections.js";
import { LiveFeed } from "./stream-live-feed.js";
import { APPEND_SCRIPT, READ_SCRIPT, readReplyMessages } from "./stream-scripts.js";
import { RedisSessionRecords } from "./stream-sessions.js";
import {
  positiveInteger,
  RedisStoreBacklogError,
  type RedisStoreClientLike,
  RedisStoreUnavailableError,
  type RedisStreamStoreOptions,
} from "./stream-store-options.js";
import { StreamSubscriber } from "./stream-subscriber.js";
import { WaitingPublishes, waitingPublishCost, waitingPublishLimit } from "./waiting-publishes.js";

// RESP type of a bulk string ('$'), mapped to Buffer so that payloads stay bytes.
const BLOB_STRING = 36;
const AS_BUFFERS = { typeMapping: { [BLOB_STRING]: Buffer } };

/** A ResumeStore on Redis Streams: pass it as the server's `resume.store` (then no `adapter` is needed for topics). */
export class RedisStreamStore extends EventEmitter implements ResumeStore {
  readonly distributes = true;
  /** This store's id in the live messages it publishes. */
  readonly id = randomBytes(8).toString("hex");
  readonly prefix: string;
  readonly maxMessagesPerTopic: number;
  /** Settles once the command connection is up for the first time. */
  readonly ready: Promise<void>;
  private readonly commandTimeoutMs: number;
  private readonly streamTtlMs: number;
  /** Session records, keys of their own (stream-sessions.ts). */
  private readonly sessions: RedisSessionRecords;
  private readonly sharded: boolean;
  private readonly commands: RedisStoreClientLike;
  private readonly ownsCommands: boolean;
  /** The subscriber connection and the topics' channels (stream-subscriber.ts). */
  private readonly subscriber: StreamSubscriber;
  private readonly feed: LiveFeed;
  /** topic → appends of this store in flight, and the positions of those settled while others are not. */
  private readonly appending = new Map<string, { count: number; settled: Set<string> }>();
  /** Appends sent and not answered yet, bounded by maxWaitingAppendBytes (waiting-publishes.ts). */
  private readonly waitingAppends: WaitingPublishes;
  /** The heartbeat of the connections the store made (none with `sharded`), and their close after close(). */
  private readonly own: OwnConnections;
  /** The last batch of heartbeat drops reported (one report per dead path). */
  private reportedDrops: object | null = null;
  private readonly errorHandlers: ((error: Error) => void)[] = [];
  private lossReported = false;
  private everReady = false;
  private closed = false;

  constructor(options: RedisStreamStoreOptions) {
    super();
    if ((options.url === undefined) === (options.client === undefined))
      throw new TypeError("RedisStreamStore needs exactly one of options.url and options.client");
    this.prefix = options.prefix ?? "sockjet:";
    if (/[{}]/.test(this.prefix))
      throw new TypeError("RedisStreamStore: options.prefix must not contain { or }");
    this.maxMessagesPerTopic = positiveInteger(options.maxMessagesPerTopic, 1000, "maxMessagesPerTopic");
    this.streamTtlMs = positiveInteger(options.streamTtlMs, 86_400_000, "streamTtlMs", true);
    this.sessions = new RedisSessionRecords({
      prefix: this.prefix,
      takenTtlMs: positiveInteger(options.takenSessionTtlMs, 600_000, "takenSessionTtlMs"),
      script: (what, script, keys, args, onLateReply) => this.script(what, script, keys, args, onLateReply),
      closed: () => this.closed,
      report: (error) => this.report(error),
    });
    this.commandTimeoutMs = positiveInteger(options.commandTimeoutMs, 5000, "commandTimeoutMs");
    this.sharded = options.sharded ?? false;
    this.waitingAppends = new WaitingPublishes(
      waitingPublishLimit(options.maxWaitingAppendBytes, "RedisStreamStore: options.maxWaitingAppendBytes"),
    );
    const pingIntervalMs = pingInterval(options.pingIntervalMs, "RedisStreamStore: options.pingIntervalMs");
    this.own = new OwnConnections({
      pingIntervalMs: this.sharded ? 0 : pingIntervalMs,
      commandTimeoutMs: this.commandTimeoutMs,
      owner: "store's",
      closed: () => this.closed,
      // A handshake that goes unanswered again is the same outage (lost(): one report); a connection that was
      // up and stopped answering is a new one, reported once for the connections judged with it.
      dropped: (_client, error, why) => {
        if (why.handshake) this.lost(error);
        else if (why.batch !== this.reportedDrops) {
          this.reportedDrops = why.batch;
          // Reported as a new outage; until both connections are back, a stuck handshake is the same one.
          this.lossReported = false;
          this.lost(error);
        }
      },
    });
    if (options.client !== undefined) {
      this.commands = options.client;
      this.ownsCommands = false;
    } else {
      // Fail at once while disconnected rather than running commands late (an append may not wait).
      this.commands = createClient(
        failFastOptions({ ...options.clientOptions, url: options.url }),
      ) as unknown as RedisStoreClientLike;
      this.ownsCommands = true;
    }
    this.feed = new LiveFeed({
      publisher: this.id,
      released: (topic, position) => this.appendReleased(topic, position),
      read: (topic, after, limit) => this.readAfter(topic, after, limit),
      // The third argument: whether this store appended it (LocalFallbackStore drops late copies by it).
      deliver: (topic, message, publisher) => this.emit("appended", topic, message, publisher === this.id),
      error: (error) => this.report(error),
    });
    this.subscriber = new StreamSubscriber({
      commands: this.commands,
      feed: this.feed,
      sharded: this.sharded,
      own: this.own,
      closed: () => this.closed,
      lost: (error) => this.lost(error),
      // Both connections up again: the next loss is a new outage, reported (as the commands' 'ready' does).
      restored: () => {
        if (this.commands.isReady) this.lossReported = false;
      },
      bounded: (what, call, client) => this.bounded(what, call, client),
    });
    if (this.ownsCommands) {
      this.own.watch(this.commands, "command", () => this.commands.sendCommand(["PING"]));
      this.own.closeLate(this.commands);
    }
    this.commands.on("error", (error: Error) => this.lost(error));
    this.commands.on("ready", () => {
      this.everReady = true;
      this.lossReported = false;
      this.emit("ready");
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.once("ready", resolve);
      this.once("closed", () => reject(new Error("RedisStreamStore closed before it was ready")));
    });
    this.ready.catch(() => {});
    if (!this.commands.isOpen)
      this.commands.connect().catch(() => {}); // errors arrive as 'error' events
    else if (this.commands.isReady) {
      this.everReady = true;
      queueMicrotask(() => this.emit("ready"));
    }
  }

  /** Appends sent to Redis and not answered yet, and the bytes they are counted for (maxWaitingAppendBytes). */
  get appendBacklog(): { appends: number; bytes: number } {
    const { publishes, bytes } = this.waitingAppends.waiting;
    return { appends: publishes, bytes };
  }

  /** The stream key of a topic. */
  streamKey(topic: string): string {
    return `${this.prefix}{t:${topic}}:messages`;
  }

  /** The pub/sub channel of a topic (same hash tag as its stream). */
  channel(topic: string): string {
    return `${this.prefix}{t:${topic}}:live`;
  }

  async append(topic: string, payload: Buffer, isText: boolean, publisher?: string): Promise<string> {
    const cost = waitingPublishCost(payload.length);
    // On a cluster, whether Redis lags is asked of the stream's master (a frozen one holds back only its own).
    const master = masterGroup(this.commands, this.streamKey(topic));
    if (!this.waitingAppends.admits(master))
      throw new RedisStoreBacklogError(
        this.waitingAppends.waiting.publishes,
        this.waitingAppends.limit,
        master,
      );
    const inFlight = this.appending.get(topic) ?? { count: 0, settled: new Set<string>() };
    inFlight.count++;
    this.appending.set(topic, inFlight);
    let position: string | null = null;
    try {
      const id = await this.script(
        "append a message",
        APPEND_SCRIPT,
        [this.streamKey(topic)],
        [
          this.channel(topic),
          String(this.maxMessagesPerTopic),
          isText ? "1" : "0",
          payload,
          this.sharded ? "SPUBLISH" : "PUBLISH",
          String(this.streamTtlMs),
          this.id,
          publisher ?? "",
        ],
        undefined,
        (command) => this.waitingAppends.track(cost, command, master),
      );
      position = Buffer.isBuffer(id) ? id.toString("latin1") : String(id);
      return position;
    } finally {
      // After the caller's continuation (a microtask) has run: then its live message may go.
      setImmediate(() => {
        inFlight.count--;
        if (position !== null && inFlight.count > 0) inFlight.settled.add(position);
        if (inFlight.count === 0) this.appending.delete(topic);
        this.feed.released(topic);
      });
    }
  }

  onAppended(handler: (topic: string, message: StoredMessage) => void): void {
    this.on("appended", handler);
  }

  onError(handler: (error: Error) => void): void {
    this.errorHandlers.push(handler);
  }

  async subscribe(topic: string): Promise<void> {
    if (this.closed) throw new RedisStoreUnavailableError("subscribe (the store is closed)");
    const channel = this.channel(topic);
    const feed = this.feed.add(topic, channel);
    if (feed === null) return;
    // Where the stream stands as subscribe() is called: read first (the command goes out now, ahead of any
    // read the caller makes next on this connection), so that every message appended after this call is
    // handed over: live once the subscription is in place, read back from the stream before that.
    const floor = this.lastPosition(topic).catch(() => null);
    try {
      await this.subscriber.follow(channel);
    } finally {
      this.feed.start(feed, await floor);
    }
  }

  async unsubscribe(topic: string): Promise<void> {
    if (!this.feed.remove(topic)) return;
    await this.subscriber.unfollow(this.channel(topic));
  }

  async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    const count = Math.max(1, Math.min(Math.floor(limit), 10_000));
    const reply = (await this.script(
      "read a topic",
      READ_SCRIPT,
      [this.streamKey(topic)],
      [after, String(count)],
    )) as Buffer[] | null;
    return readReplyMessages(reply);
  }

  async lastPosition(topic: string): Promise<string> {
    const reply = (await this.command("read a topic's last position", [
      "XREVRANGE",
      this.streamKey(topic),
      "+",
      "-",
      "COUNT",
      "1",
    ])) as [Buffer, unknown][];
    return reply.length === 0 ? "" : reply[0][0].toString("latin1");
  }

  saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.sessions.save(id, record, ttlMs);
  }

  takeSession(id: string): Promise<SessionRecord | undefined> {
    return this.sessions.take(id);
  }

  putBackSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.sessions.putBack(id, record, ttlMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.own.stop();
    this.emit("closed");
    this.feed.close();
    const shut = async (client: RedisStoreClientLike) => {
      try {
        // A heartbeat PING that has waited a second: the path may be dead, and close() would wait for it.
        if (client.isReady && !this.own.silent(client)) await this.bounded("close", client.close(), client);
        else if (client.isOpen) client.destroy();
      } catch {
        client.destroy();
      }
    };
    const subscriber = this.subscriber.connection;
    await Promise.all([
      subscriber === null ? null : shut(subscriber),
      this.ownsCommands ? shut(this.commands) : null,
    ]);
  }

  // ---- internals ---------------------------------------------------------------------------------------

  /**
   * Whether an own live message may be handed over: its append settled, or none is in flight (an append that
   * failed on a lost reply may have been done all the same).
   */
  private appendReleased(topic: string, position: string): boolean {
    const inFlight = this.appending.get(topic);
    if (inFlight === undefined) return true;
    if (!inFlight.settled.has(position)) return false;
    inFlight.settled.delete(position);
    return true;
  }

  /**
   * EVAL, every time. Not EVALSHA: a Redis that does not have the script cached (just started, restarted,
   * after SCRIPT FLUSH or a failover; a cluster master, which SCRIPT LOAD does not reach) answers NOSCRIPT and
   * the call has to go again, and calls made meanwhile, by this process or by another whose EVAL has loaded the
   * script, then run ahead of it: a burst of appends was stored, and replayed, out of publish order (found by
   * review). Redis caches what EVAL runs; the cost is the script's bytes on the wire (under 1 KiB; no
   * difference measured in appends per second).
   */
  private script(
    what: string,
    script: string,
    keys: string[],
    args: (string | Buffer)[],
    onLateReply?: (reply: unknown) => void,
    onSent?: (command: Promise<unknown>) => void,
  ) {
    return this.command(what, ["EVAL", script, String(keys.length), ...keys, ...args], onLateReply, onSent);
  }

  /**
   * `onLateReply`: the reply of a command that timed out, should Redis run it after all. `onSent`: the
   * command itself, once sent (it may outlive the call's timeout).
   */
  private async command(
    what: string,
    args: (string | Buffer)[],
    onLateReply?: (reply: unknown) => void,
    onSent?: (command: Promise<unknown>) => void,
  ): Promise<unknown> {
    if (this.closed) throw new RedisStoreUnavailableError(`${what} (the store is closed)`);
    // Before the first connection, wait for it (bounded): a server may publish as soon as it starts.
    if (!this.commands.isReady && !this.everReady) await this.bounded(what, this.ready);
    if (!this.commands.isReady) throw new RedisStoreUnavailableError(what);
    const call = this.commands.sendCommand(args, AS_BUFFERS);
    onSent?.(call);
    try {
      return await this.bounded(what, call);
    } catch (error) {
      if (error instanceof RedisTimeoutError && onLateReply !== undefined) call.then(onLateReply, () => {});
      throw error;
    }
  }

  /** `call` on `client`, or a RedisTimeoutError after commandTimeoutMs (bounded-call.ts). */
  private async bounded<T>(what: string, call: Promise<T>, client = this.commands): Promise<T> {
    try {
      return await boundedCall(call, `a store call (${what})`, this.commandTimeoutMs);
    } catch (error) {
      throw this.own.named(error, `a store call (${what})`, client);
    }
  }

  private lost(error: Error): void {
    if (this.closed || this.lossReported) return; // one report per outage: node-redis errors at each retry
    this.lossReported = true;
    this.report(new Error(`Redis connection: ${error.message}`, { cause: error }));
  }

  private report(error: Error): void {
    for (const handler of this.errorHandlers) handler(error);
  }
}
