// A distributing resume store for tests: several servers in this process share one MemoryResumeStore, and
// each server's view hands back every append to the topics it subscribed, after the append has settled, in
// append order, as the Redis Streams store does across processes (XADD + PUBLISH in one script).

import type { TestContext } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { ResumeStore, SessionRecord, StoredMessage } from "../../src/server/resume-store.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { controls, rawResume, startServer, until, within } from "./helpers.js";

export class SharedStore {
  readonly memory = new MemoryResumeStore({ maxMessagesPerTopic: 5000 });
  readonly views = new Set<SharedStoreView>();

  view(): SharedStoreView {
    return new SharedStoreView(this);
  }
}

export class SharedStoreView implements ResumeStore {
  readonly distributes = true;
  readonly topics = new Set<string>();
  private handler: (topic: string, message: StoredMessage) => void = () => {};

  /** Joins `shared`: it hands this view what is appended to the topics the view subscribed. */
  constructor(protected readonly shared: SharedStore) {
    shared.views.add(this);
  }

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

/**
 * A server resuming on `store` (default: the memory store) whose fresh sessions subscribe `topics` (the
 * server side of each connection in `sockets`), and a first session opened on it, its subscriptions in the
 * store if it is a shared view: its raw connection, its token, and `end()`, which closes it from the server's
 * side and waits until both sides know.
 */
export async function feedSession(t: TestContext, store?: ResumeStore, topics = ["feed"]) {
  const started = await startServer(t, { resume: store === undefined ? {} : { store } });
  const sockets: WebSocket[] = [];
  started.server.on("connection", (socket) => {
    sockets.push(socket);
    if (!socket.resumed) for (const topic of topics) socket.subscribe(topic);
  });
  const first = await rawResume(started.url, { type: "hello" });
  if (store instanceof SharedStoreView)
    await until(() => topics.every((topic) => store.topics.has(topic)), 5000, "the store's subscriptions");
  await until(() => controls(first.messages).some((c) => c.type === "session"), 5000, "the session");
  const token = controls(first.messages).find((c) => c.type === "session")!.token as string;
  const end = async () => {
    sockets[0].terminate();
    await within(first.closed, 5000, "the close");
    await until(() => started.server.clients.size === 0, 5000, "the server side to close");
  };
  return { started, sockets, first, token, end };
}
