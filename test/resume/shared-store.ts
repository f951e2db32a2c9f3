// A distributing resume store for tests: several servers in this process share one MemoryResumeStore, and
// each server's view hands back every append to the topics it subscribed, after the append has settled, in
// append order, as the Redis Streams store does across processes (XADD + PUBLISH in one script).

import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { ResumeStore, SessionRecord, StoredMessage } from "../../src/server/resume-store.js";

export class SharedStore {
  readonly memory = new MemoryResumeStore({ maxMessagesPerTopic: 5000 });
  readonly views = new Set<SharedStoreView>();

  view(): SharedStoreView {
    const view = new SharedStoreView(this);
    this.views.add(view);
    return view;
  }
}

export class SharedStoreView implements ResumeStore {
  readonly distributes = true;
  readonly topics = new Set<string>();
  private handler: (topic: string, message: StoredMessage) => void = () => {};

  constructor(protected readonly shared: SharedStore) {}

  async append(topic: string, payload: Buffer, isText: boolean, publisher?: string): Promise<string> {
    await Promise.resolve();
    const position = this.shared.memory.append(topic, payload, isText, publisher);
    // After this promise has settled (the contract), in append order (one macrotask queue).
    setImmediate(() => {
      for (const view of this.shared.views)
        if (view.topics.has(topic)) view.handler(topic, { position, payload, isText });
    });
    return position;
  }

  onAppended(handler: (topic: string, message: StoredMessage) => void): void {
    this.handler = handler;
  }

  async subscribe(topic: string): Promise<void> {
    this.topics.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.topics.delete(topic);
  }

  readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    return this.shared.memory.readAfter(topic, after, limit);
  }

  async lastPosition(topic: string): Promise<string> {
    return this.shared.memory.lastPosition(topic);
  }

  saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.shared.memory.saveSession(id, record, ttlMs);
  }

  takeSession(id: string): Promise<SessionRecord | undefined> {
    return this.shared.memory.takeSession(id);
  }

  putBackSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.shared.memory.putBackSession(id, record, ttlMs);
  }

  async close(): Promise<void> {
    this.shared.views.delete(this);
  }
}
