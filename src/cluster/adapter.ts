import type { AdapterMessage, PubSubAdapter } from "../server/adapter.js";
import {
  channelCarriesBytes,
  decodePayload,
  encodePayload,
  isPubSubMessage,
  isWireItem,
  PUBSUB_TAG,
  type ToPrimary,
  type WireItem,
} from "./wire.js";

// A PubSubAdapter over node:cluster's IPC channel, for the workers of one machine: each worker's adapter
// sends its publishes and (un)subscribes to the primary, whose ClusterRelay (relay.ts) passes each publish on
// to the workers subscribed to its topic but the publisher. No broker, no dependency: node:cluster is Node's.
//
// Order: one worker's publishes reach every other worker in the order it made them (an IPC channel is a
// stream, and the relay forwards in the order it reads). The publishes of one event-loop turn go as one IPC
// message at the end of the turn (setImmediate): one write and one parse instead of one per publish. A
// subscribe resolves once the relay has taken it, so a publish made by another worker after that reaches
// this one. Delivery is at most once: a worker that dies loses what was in flight to it, and a publish made
// while the primary is gone rejects.

/**
 * The namespaces of this process's open adapters. The relay knows a worker's subscriptions per namespace,
 * not per adapter, and answers requests by namespace and id: two adapters with one namespace in one worker
 * would unsubscribe each other's topics and take each other's answers, so the second one is refused.
 */
const namespacesInUse = new Set<string>();

/** Payload bytes past which a batch is sent at once rather than at the end of the turn. */
const MAX_BATCH_BYTES = 256 * 1024;

/** Options of a ClusterAdapter. */
export interface ClusterAdapterOptions {
  /**
   * Keeps this adapter's topics apart from another adapter's in the same workers (one per server, if a
   * worker runs two servers with topics). One process cannot have two open adapters with the same
   * namespace (the constructor throws). Default "default".
   */
  namespace?: string;
  /**
   * Longest wait for the relay to take a subscribe or unsubscribe; then it rejects (a primary that runs no
   * ClusterRelay never answers). Default 5000.
   */
  timeoutMs?: number;
}

/** The topics of a cluster's workers carried through the primary (which must run a ClusterRelay). */
export class ClusterAdapter implements PubSubAdapter {
  private readonly namespace: string;
  private readonly timeoutMs: number;
  private readonly bytes = channelCarriesBytes();
  private handler: ((message: AdapterMessage) => void) | null = null;
  private errorHandler: ((error: Error) => void) | null = null;
  private readonly pending = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private nextId = 1;
  private closed = false;
  /** This turn's publishes, not sent yet, and the promise their publish() calls returned. */
  private batch: { items: WireItem[]; bytes: number; sent: Deferred } | null = null;
  private readonly onIpc = (message: unknown) => this.receive(message);
  private readonly onDisconnect = () => this.lost();

  constructor(options: ClusterAdapterOptions = {}) {
    this.namespace = options.namespace ?? "default";
    // The relay ignores messages whose namespace is not a string: everything would be lost (review 133).
    if (typeof this.namespace !== "string")
      throw new TypeError("ClusterAdapter: options.namespace must be a string.");
    if (typeof process.send !== "function")
      throw new Error("ClusterAdapter runs in a node:cluster worker: this process has no IPC channel");
    if (namespacesInUse.has(this.namespace))
      throw new Error(
        `this process already has a ClusterAdapter with namespace "${this.namespace}": give each server's ` +
          "adapter a namespace of its own (the option namespace), or close the other first",
      );
    namespacesInUse.add(this.namespace);
    this.timeoutMs = options.timeoutMs ?? 5000;
    process.on("message", this.onIpc);
    process.on("disconnect", this.onDisconnect);
  }

