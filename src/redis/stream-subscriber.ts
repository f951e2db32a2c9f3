// The subscriber connection of RedisStreamStore (stream-store.ts): made at the first subscribe, one
// SUBSCRIBE/UNSUBSCRIBE of a channel at a time, and after each (re)connect every followed topic subscribed
// again and what was missed read back (stream-live-feed.ts). Apart from the store: the store runs commands on
// its command connection; this connection only listens, and has a life (connect, reconnect, restore) of its own.

import { ChannelQueue } from "./channel-queue.js";
import type { OwnConnections } from "./own-connections.js";
import type { LiveFeed } from "./stream-live-feed.js";
import { type RedisStoreClientLike, RedisStoreUnavailableError } from "./stream-store-options.js";

/** What the subscriber needs of its store. */
export interface StreamSubscriberContext {
  /** The store's command connection, which the subscriber connection duplicates. */
  readonly commands: RedisStoreClientLike;
  readonly feed: LiveFeed;
  /** SSUBSCRIBE (Redis Cluster, sharded pub/sub) rather than SUBSCRIBE. */
  readonly sharded: boolean;
  /** The heartbeat of the connections the store made, and their close after close(). */
  readonly own: OwnConnections;
  closed(): boolean;
  /** The connection failed (one report per outage). */
  lost(error: Error): void;
  /** The connection is back and its topics are subscribed again. */
  restored(): void;
  /** `call` on `client`, or a RedisTimeoutError after commandTimeoutMs. */
  bounded<T>(what: string, call: Promise<T>, client: RedisStoreClientLike): Promise<T>;
}

export class StreamSubscriber {
  private readonly context: StreamSubscriberContext;
  private client: RedisStoreClientLike | null = null;
  /** The first connect, while it is under way: every caller waits for it (issue 19 item 4). */
  private connecting: Promise<void> | null = null;
  /** SUBSCRIBE/UNSUBSCRIBE of one channel one at a time (a quick unsubscribe + subscribe must not lose it). */
  private readonly channelQueue = new ChannelQueue();
  private readonly onChannelMessage = (message: Buffer, channel: Buffer) =>
    this.context.feed.receive(channel.toString("utf8"), message);

  constructor(context: StreamSubscriberContext) {
    this.context = context;
  }

  /** The subscriber connection, once the first subscribe has made it. */
  get connection(): RedisStoreClientLike | null {
    return this.client;
  }

  /** Subscribes `channel`, connecting first if no subscribe has yet; throws while Redis is away. */
  async follow(channel: string): Promise<void> {
    const subscriber = await this.connect();
    // While Redis is away the topic stays wanted: it is subscribed when the connection is back (restore()).
    if (!subscriber.isReady) throw new RedisStoreUnavailableError("subscribe");
    // After an UNSUBSCRIBE of the channel still in flight (channel-queue.ts), unless unsubscribed again.
    const subscribing = this.channelQueue.run([channel], async () => {
      if (this.context.feed.followsChannel(channel)) await this.subscribeChannels(subscriber, [channel]);
    });
    await this.context.bounded("subscribe", subscribing, subscriber);
  }

  /** Unsubscribes `channel`, unless the connection is away (it is not restored then) or the store closed. */
  async unfollow(channel: string): Promise<void> {
    const subscriber = this.client;
    if (subscriber === null || !subscriber.isReady || this.context.closed()) return;
    // After a SUBSCRIBE still in flight; not at all if subscribed again meanwhile (channel-queue.ts).
    const unsubscribing = this.channelQueue.run([channel], async () => {
      if (this.context.feed.followsChannel(channel) || this.context.closed() || !subscriber.isReady) return;
      await (this.context.sharded ? subscriber.sUnsubscribe(channel) : subscriber.unsubscribe(channel));
    });
    await this.context.bounded("unsubscribe", unsubscribing, subscriber);
  }

  /** The subscriber connection, made and connected at the first subscribe. */
  private async connect(): Promise<RedisStoreClientLike> {
    if (this.client !== null) {
      // Another caller made it and is connecting it: wait for that rather than fail as "not connected".
      if (this.connecting !== null) await this.connecting;
      return this.client;
    }
    const { context } = this;
    const subscriber = context.commands.duplicate({ disableOfflineQueue: true });
    this.client = subscriber;
    subscriber.on("error", (error: Error) => context.lost(error));
    subscriber.on("ready", () => {
      if (context.closed()) return;
      this.restore(subscriber).then(
        () => context.restored(),
        (error: Error) => context.lost(error),
      );
    });
    context.own.watch(subscriber, "subscribing", () => subscriber.sendCommand(["PING"]));
    context.own.closeLate(subscriber);
    const connecting = context.bounded("connect", subscriber.connect(), subscriber).then(() => {});
    this.connecting = connecting;
    connecting
      .finally(() => {
        if (this.connecting === connecting) this.connecting = null;
      })
      .catch(() => {}); // the callers get the error
    await connecting;
    return subscriber;
  }

  /**
   * After a (re)connect: subscribe every followed topic (node-redis resubscribes those it had; for them this
   * adds the same listener again, a no-op), then read back what was published while the connection was down.
   */
  private async restore(subscriber: RedisStoreClientLike): Promise<void> {
    const { feed } = this.context;
    const channels = feed.channels();
    if (channels.length > 0) {
      // Behind the channels' commands in flight, like any subscribe; those unsubscribed meanwhile left out.
      const subscribing = this.channelQueue.run(channels, async () => {
        const wanted = channels.filter((channel) => feed.followsChannel(channel));
        if (wanted.length > 0 && !this.context.closed()) await this.subscribeChannels(subscriber, wanted);
      });
      await this.context.bounded("subscribe", subscribing, subscriber);
    }
    feed.catchUpAll();
  }

  private subscribeChannels(subscriber: RedisStoreClientLike, channels: string[]): Promise<void> {
    return this.context.sharded
      ? subscriber.sSubscribe(channels, this.onChannelMessage, true)
      : subscriber.subscribe(channels, this.onChannelMessage, true);
  }
}
