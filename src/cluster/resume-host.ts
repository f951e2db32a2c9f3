import nodeCluster, { type Cluster, type Worker } from "node:cluster";
import { MemoryResumeStore, type MemoryResumeStoreOptions } from "../server/memory-resume-store.js";
import type { StoredMessage } from "../server/resume-store.js";
import {
  type AppendedItem,
  isAppendItem,
  isResumeMessage,
  isSessionRecord,
  RESUME_TAG,
  type ReadItem,
  type ResumeMessages,
  type ResumeReply,
} from "./resume-wire.js";
import { decodePayload, encodePayload } from "./wire.js";
import { WorkerTopics } from "./worker-topics.js";

// The primary's half of the ClusterResumeStore (resume-store.ts in this folder): the one ordering point of
// the workers' resume stores. It holds a MemoryResumeStore per namespace, so positions, the last messages of
// each topic and the records of sessions live in the primary and outlive any worker. An append from a worker
// gets its position here, is answered, and is then sent to every worker subscribed to its topic (the
// publisher's included) in position order: the primary handles one IPC message at a time, and each worker's
// channel is a stream. Workers are forgotten when they disconnect or exit; their sessions stay.

/** Options of a ClusterResumeHost. */
export interface ClusterResumeHostOptions extends MemoryResumeStoreOptions {
  /** The cluster whose workers to serve. Default: node:cluster. */
  cluster?: Cluster;
  /**
   * Whether binary payloads go to the workers as bytes: they were forked with serialization "advanced".
   * Default: what the cluster's settings say.
   */
  bytes?: boolean;
  /**
   * Bytes (about: payloads and topics) sent to one worker and not yet written to its channel, past which that
   * worker is stuck (its event loop blocked or stopped): its channel would grow in this process without bound.
   * Default 64 MiB.
   */
  maxPendingBytes?: number;
  /**
   * Called once for a stuck worker. Default: the worker is killed (SIGKILL): dropping messages on its way
   * would be a gap its resume sessions cannot see, while its clients reconnect to the other workers (or to its
   * replacement) and resume from this host with nothing lost.
   */
  onOverflow?: (worker: Worker, pendingBytes: number) => void;
}

/** Counters of a ClusterResumeHost. */
export interface ClusterResumeHostStats {
  /** Messages appended (by workers and by the primary). */
  appended: number;
  /** Copies sent to workers. */
  delivered: number;
  /** Workers found stuck past maxPendingBytes (onOverflow). */
  overflowed: number;
}

/**
 * Clusters with an open ClusterResumeHost: a second one would answer every worker's requests as well, and each
 * message would be delivered twice, so it is refused (as a second ClusterAdapter/ClusterResumeStore in a worker).
 */
const clustersWithClusterResumeHost = new WeakSet<Cluster>();

/** Serves the ClusterResumeStores of a cluster's workers; create one in the primary, before forking. */
export class ClusterResumeHost {
  private readonly cluster: Cluster;
  private readonly bytesOption: boolean | undefined;
  private readonly storeOptions: MemoryResumeStoreOptions;
  private readonly stores = new Map<string, MemoryResumeStore>();
  private readonly subscriptions = new WorkerTopics();
  private readonly maxPendingBytes: number;
  private readonly onOverflow: (worker: Worker, pendingBytes: number) => void;
  /** Bytes sent to each worker and not yet written to its channel. */
  private readonly pending = new Map<Worker, number>();
  private appended = 0;
  private delivered = 0;
  private overflowed = 0;
  private closed = false;
  private readonly onMessage = (worker: Worker, message: unknown) => this.receive(worker, message);
  private readonly onGone = (worker: Worker) => this.forget(worker);

