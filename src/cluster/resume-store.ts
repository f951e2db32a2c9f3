import type { ResumeStore, SessionRecord, StoredMessage } from "../server/resume-store.js";
import {
  type AppendItem,
  isAppendedItem,
  isReadItem,
  isResumeMessage,
  isSessionRecord,
  RESUME_TAG,
  type ResumeRequest,
} from "./resume-wire.js";
import { channelCarriesBytes, decodePayload, encodePayload } from "./wire.js";

// A ResumeStore for the workers of one machine (node:cluster) without a broker: every call goes over the IPC
// channel to the primary's ClusterResumeHost (resume-host.ts), the single ordering point, which holds the
// positions, the last messages and the sessions. So a client whose worker died, or who reconnects to another
// worker, resumes there. It distributes (resume-store.ts): the server delivers every message, its own
// publishes too, when the host sends it back, in the topic's order.
//
// The appends of one event-loop turn go as one IPC message (setImmediate), as the ClusterAdapter's publishes
// do. Messages from the host are handed to the server in a later turn (setImmediate) than the reply that
// settles their append(): Node emits the IPC messages of one read before running promise callbacks, and the
// contract wants the server to learn its positions first. Every request is bounded by timeoutMs.

/**
 * The namespaces of this process's open stores. The host answers requests by namespace and id, and knows a
 * worker's subscriptions per namespace, not per store: two stores with one namespace in one worker would
 * take each other's answers and unsubscribe each other's topics, so the second one is refused.
 */
const namespacesInUse = new Set<string>();

/** Payload bytes past which a batch of appends is sent at once rather than at the end of the turn. */
const MAX_BATCH_BYTES = 256 * 1024;

/** Options of a ClusterResumeStore. */
export interface ClusterResumeStoreOptions {
  /**
   * Keeps this store's topics and sessions apart from another's in the same cluster (one per server, if a
   * worker runs two servers with resume). One process cannot have two open stores with the same namespace
   * (the constructor throws). Default "default".
   */
  namespace?: string;
  /**
   * Longest wait for the primary's answer to any call; then it rejects (a primary that runs no
   * ClusterResumeHost never answers). Default 5000.
   */
  timeoutMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The resume store of a cluster's workers, kept by the primary (which must run a ClusterResumeHost). */
export class ClusterResumeStore implements ResumeStore {
  readonly distributes = true;
  private readonly namespace: string;
  private readonly timeoutMs: number;
  private readonly bytes = channelCarriesBytes();
  private handler: ((topic: string, message: StoredMessage) => void) | null = null;
  private errorHandler: ((error: Error) => void) | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** This turn's appends, not sent yet, and their callers. */
  private batch: { items: AppendItem[]; bytes: number; callers: Pending[] } | null = null;
  /** Messages from the host, handed over at the next turn (after the replies read with them settled). */
  private inbox: StoredMessageOf[] = [];
  private readonly onIpc = (message: unknown) => this.receive(message);
  private readonly onDisconnect = () => this.lost();

  constructor(options: ClusterResumeStoreOptions = {}) {
    if (typeof process.send !== "function")
      throw new Error("ClusterResumeStore runs in a node:cluster worker: this process has no IPC channel");
    this.namespace = options.namespace ?? "default";
    if (namespacesInUse.has(this.namespace))
      throw new Error(
        `this process already has a ClusterResumeStore with namespace "${this.namespace}": give each ` +
          "server's store a namespace of its own (the option namespace), or close the other first",
      );
    namespacesInUse.add(this.namespace);
    this.timeoutMs = options.timeoutMs ?? 5000;
    process.on("message", this.onIpc);
    process.on("disconnect", this.onDisconnect);
  }

  append(topic: string, payload: Buffer, isText: boolean, publisher?: string): Promise<string> {
    const unusable = this.unusable();
    if (unusable !== null) return Promise.reject(unusable);
    if (this.batch === null) {
      this.batch = { items: [], bytes: 0, callers: [] };
      setImmediate(() => this.flush());
    }
    const batch = this.batch;
    const item: AppendItem = [topic, encodePayload(payload, isText, this.bytes), isText];
    if (publisher !== undefined) item.push(publisher);
    batch.items.push(item);
    batch.bytes += payload.length;
    const position = new Promise<string>((resolve, reject) =>
      batch.callers.push({ resolve: resolve as (value: unknown) => void, reject }),
    );
    // A long burst goes in pieces: no IPC message of unbounded size.
    if (batch.bytes >= MAX_BATCH_BYTES) this.flush();
    return position;
  }

  onAppended(handler: (topic: string, message: StoredMessage) => void): void {
    this.handler = handler;
  }

  onError(handler: (error: Error) => void): void {
    this.errorHandler = handler;
  }

  async subscribe(topic: string): Promise<void> {
    await this.request({ op: "sub", topic });
  }

  async unsubscribe(topic: string): Promise<void> {
    await this.request({ op: "unsub", topic });
  }

