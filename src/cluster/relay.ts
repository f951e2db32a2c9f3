import nodeCluster, { type Cluster, type Worker } from "node:cluster";
import {
  encodePayload,
  isPubSubMessage,
  isWireItem,
  PUBSUB_TAG,
  type ToWorker,
  type WireItem,
} from "./wire.js";
import { WorkerTopics } from "./worker-topics.js";

// The primary's half of the ClusterAdapter (adapter.ts): which worker is subscribed to which topic, and a
// publish passed on to those workers only, never back to its publisher. Workers are forgotten when they
// disconnect or exit (a restarted worker subscribes again as its clients come back). The relay keeps no
// message: what reaches a worker's channel is queued there by Node, and lost if that worker dies.
//
// Backpressure: a worker that does not read its channel (stuck, stopped, overloaded) would have Node queue
// every publish for it in the primary without limit. The relay counts the bytes written to each worker and
// not yet taken by its channel; past maxPendingBytes it drops that worker's publishes (counted in
// stats.dropped, reported through onOverflow) until its channel drains: delivery is at most once anyway, and
// one stuck worker neither grows the primary's memory nor holds up the others.

/** Options of a ClusterRelay. */
export interface ClusterRelayOptions {
  /** The cluster whose workers to serve. Default: node:cluster. */
  cluster?: Cluster;
  /**
   * Whether the primary's own binary publishes go as bytes: the workers were forked with serialization
   * "advanced". Default: what the cluster's settings say when publish() is called.
   */
  bytes?: boolean;
  /**
   * Bytes (about: payloads and topics) sent to one worker and not yet written to its channel, past which
   * that worker's publishes are dropped until it catches up. Default 8 MiB.
   */
  maxPendingBytes?: number;
  /**
   * Told when a worker starts dropping publishes (`dropping`) and when its channel has drained again
   * (`recovered`, with how many it dropped meanwhile). Default: nothing (see stats.dropped).
   */
  onOverflow?: (event: ClusterRelayOverflow) => void;
}

/** A worker whose channel is full (ClusterRelayOptions.onOverflow). */
export interface ClusterRelayOverflow {
  worker: Worker;
  state: "dropping" | "recovered";
  /** Publishes dropped for this worker since it started dropping. */
  dropped: number;
  /** Bytes still waiting for its channel. */
  pendingBytes: number;
}

/** Counters of a ClusterRelay. */
export interface ClusterRelayStats {
  /** Publishes received from workers. */
  published: number;
  /** Copies sent to workers (publishes from workers and from the primary). */
  delivered: number;
  /** Copies not sent to a worker whose channel was full (maxPendingBytes). */
  dropped: number;
  /** Bytes waiting for the workers' channels now (all workers). */
  pendingBytes: number;
}

/** What a worker has waiting on its channel. */
interface Backlog {
  bytes: number;
  /** Publishes dropped since it went past the limit; -1 when it is not dropping. */
  dropped: number;
}

/**
 * Clusters with an open ClusterRelay: a second one would answer every worker's requests as well, and each
 * message would be delivered twice, so it is refused (as a second ClusterAdapter/ClusterResumeStore in a worker).
 */
const clustersWithClusterRelay = new WeakSet<Cluster>();

/** Relays the ClusterAdapter's topics between the workers; create one in the primary, before forking. */
export class ClusterRelay {
  private readonly cluster: Cluster;
  private readonly bytes: boolean | undefined;
  private readonly maxPendingBytes: number;
  private readonly onOverflow: ((event: ClusterRelayOverflow) => void) | undefined;
  private readonly backlogs = new Map<Worker, Backlog>();
  private readonly subscriptions = new WorkerTopics();
  private published = 0;
  private delivered = 0;
  private dropped = 0;
  private closed = false;
  private readonly onMessage = (worker: Worker, message: unknown) => this.receive(worker, message);
  private readonly onGone = (worker: Worker) => this.forget(worker);

  constructor(options: ClusterRelayOptions = {}) {
    this.cluster = options.cluster ?? nodeCluster;
    if (!this.cluster.isPrimary) throw new Error("ClusterRelay runs in the cluster's primary process");
    if (clustersWithClusterRelay.has(this.cluster))
      throw new Error(
        "this primary already has a ClusterRelay: one serves every server's namespaces; close the other first",
      );
    this.bytes = options.bytes;
    this.maxPendingBytes = options.maxPendingBytes ?? 8 * 1024 * 1024;
    // Not a number (a string like "16MB", NaN) or not above 0, every publish would count as past it and be
    // dropped for good: refused here instead (review 133).
    if (typeof this.maxPendingBytes !== "number" || !(this.maxPendingBytes > 0))
      throw new TypeError("ClusterRelay: options.maxPendingBytes must be a number above 0.");
    this.onOverflow = options.onOverflow;
    clustersWithClusterRelay.add(this.cluster);
    this.cluster.on("message", this.onMessage);
    this.cluster.on("disconnect", this.onGone);
    this.cluster.on("exit", this.onGone);
  }

