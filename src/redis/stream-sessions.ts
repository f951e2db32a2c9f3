// The session records of RedisStreamStore (stream-store.ts): one key per session, outside the topics' hash
// tags, saved, taken once and put back by the Lua scripts of stream-scripts.ts (the ResumeStore contract:
// a session is taken by one connection only, and a save from a stale one is ignored).

import type { SessionRecord } from "../server/resume-store.js";
import { PUT_BACK_SCRIPT, SAVE_SCRIPT, TAKE_SCRIPT } from "./stream-scripts.js";

/** A session record's longest stay in Redis past its window (see keptFor()). */
const EXPIRED_SESSION_KEPT_MAX_MS = 3_600_000;

/**
 * How long a session record stays in Redis when its window is `ttlMs`: as long again (at most an hour)
 * past it, so that a client that comes back late is told `expired` (the record's expiresAt, which the
 * server checks), as with the memory store, rather than `unknown`.
 */
function keptFor(ttlMs: number): number {
  return ttlMs + Math.min(ttlMs, EXPIRED_SESSION_KEPT_MAX_MS);
}

/** What the records need of their store. */
export interface SessionRecordsContext {
  prefix: string;
  /** How long a taken session id stays remembered (takenSessionTtlMs). */
  takenTtlMs: number;
  /** Runs a script, bounded by commandTimeoutMs; `onLateReply` gets the reply of one that timed out. */
  script(
    what: string,
    script: string,
    keys: string[],
    args: (string | Buffer)[],
    onLateReply?: (reply: unknown) => void,
  ): Promise<unknown>;
  closed(): boolean;
  report(error: Error): void;
}

export class RedisSessionRecords {
  private readonly context: SessionRecordsContext;

  constructor(context: SessionRecordsContext) {
    this.context = context;
  }

  async save(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = String(keptFor(Math.max(1, Math.ceil(ttlMs))));
    await this.context.script("save a session", SAVE_SCRIPT, [this.key(id)], [JSON.stringify(record), ttl]);
  }

  async take(id: string): Promise<SessionRecord | undefined> {
    const reply = (await this.context.script(
      "take a session",
      TAKE_SCRIPT,
      [this.key(id)],
      [String(this.context.takenTtlMs)],
      // Timed out (Redis frozen), the caller was told to retry (close 1011): if Redis ran the take late, the
      // record goes back, so the retry resumes instead of finding the session used up.
      (late) => this.putBackLate(id, late),
    )) as Buffer | null;
    if (reply === null) return undefined;
    try {
      return JSON.parse(reply.toString("utf8")) as SessionRecord;
    } catch {
      return undefined; // not one of ours: as good as unknown
    }
  }

  async putBack(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = String(keptFor(Math.max(1, Math.ceil(ttlMs))));
    // An alias's successor goes first: SAVE_SCRIPT then ignores a save over it (ALIAS_PREFIX).
    const { successor, ...rest } = record;
    const json = JSON.stringify(successor === undefined ? record : { successor, ...rest });
    await this.context.script("put back a session", PUT_BACK_SCRIPT, [this.key(id)], [json, ttl]);
  }

  /** Puts back a record that a timed-out take removed (its late reply), while it has not expired. */
  private putBackLate(id: string, late: unknown): void {
    if (!Buffer.isBuffer(late) || this.context.closed()) return;
    let record: SessionRecord;
    try {
      record = JSON.parse(late.toString("utf8")) as SessionRecord;
    } catch {
      return;
    }
    const ttlMs = Math.ceil(record.expiresAt - Date.now());
    if (!(ttlMs > 0)) return;
    this.context
      .script("put back a session", PUT_BACK_SCRIPT, [this.key(id)], [late, String(keptFor(ttlMs))])
      .catch((error: Error) => this.context.report(error));
  }

  private key(id: string): string {
    return `${this.context.prefix}session:${id}`;
  }
}