  publish(message: AdapterMessage): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== null) return Promise.reject(unusable);
    const item: WireItem = [
      message.topic,
      encodePayload(message.payload, message.isText, this.bytes),
      message.isText,
    ];
    if (this.batch === null) {
      this.batch = { items: [], bytes: 0, sent: deferred() };
      setImmediate(() => this.flush());
    }
    const batch = this.batch;
    batch.items.push(item);
    batch.bytes += message.payload.length;
    // A long burst goes in pieces: no IPC message of unbounded size.
    if (batch.bytes >= MAX_BATCH_BYTES) this.flush();
    return batch.sent.promise;
  }

  subscribe(topic: string): Promise<void> {
    return this.request("sub", topic);
  }

  unsubscribe(topic: string): Promise<void> {
    return this.request("unsub", topic);
  }

  onMessage(handler: (message: AdapterMessage) => void): void {
    this.handler = handler;
  }

  onError(handler: (error: Error) => void): void {
    this.errorHandler = handler;
  }

  /** Stops listening to the channel (the worker may exit then); the relay forgets this worker when it goes. */
  async close(): Promise<void> {
    if (this.closed) return;
    // What was published before close() still goes.
    await this.flush()?.catch(() => {});
    this.closed = true;
    namespacesInUse.delete(this.namespace);
    process.off("message", this.onIpc);
    process.off("disconnect", this.onDisconnect);
    this.failPending(new Error("the cluster adapter is closed"));
  }

  /** Sends the publishes not sent yet, if any (at the end of the turn, or ahead of a subscribe or close). */
  private flush(): Promise<void> | undefined {
    const batch = this.batch;
    if (batch === null) return undefined;
    this.batch = null;
    this.send({ sockjet: PUBSUB_TAG, op: "pubs", ns: this.namespace, items: batch.items }).then(
      batch.sent.resolve,
      batch.sent.reject,
    );
    return batch.sent.promise;
  }

  private request(op: "sub" | "unsub", topic: string): Promise<void> {
    // Publishes made before a (un)subscribe go before it.
    this.flush();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new Error(
            `the cluster primary did not answer a ${op === "sub" ? "subscribe" : "unsubscribe"} within ` +
              `${this.timeoutMs} ms (does it run a ClusterRelay?)`,
          ),
        );
      }, this.timeoutMs);
      this.pending.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.send({ sockjet: PUBSUB_TAG, op, ns: this.namespace, topic, id }).catch((error) => {
        this.pending.get(id)?.reject(error);
        this.pending.delete(id);
      });
    });
  }

  /** Why nothing can be sent now, or null. */
  private unusable(): Error | null {
    if (this.closed) return new Error("the cluster adapter is closed");
    if (process.connected !== true || process.send === undefined)
      return new Error("the cluster primary is gone (IPC channel closed)");
    return null;
  }

  private send(message: ToPrimary): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== null || process.send === undefined) return Promise.reject(unusable);
    const send = process.send.bind(process);
    return new Promise((resolve, reject) => {
      // The callback fires once the message is written to the channel (or could not be).
      send(message, undefined, undefined, (error: Error | null) => (error ? reject(error) : resolve()));
    });
  }

  private receive(message: unknown): void {
    if (!isPubSubMessage(message) || message.ns !== this.namespace) return;
    const m = message as { op: string; id?: unknown; items?: unknown };
    if (m.op === "ack" && typeof m.id === "number") {
      this.pending.get(m.id)?.resolve();
      this.pending.delete(m.id);
      return;
    }
    if (m.op !== "msgs" || !Array.isArray(m.items)) return;
    for (const item of m.items) {
      if (!isWireItem(item)) continue;
      const payload = decodePayload(item[1], item[2]);
      if (payload !== null) this.handler?.({ topic: item[0], payload, isText: item[2] });
    }
  }

  private lost(): void {
    const error = new Error(
      "lost the cluster primary (IPC channel closed): topics no longer reach other workers",
    );
    this.failPending(error);
    if (!this.closed) this.errorHandler?.(error);
  }

  private failPending(error: Error): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  const d = {} as Deferred;
  d.promise = new Promise<void>((resolve, reject) => {
    d.resolve = resolve;
    d.reject = reject;
  });
  // Every caller of publish() gets this promise and handles it; one unhandled copy is not a crash.
  d.promise.catch(() => {});
  return d;
}
