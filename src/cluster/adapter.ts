import type { AdapterMessage, PubSubAdapter } from "../server/adapter.js";
import {
  channelCarriesBytes,
  decodePayload,
  encodePayload,
  isPubSubMessage,
  PUBSUB_TAG,
  type ToPrimary,
} from "./wire.js";

// A PubSubAdapter over node:cluster's IPC channel, for the workers of one machine: each worker's adapter
// sends its publishes and (un)subscribes to the primary, whose ClusterRelay (relay.ts) passes each publish on
// to the workers subscribed to its topic but the publisher. No broker, no dependency: node:cluster is Node's.
//
// Order: one worker's publishes reach every other worker in the order it made them (an IPC channel is a
// stream, and the relay forwards in the order it reads). A subscribe resolves once the relay has taken it,
// so a publish made by another worker after that reaches this one. Delivery is at most once: a worker that
// dies loses what was in flight to it, and a publish made while the primary is gone rejects.

export interface ClusterAdapterOptions {
  /**
   * Keeps this adapter's topics apart from another adapter's in the same workers (one per server, if a
   * worker runs two servers with topics). Default "default".
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
  private readonly onIpc = (message: unknown) => this.receive(message);
  private readonly onDisconnect = () => this.lost();

  constructor(options: ClusterAdapterOptions = {}) {
    if (typeof process.send !== "function")
      throw new Error("ClusterAdapter runs in a node:cluster worker: this process has no IPC channel");
    this.namespace = options.namespace ?? "default";
    this.timeoutMs = options.timeoutMs ?? 5000;
    process.on("message", this.onIpc);
    process.on("disconnect", this.onDisconnect);
  }

  publish(message: AdapterMessage): Promise<void> {
    return this.send({
      sockjet: PUBSUB_TAG,
      op: "pub",
      ns: this.namespace,
      topic: message.topic,
      payload: encodePayload(message.payload, message.isText, this.bytes),
      isText: message.isText,
    });
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
    this.closed = true;
    process.off("message", this.onIpc);
    process.off("disconnect", this.onDisconnect);
    this.failPending(new Error("the cluster adapter is closed"));
  }

  private request(op: "sub" | "unsub", topic: string): Promise<void> {
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
      const settle = { resolve: () => resolve(), reject };
      this.pending.set(id, {
        resolve: () => {
          clearTimeout(timer);
          settle.resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          settle.reject(error);
        },
      });
      this.send({ sockjet: PUBSUB_TAG, op, ns: this.namespace, topic, id }).catch((error) => {
        this.pending.get(id)?.reject(error);
        this.pending.delete(id);
      });
    });
  }

  private send(message: ToPrimary): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the cluster adapter is closed"));
    if (process.connected !== true || process.send === undefined)
      return Promise.reject(new Error("the cluster primary is gone (IPC channel closed)"));
    const send = process.send.bind(process);
    return new Promise((resolve, reject) => {
      // The callback fires once the message is written to the channel (or could not be).
      send(message, undefined, undefined, (error: Error | null) => (error ? reject(error) : resolve()));
    });
  }

  private receive(message: unknown): void {
    if (!isPubSubMessage(message) || message.ns !== this.namespace) return;
    const m = message as { op: string; id?: unknown; topic?: unknown; payload?: unknown; isText?: unknown };
    if (m.op === "ack" && typeof m.id === "number") {
      this.pending.get(m.id)?.resolve();
      this.pending.delete(m.id);
      return;
    }
    if (m.op !== "msg" || typeof m.topic !== "string" || typeof m.isText !== "boolean") return;
    const payload = decodePayload(m.payload, m.isText);
    if (payload === null) return;
    this.handler?.({ topic: m.topic, payload, isText: m.isText });
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
