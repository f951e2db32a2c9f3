import type { ResumeStore, SessionRecord, StoredMessage } from "../index.js";

// The chat's resume store with --redis: the RedisStreamStore (sockjet/redis), plus what `serve --redis` did
// before resume, for a Redis outage: a line that cannot be stored still reaches this process's members (issue
// 21 item 12: "members already in still chat"), only not the other processes', and it cannot be replayed.
// The append still fails, so the server reports it (PublishFailureLog sums the outage up in two lines).
//
// Such a line goes out with the topic's last position, so a client's position does not move: a later resume
// replays from where the stream really is.

export class LocalFallbackStore implements ResumeStore {
  readonly distributes = true;
  private readonly inner: ResumeStore;
  private readonly handlers: ((topic: string, message: StoredMessage) => void)[] = [];
  /** topic → the last position handed over. */
  private readonly lastSeen = new Map<string, string>();

  constructor(inner: ResumeStore) {
    this.inner = inner;
    inner.onAppended?.((topic, message) => {
      this.lastSeen.set(topic, message.position);
      for (const handler of this.handlers) handler(topic, message);
    });
  }

  async append(topic: string, payload: Buffer, isText: boolean): Promise<string> {
    try {
      return await this.inner.append(topic, payload, isText);
    } catch (error) {
      // After the failed append has settled (the ResumeStore contract for own appends).
      setImmediate(() => {
        const message = { position: this.lastSeen.get(topic) ?? "", payload, isText };
        for (const handler of this.handlers) handler(topic, message);
      });
      throw error;
    }
  }

  onAppended(handler: (topic: string, message: StoredMessage) => void): void {
    this.handlers.push(handler);
  }

  subscribe(topic: string): Promise<void> {
    return this.inner.subscribe?.(topic) ?? Promise.resolve();
  }

  unsubscribe(topic: string): Promise<void> {
    this.lastSeen.delete(topic);
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

  close(): Promise<void> {
    return this.inner.close();
  }
}