  async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    const value = await this.request({ op: "read", topic, after, limit });
    if (value === null) return null;
    if (!Array.isArray(value) || !value.every(isReadItem))
      throw new Error("the cluster primary sent a malformed read answer");
    return value.map(([position, payload, isText, publisher]) =>
      withPublisher({ position, payload: decodePayload(payload, isText)!, isText }, publisher),
    );
  }

  async lastPosition(topic: string): Promise<string> {
    const value = await this.request({ op: "last", topic });
    if (typeof value !== "string") throw new Error("the cluster primary sent a malformed position");
    return value;
  }

  async saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    await this.request({ op: "save", session: id, record, ttlMs });
  }

  async putBackSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    await this.request({ op: "putback", session: id, record, ttlMs });
  }

  async takeSession(id: string): Promise<SessionRecord | undefined> {
    const value = await this.request({ op: "take", session: id });
    if (value === null || value === undefined) return undefined;
    if (!isSessionRecord(value)) throw new Error("the cluster primary sent a malformed session record");
    return value;
  }

  /** Stops listening to the channel (the worker may exit then); what the primary holds stays there. */
  async close(): Promise<void> {
    if (this.closed) return;
    // What was appended before close() still goes.
    const flushed = this.flush();
    if (flushed !== undefined) await flushed.catch(() => {});
    this.closed = true;
    namespacesInUse.delete(this.namespace);
    process.off("message", this.onIpc);
    process.off("disconnect", this.onDisconnect);
    this.failPending(new Error("the cluster resume store is closed"));
  }

  /** Sends the appends not sent yet, if any; settles once the host has answered them. */
  private flush(): Promise<void> | undefined {
    const batch = this.batch;
    if (batch === null) return undefined;
    this.batch = null;
    return this.request({ op: "append", items: batch.items }).then(
      (positions) => {
        if (!Array.isArray(positions) || positions.length !== batch.callers.length) {
          const error = new Error("the cluster primary sent a malformed append answer");
          for (const caller of batch.callers) caller.reject(error);
          return;
        }
        for (const [i, caller] of batch.callers.entries()) caller.resolve(positions[i]);
      },
      (error: Error) => {
        for (const caller of batch.callers) caller.reject(error);
      },
    );
  }

  private request(body: DistributiveOmit<ResumeRequest, "sockjet" | "ns" | "id">): Promise<unknown> {
    const unusable = this.unusable();
    if (unusable !== null || process.send === undefined) return Promise.reject(unusable);
    // Appends made before any other request go before it (a subscribe, a read…).
    if (body.op !== "append") this.flush();
    const id = this.nextId++;
    const message = { sockjet: RESUME_TAG, ns: this.namespace, id, ...body } as ResumeRequest;
    const send = process.send.bind(process);
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `the cluster primary did not answer a resume '${body.op}' within ${this.timeoutMs} ms ` +
              "(does it run a ClusterResumeHost?)",
          ),
        );
      }, this.timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      send(message, undefined, undefined, (error: Error | null) => {
        if (error === null) return;
        this.pending.get(id)?.reject(error);
        this.pending.delete(id);
      });
    });
  }

  /** Why nothing can be sent now, or null. */
  private unusable(): Error | null {
    if (this.closed) return new Error("the cluster resume store is closed");
    if (process.connected !== true || process.send === undefined)
      return new Error("the cluster primary is gone (IPC channel closed)");
    return null;
  }

  private receive(message: unknown): void {
    if (!isResumeMessage(message) || message.ns !== this.namespace) return;
    const m = message as {
      op: string;
      id?: unknown;
      ok?: unknown;
      value?: unknown;
      error?: unknown;
      items?: unknown;
    };
    if (m.op === "reply" && typeof m.id === "number") {
      const pending = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok === true) pending?.resolve(m.value);
      else pending?.reject(new Error(`the cluster primary refused: ${String(m.error)}`));
      return;
    }
    if (m.op !== "msgs" || !Array.isArray(m.items)) return;
    const first = this.inbox.length === 0;
    for (const item of m.items as unknown[]) {
      if (!isAppendedItem(item)) continue;
      const payload = decodePayload(item[1], item[2]);
      if (payload !== null)
        this.inbox.push({
          topic: item[0],
          message: withPublisher({ position: item[3], payload, isText: item[2] }, item[4]),
        });
    }
    if (first && this.inbox.length > 0) setImmediate(() => this.handOver());
  }

  private handOver(): void {
    const inbox = this.inbox;
    this.inbox = [];
    if (this.closed) return;
    for (const { topic, message } of inbox) this.handler?.(topic, message);
  }

  private lost(): void {
    const error = new Error("lost the cluster primary (IPC channel closed): resume no longer works");
    this.failPending(error);
    if (!this.closed) this.errorHandler?.(error);
  }

  private failPending(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

interface StoredMessageOf {
  topic: string;
  message: StoredMessage;
}

/** Omit over each member of a union (the plain Omit merges them). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** `message` with its publisher id, when the wire carried one. */
function withPublisher(message: StoredMessage, publisher: string | null | undefined): StoredMessage {
  if (typeof publisher === "string") message.publisher = publisher;
  return message;
}
