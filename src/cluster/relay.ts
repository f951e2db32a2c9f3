import nodeCluster, { type Cluster, type Worker } from "node:cluster";
import {
  encodePayload,
  isPubSubMessage,
  isWireItem,
  PUBSUB_TAG,
  type ToWorker,
  type WireItem,
} from "./wire.js";

// The primary's half of the ClusterAdapter (adapter.ts): which worker is subscribed to which topic, and a
// publish passed on to those workers only, never back to its publisher. Workers are forgotten when they
// disconnect or exit (a restarted worker subscribes again as its clients come back). The relay keeps no
// message: what reaches a worker's channel is queued there by Node, and lost if that worker dies.

/** Options of a ClusterRelay. */
export interface ClusterRelayOptions {
  /** The cluster whose workers to serve. Default: node:cluster. */
  cluster?: Cluster;
  /**
   * Whether the primary's own binary publishes go as bytes: the workers were forked with serialization
   * "advanced". Default: what the cluster's settings say when publish() is called.
   */
  bytes?: boolean;
}

/** Counters of a ClusterRelay. */
export interface ClusterRelayStats {
  /** Publishes received from workers. */
  published: number;
  /** Copies sent to workers (publishes from workers and from the primary). */
  delivered: number;
}

/** Relays the ClusterAdapter's topics between the workers; create one in the primary, before forking. */
export class ClusterRelay {
  private readonly cluster: Cluster;
  private readonly bytes: boolean | undefined;
  /** Subscribed workers by namespace and topic. */
  private readonly topics = new Map<string, Set<Worker>>();
  /** The topic keys of each worker, to forget it at once. */
  private readonly byWorker = new Map<Worker, Set<string>>();
  private published = 0;
  private delivered = 0;
  private closed = false;
  private readonly onMessage = (worker: Worker, message: unknown) => this.receive(worker, message);
  private readonly onGone = (worker: Worker) => this.forget(worker);

  constructor(options: ClusterRelayOptions = {}) {
    this.cluster = options.cluster ?? nodeCluster;
    if (!this.cluster.isPrimary) throw new Error("ClusterRelay runs in the cluster's primary process");
    this.bytes = options.bytes;
    this.cluster.on("message", this.onMessage);
    this.cluster.on("disconnect", this.onGone);
    this.cluster.on("exit", this.onGone);
  }

  get stats(): ClusterRelayStats {
    return { published: this.published, delivered: this.delivered };
  }

  /** Workers subscribed to `topic` now. */
  subscribers(topic: string, namespace = "default"): number {
    return this.topics.get(key(namespace, topic))?.size ?? 0;
  }

  /** A publish made by the primary itself: to every worker subscribed to `topic`. Returns how many. */
  publish(topic: string, data: string | Buffer, namespace = "default"): number {
    const isText = typeof data === "string";
    const bytes = this.bytes ?? this.cluster.settings.serialization === "advanced";
    const payload = isText ? data : encodePayload(data, false, bytes);
    return this.deliver(namespace, [[topic, payload, isText]], null);
  }

  /** Stops relaying; the workers' adapters see their (un)subscribes time out from now on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cluster.off("message", this.onMessage);
    this.cluster.off("disconnect", this.onGone);
    this.cluster.off("exit", this.onGone);
    this.topics.clear();
    this.byWorker.clear();
  }

  private receive(worker: Worker, message: unknown): void {
    if (!isPubSubMessage(message)) return;
    const m = message as { op: string; ns: string; topic?: unknown; id?: unknown; items?: unknown };
    if (m.op === "pubs") {
      if (!Array.isArray(m.items)) return;
      const items = m.items.filter(isWireItem);
      this.published += items.length;
      this.deliver(m.ns, items, worker);
      return;
    }
    if ((m.op !== "sub" && m.op !== "unsub") || typeof m.topic !== "string" || typeof m.id !== "number")
      return;
    if (m.op === "sub") this.add(worker, key(m.ns, m.topic));
    else this.remove(worker, key(m.ns, m.topic));
    send(worker, { sockjet: PUBSUB_TAG, op: "ack", ns: m.ns, id: m.id });
  }

  /**
   * A batch of publishes to the workers subscribed to each one's topic but `from`: one IPC message per
   * worker, its items in the batch's order. Returns the copies sent.
   */
  private deliver(ns: string, items: WireItem[], from: Worker | null): number {
    const batches = new Map<Worker, WireItem[]>();
    for (const item of items) {
      const workers = this.topics.get(key(ns, item[0]));
      if (workers === undefined) continue;
      for (const worker of workers) {
        if (worker === from) continue;
        const batch = batches.get(worker);
        if (batch === undefined) batches.set(worker, [item]);
        else batch.push(item);
      }
    }
    let count = 0;
    for (const [worker, batch] of batches) {
      if (send(worker, { sockjet: PUBSUB_TAG, op: "msgs", ns, items: batch })) count += batch.length;
    }
    this.delivered += count;
    return count;
  }

  private add(worker: Worker, topicKey: string): void {
    // A worker already gone (its exit came first) is not subscribed again.
    if (this.closed || !worker.isConnected()) return;
    let workers = this.topics.get(topicKey);
    if (workers === undefined) this.topics.set(topicKey, (workers = new Set()));
    workers.add(worker);
    let keys = this.byWorker.get(worker);
    if (keys === undefined) this.byWorker.set(worker, (keys = new Set()));
    keys.add(topicKey);
  }

  private remove(worker: Worker, topicKey: string): void {
    const workers = this.topics.get(topicKey);
    workers?.delete(worker);
    if (workers?.size === 0) this.topics.delete(topicKey);
    this.byWorker.get(worker)?.delete(topicKey);
  }

  private forget(worker: Worker): void {
    for (const topicKey of this.byWorker.get(worker) ?? []) {
      const workers = this.topics.get(topicKey);
      workers?.delete(worker);
      if (workers?.size === 0) this.topics.delete(topicKey);
    }
    this.byWorker.delete(worker);
  }
}

function key(namespace: string, topic: string): string {
  return `${namespace}\u0000${topic}`;
}

/** Sends to a worker that may be going away: false when it cannot take messages any more. */
function send(worker: Worker, message: ToWorker): boolean {
  if (!worker.isConnected()) return false;
  // A channel that closes under the write reports it here, not as an 'error' on the worker.
  worker.send(message, undefined, () => {});
  return true;
}
