import type { AdapterMessage, PubSubAdapter } from "../server/adapter.js";

// `sockjet serve --workers N` without --redis: each worker's chat keeps its last lines in its own memory
// resume store, which hears the other workers' lines only while the worker follows the room's topic on the
// adapter. The server follows a topic while it has a local subscriber, so a worker whose last member dropped
// would stop hearing the room, and that member, resuming there, would get none of the lines said meanwhile
// (nothing would tell it: the memory store's positions are the worker's own). This adapter keeps the room's
// topic followed for the worker's whole life: every worker hears every line, as the room's members expect.

export class HeldTopicAdapter implements PubSubAdapter {
  private readonly inner: PubSubAdapter;
  private readonly topic: string;
  private readonly errorHandlers: ((error: Error) => void)[] = [];

  constructor(inner: PubSubAdapter, topic: string) {
    this.inner = inner;
    this.topic = topic;
  }

  publish(message: AdapterMessage): Promise<void> {
    return this.inner.publish(message);
  }

  subscribe(topic: string): Promise<void> {
    return this.inner.subscribe(topic);
  }

  unsubscribe(topic: string): Promise<void> {
    if (topic === this.topic) return Promise.resolve();
    return this.inner.unsubscribe(topic);
  }

  /** The server attaches here: the held topic is followed from now on. */
  onMessage(handler: (message: AdapterMessage) => void): void {
    this.inner.onMessage(handler);
    this.inner.subscribe(this.topic).catch((error: Error) => {
      for (const report of this.errorHandlers) report(error);
    });
  }

  onError(handler: (error: Error) => void): void {
    this.errorHandlers.push(handler);
    this.inner.onError?.(handler);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