  constructor(options: ClusterResumeHostOptions = {}) {
    const { cluster, bytes, maxPendingBytes, onOverflow, ...storeOptions } = options;
    this.maxPendingBytes = maxPendingBytes ?? 64 * 1024 * 1024;
    if (!(this.maxPendingBytes > 0))
      throw new TypeError("ClusterResumeHost: options.maxPendingBytes must be a number above 0.");
    this.onOverflow = onOverflow ?? ((worker) => worker.process.kill("SIGKILL"));
    this.cluster = cluster ?? nodeCluster;
    if (!this.cluster.isPrimary) throw new Error("ClusterResumeHost runs in the cluster's primary process");
    if (clustersWithClusterResumeHost.has(this.cluster))
      throw new Error(
        "this primary already has a ClusterResumeHost: one serves every server's namespaces; close the other first",
      );
    this.bytesOption = bytes;
    // Checked now (a bad bound is a TypeError here, not in the first worker's request).
    new MemoryResumeStore(storeOptions);
    this.storeOptions = storeOptions;
    clustersWithClusterResumeHost.add(this.cluster);
    this.cluster.on("message", this.onMessage);
    this.cluster.on("disconnect", this.onGone);
    this.cluster.on("exit", this.onGone);
  }

  get stats(): ClusterResumeHostStats {
    return { appended: this.appended, delivered: this.delivered, overflowed: this.overflowed };
  }

  /** Workers subscribed to `topic` now. */
  subscribers(topic: string, namespace = "default"): number {
    return this.subscriptions.workers(namespace, topic)?.size ?? 0;
  }

  /** The store of a namespace (for tests and stats: its sessionCount). */
  store(namespace = "default"): MemoryResumeStore {
    let store = this.stores.get(namespace);
    if (store === undefined) this.stores.set(namespace, (store = new MemoryResumeStore(this.storeOptions)));
    return store;
  }

  /**
   * A publish made by the primary itself (serve announces a dead worker's members this way): appended, then
   * sent to every worker subscribed to `topic`. Returns its position. The bytes are those at the time of
   * the call, as for `server.publish()`: a Buffer is copied (kept for replays, the app may change it after).
   */
  publish(topic: string, data: string | Buffer, namespace = "default"): string {
    const isText = typeof data === "string";
    const payload = isText ? Buffer.from(data, "utf8") : Buffer.from(data);
    const position = this.store(namespace).append(topic, payload, isText);
    this.appended++;
    this.deliver(namespace, [{ topic, message: { position, payload, isText } }]);
    return position;
  }

  /** Stops serving; the workers' requests time out from now on. What the stores hold is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clustersWithClusterResumeHost.delete(this.cluster);
    this.cluster.off("message", this.onMessage);
    this.cluster.off("disconnect", this.onGone);
    this.cluster.off("exit", this.onGone);
    for (const store of this.stores.values()) void store.close();
    this.stores.clear();
    this.subscriptions.clear();
  }

  private receive(worker: Worker, message: unknown): void {
    if (!isResumeMessage(message)) return;
    const request = message as { op: string; ns: string; id?: unknown } & Record<string, unknown>;
    if (typeof request.id !== "number") return;
    const { ns, id } = request;
    const answer = (ok: boolean, value?: unknown, error?: string): void => {
      send(worker, { sockjet: RESUME_TAG, ns, op: "reply", id, ok, value, error } satisfies ResumeReply);
    };
    let value: unknown;
    try {
      value = this.serve(worker, request);
    } catch (error) {
      answer(false, undefined, (error as Error).message);
      return;
    }
    // The memory store's promises are settled already: a read sees every append made before it.
    if (value instanceof Promise) value.then((settled) => answer(true, settled));
    else answer(true, value);
    if (request.op === "append") this.deliver(ns, this.justAppended.splice(0));
  }

  /** Appended by the request being served: sent to the subscribers after its reply. */
  private readonly justAppended: { topic: string; message: StoredMessage }[] = [];