  get stats(): ClusterRelayStats {
    let pendingBytes = 0;
    for (const backlog of this.backlogs.values()) pendingBytes += backlog.bytes;
    return { published: this.published, delivered: this.delivered, dropped: this.dropped, pendingBytes };
  }

  /** Workers subscribed to `topic` now. */
  subscribers(topic: string, namespace = "default"): number {
    return this.subscriptions.workers(namespace, topic)?.size ?? 0;
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
    clustersWithClusterRelay.delete(this.cluster);
    this.cluster.off("message", this.onMessage);
    this.cluster.off("disconnect", this.onGone);
    this.cluster.off("exit", this.onGone);
    this.subscriptions.clear();
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
    if (m.op === "sub") this.add(worker, m.ns, m.topic);
    else this.subscriptions.remove(worker, m.ns, m.topic);
    // An ack is small and always goes: a subscribe must not time out because of the backlog.
    this.send(worker, { sockjet: PUBSUB_TAG, op: "ack", ns: m.ns, id: m.id }, 0);
  }

  /**
   * A batch of publishes to the workers subscribed to each one's topic but `from`: one IPC message per
   * worker, its items in the batch's order. Returns the copies sent.
   */
  private deliver(ns: string, items: WireItem[], from: Worker | null): number {
    const batches = new Map<Worker, WireItem[]>();
    for (const item of items) {
      const workers = this.subscriptions.workers(ns, item[0]);
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
      if (this.overflowing(worker, batch.length)) continue;
      if (this.send(worker, { sockjet: PUBSUB_TAG, op: "msgs", ns, items: batch }, batchBytes(batch)))
        count += batch.length;
    }
    this.delivered += count;
    return count;
  }

  private add(worker: Worker, namespace: string, topic: string): void {
    // A worker already gone (its exit came first) is not subscribed again.
    if (this.closed || !worker.isConnected()) return;
    this.subscriptions.add(worker, namespace, topic);
  }

  private forget(worker: Worker): void {
    this.subscriptions.forget(worker);
    this.backlogs.delete(worker);
  }

  /** Whether `worker`'s channel is too full to take `count` more publishes now (they are dropped). */
  private overflowing(worker: Worker, count: number): boolean {
    const backlog = this.backlogs.get(worker);
    if (backlog === undefined) return false;
    // Once dropping, it stays so until half the limit has drained (not one publish in, one out).
    if (backlog.dropped < 0 && backlog.bytes < this.maxPendingBytes) return false;
    this.dropped += count;
    if (backlog.dropped < 0) {
      backlog.dropped = count;
      this.onOverflow?.({ worker, state: "dropping", dropped: count, pendingBytes: backlog.bytes });
    } else {
      backlog.dropped += count;
    }
    return true;
  }

  /** Sends to a worker that may be going away, counting `bytes` until its channel has taken them. */
  private send(worker: Worker, message: ToWorker, bytes: number): boolean {
    if (!worker.isConnected()) return false;
    let backlog = this.backlogs.get(worker);
    if (backlog === undefined) this.backlogs.set(worker, (backlog = { bytes: 0, dropped: -1 }));
    backlog.bytes += bytes;
    const written = backlog;
    // The callback runs once the message is written to the channel, or could not be (a channel that closes
    // under the write reports it here, not as an 'error' on the worker).
    worker.send(message, undefined, () => {
      written.bytes -= bytes;
      // Half the limit drained: that worker takes publishes again.
      if (written.dropped >= 0 && written.bytes < this.maxPendingBytes / 2) {
        const dropped = written.dropped;
        written.dropped = -1;
        if (this.backlogs.get(worker) === written)
          this.onOverflow?.({ worker, state: "recovered", dropped, pendingBytes: written.bytes });
      }
    });
    return true;
  }
}

/** About the bytes a batch takes on the channel (payloads and topics; text counted as one byte a unit). */
function batchBytes(items: WireItem[]): number {
  let bytes = 0;
  for (const [topic, payload] of items) bytes += topic.length + payload.length + 16;
  return bytes;
}
