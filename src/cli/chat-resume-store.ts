import type { ResumeStore, SessionRecord, StoredMessage } from "../index.js";
import { LateCopies } from "./late-copies.js";

// The chat's resume store with --redis: the RedisStreamStore (sockjet/redis), plus what `serve --redis` did
// before resume, for a Redis outage: a line that cannot be stored still reaches this process's members (issue
// 21 item 12: "members already in still chat"), only not the other processes', and it cannot be replayed.
// The append still fails, so the server reports it (PublishFailureLog sums the outage up in two lines).
//
// Such a line goes out with the topic's last position, so a client's position does not move: a later resume
// replays from where the stream really is.
//
// An append that failed on a time-out (Redis frozen) may still run once Redis goes on: its message then comes
// back live from this store. The members here had it already (issue 19 item 1), so that late copy is dropped,
// once per failed append, for LATE_COPY_MS.

/** How long a failed append's late copy is watched for. */
const LATE_COPY_MS = 120_000;

/** The inner store's onAppended, with whether the message was appended by this very store. */
type OwnAwareHandler = (topic: string, message: StoredMessage, own?: boolean) => void;

export class LocalFallbackStore implements ResumeStore {
  readonly distributes = true;
  private readonly inner: ResumeStore;
  private readonly handlers: ((topic: string, message: StoredMessage) => void)[] = [];
  /** topic → the last position handed over. */
  private readonly lastSeen = new Map<string, string>();
  /** topic → payloads of this store's failed appends, delivered locally already, watched for a while. */
  private readonly failed = new Map<string, LateCopies>();
  /** Positions of this store's appends that succeeded while failed ones were watched: not late copies. */
  private readonly succeeded = new Set<string>();

  constructor(inner: ResumeStore) {
    this.inner = inner;
    const onAppended: OwnAwareHandler = (topic, message, own) => {
      if (own === true && this.isLateCopy(topic, message)) return;
      this.lastSeen.set(topic, message.position);
      for (const handler of this.handlers) handler(topic, message);
    };
    inner.onAppended?.(onAppended);
  }

  async append(topic: string, payload: Buffer, isText: boolean, publisher?: string): Promise<string> {
    try {
      const position = await this.inner.append(topic, payload, isText, publisher);
      if (this.failed.has(topic)) this.succeeded.add(position);
      return position;
    } catch (error) {
      let watched = this.failed.get(topic);
      if (watched === undefined) {
        watched = new LateCopies();
        this.failed.set(topic, watched);
      }
      watched.watch(payload, Date.now() + LATE_COPY_MS);
      // After the failed append has settled (the ResumeStore contract for own appends).
      setImmediate(() => {
        const message = { position: this.lastSeen.get(topic) ?? "", payload, isText, publisher };
        for (const handler of this.handlers) handler(topic, message);
      });
      throw error;
    }
  }

  /** Whether an own message is the late run of an append that failed (and was delivered here): drops it once. */
  private isLateCopy(topic: string, message: StoredMessage): boolean {
    if (this.succeeded.delete(message.position)) return false;
    const watched = this.failed.get(topic);
    if (watched === undefined) return false;
    const now = Date.now();
    const late = watched.take(message.payload, now);
    if (watched.size(now) === 0) {
      this.failed.delete(topic);
      if (this.failed.size === 0) this.succeeded.clear();
    }
    return late;
  }

  onAppended(handler: (topic: string, message: StoredMessage) => void): void {
    this.handlers.push(handler);
  }

  subscribe(topic: string): Promise<void> {
    return this.inner.subscribe?.(topic) ?? Promise.resolve();
  }

  unsubscribe(topic: string): Promise<void> {
    this.lastSeen.delete(topic);
    this.failed.delete(topic);
    return this.inner.unsubscribe?.(topic) ?? Promise.resolve();
  }
  onError(handler: (error: Error) => void): void {
    this.inner.onError?.(handler);
  }

  readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    return this.inner.readAfter(topic, after, limit);
  }

  lastPosition(topic: string): string | Promise<string> {
    return this.inner.lastPosition(topic);
  }

  saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.inner.saveSession(id, record, ttlMs);
  }

  takeSession(id: string): Promise<SessionRecord | undefined> {
    return this.inner.takeSession(id);
  }

  putBackSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.inner.putBackSession?.(id, record, ttlMs) ?? Promise.resolve();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