  /** Does what a request asks; its answer's value. Throws on a malformed request. */
  private serve(worker: Worker, request: { op: string; ns: string } & Record<string, unknown>): unknown {
    const { ns, topic } = request;
    const bad = new Error(`malformed '${request.op}' request`);
    const store = this.store(ns);
    switch (request.op) {
      case "append": {
        if (!Array.isArray(request.items) || !request.items.every(isAppendItem)) throw bad;
        const positions: string[] = [];
        for (const [itemTopic, wirePayload, isText, publisher] of request.items) {
          const payload = decodePayload(wirePayload, isText)!;
          const owner = typeof publisher === "string" ? publisher : undefined;
          const position = store.append(itemTopic, payload, isText, owner);
          positions.push(position);
          const message: StoredMessage = { position, payload, isText };
          if (owner !== undefined) message.publisher = owner;
          this.justAppended.push({ topic: itemTopic, message });
        }
        this.appended += positions.length;
        return positions;
      }
      case "sub":
      case "unsub":
        if (typeof topic !== "string") throw bad;
        if (request.op === "sub") this.add(worker, ns, topic);
        else this.subscriptions.remove(worker, ns, topic);
        return undefined;
      case "last":
        if (typeof topic !== "string") throw bad;
        return store.lastPosition(topic);
      case "read": {
        const { after, limit } = request;
        if (typeof topic !== "string" || typeof after !== "string" || typeof limit !== "number") throw bad;
        const bytes = this.bytes();
        return store
          .readAfter(topic, after, limit)
          .then((messages) =>
            messages === null
              ? null
              : messages.map(
                  (m): ReadItem =>
                    m.publisher === undefined
                      ? [m.position, encodePayload(m.payload, m.isText, bytes), m.isText]
                      : [m.position, encodePayload(m.payload, m.isText, bytes), m.isText, m.publisher],
                ),
          );
      }
      case "save":
      case "putback": {
        const { session, record, ttlMs } = request;
        if (typeof session !== "string" || !isSessionRecord(record) || typeof ttlMs !== "number") throw bad;
        if (request.op === "save") return store.saveSession(session, record, ttlMs);
        return store.putBackSession?.(session, record, ttlMs);
      }
      case "take":
        if (typeof request.session !== "string") throw bad;
        return store.takeSession(request.session).then((record) => record ?? null);
      default:
        throw bad;
    }
  }

  /** Sends appended messages to the workers subscribed to their topics: one IPC message per worker. */
  private deliver(ns: string, appended: { topic: string; message: StoredMessage }[]): void {
    const bytes = this.bytes();
    const batches = new Map<Worker, AppendedItem[]>();
    for (const { topic, message } of appended) {
      const workers = this.subscriptions.workers(ns, topic);
      if (workers === undefined) continue;
      // Encoded once for every worker.
      const item: AppendedItem = [
        topic,
        encodePayload(message.payload, message.isText, bytes),
        message.isText,
        message.position,
      ];
      if (message.publisher !== undefined) item.push(message.publisher);
      for (const worker of workers) {
        const batch = batches.get(worker);
        if (batch === undefined) batches.set(worker, [item]);
        else batch.push(item);
      }
    }
    for (const [worker, items] of batches) {
      const waiting = this.pending.get(worker) ?? 0;
      if (waiting >= this.maxPendingBytes) {
        // Stuck: told once (it stays past the limit until it is gone), nothing more queued for it.
        if (waiting !== Number.POSITIVE_INFINITY) {
          this.pending.set(worker, Number.POSITIVE_INFINITY);
          this.overflowed++;
          this.onOverflow(worker, waiting);
        }
        continue;
      }
      let size = 0;
      for (const item of items) size += item[0].length + item[1].length + item[3].length + 16;
      this.pending.set(worker, waiting + size);
      const sent = send(
        worker,
        { sockjet: RESUME_TAG, ns, op: "msgs", items } satisfies ResumeMessages,
        () => {
          const now = this.pending.get(worker);
          if (now !== undefined && now !== Number.POSITIVE_INFINITY) this.pending.set(worker, now - size);
        },
      );
      if (sent) this.delivered += items.length;
    }
  }

  private bytes(): boolean {
    return this.bytesOption ?? this.cluster.settings.serialization === "advanced";
  }

  private add(worker: Worker, namespace: string, topic: string): void {
    // A worker already gone (its exit came first) is not subscribed again.
    if (this.closed || !worker.isConnected()) return;
    this.subscriptions.add(worker, namespace, topic);
  }

  private forget(worker: Worker): void {
    this.subscriptions.forget(worker);
    this.pending.delete(worker);
  }
}

/** Sends to a worker that may be going away: false when it cannot take messages any more. */
function send(
  worker: Worker,
  message: ResumeReply | ResumeMessages,
  written: () => void = () => {},
): boolean {
  if (!worker.isConnected()) return false;
  // The callback runs once the message is written to the channel, or could not be (a channel that closes
  // under the write reports it here, not as an 'error' on the worker).
  worker.send(message, undefined, written);
  return true;
}
