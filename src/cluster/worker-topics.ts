import type { Worker } from "node:cluster";

// Which workers follow which topic, per namespace: the primary's bookkeeping shared by ClusterRelay (live
// pub/sub) and ClusterResumeHost (resume). A worker is forgotten at once when it disconnects or exits.

export class WorkerTopics {
  /** Subscribed workers by namespace and topic. */
  private readonly topics = new Map<string, Set<Worker>>();
  /** The topic keys of each worker, to forget it at once. */
  private readonly byWorker = new Map<Worker, Set<string>>();

  /** The workers subscribed to `topic` of `namespace` (undefined: none). */
  workers(namespace: string, topic: string): ReadonlySet<Worker> | undefined {
    return this.topics.get(key(namespace, topic));
  }

  add(worker: Worker, namespace: string, topic: string): void {
    const topicKey = key(namespace, topic);
    let workers = this.topics.get(topicKey);
    if (workers === undefined) this.topics.set(topicKey, (workers = new Set()));
    workers.add(worker);
    let keys = this.byWorker.get(worker);
    if (keys === undefined) this.byWorker.set(worker, (keys = new Set()));
    keys.add(topicKey);
  }

  remove(worker: Worker, namespace: string, topic: string): void {
    const topicKey = key(namespace, topic);
    const workers = this.topics.get(topicKey);
    workers?.delete(worker);
    if (workers?.size === 0) this.topics.delete(topicKey);
    this.byWorker.get(worker)?.delete(topicKey);
  }

  forget(worker: Worker): void {
    for (const topicKey of this.byWorker.get(worker) ?? []) {
      const workers = this.topics.get(topicKey);
      workers?.delete(worker);
      if (workers?.size === 0) this.topics.delete(topicKey);
    }
    this.byWorker.delete(worker);
  }

  clear(): void {
    this.topics.clear();
    this.byWorker.clear();
  }
}

function key(namespace: string, topic: string): string {
  return `${namespace}\u0000${topic}`;
}
