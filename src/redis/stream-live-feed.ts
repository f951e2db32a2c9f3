// The live side of RedisStreamStore: the messages heard on the topics' channels, handed over in stream order,
// each once, with none missing. Redis pub/sub is at-most-once (a message published while this process's
// subscriber connection is down is never heard), so every live message carries the id of the entry before
// it: when that is not the last id handed over, the feed reads the missed entries back from the stream
// (holding the live messages that arrive meanwhile) before it goes on.
//
// A message this process appended is handed over only once its append() has settled (the ResumeStore
// contract: the server learns the position first), and the messages behind it wait for it, in order.

import type { StoredMessage } from "../server/resume-store.js";
import { compareStreamIds, decodeLiveMessage, type LiveMessage } from "./stream-scripts.js";

export interface LiveFeedHooks {
  /** This store's id in the live messages it publishes. */
  readonly publisher: string;
  /** Whether this store's append of `position` has settled, or no append of this store is in flight. */
  released(topic: string, position: string): boolean;
  /** The store's readAfter. */
  read(topic: string, after: string, limit: number): Promise<StoredMessage[] | null>;
  /** `publisher`: the publishing store's id ("" when read back: not known). */
  deliver(topic: string, message: StoredMessage, publisher: string): void;
  error(error: Error): void;
}

/** One followed topic's state (add() hands it out for start(); the rest is the feed's own). */
export interface TopicFeed {
  topic: string;
  /** The last position handed over; null until the first live message after subscribing. */
  last: string | null;
  /** A read-back is running; live messages wait in `held`. */
  catchingUp: boolean;
  held: LiveMessage[];
  /** Accepted in order, waiting for an own message at their head to be released. */
  outbox: LiveMessage[];
  /** Read-backs failed in a row (one error is reported per streak). */
  failures: number;
}

/** Entries read back per call while catching up. */
const CATCH_UP_PAGE = 1000;
/** Wait before a failed read-back is tried again (Redis away: its return triggers one at once too). */
const RETRY_MS = 500;

/** Error raised (to onError) when live messages were missed and the stream no longer holds them. */
export class RedisStreamGapError extends Error {
  readonly code = "SJ_ERR_REDIS_STREAM_GAP";
  constructor(readonly topic: string) {
    super(`Live messages of topic "${topic}" were missed and the stream no longer holds them`);
    this.name = "RedisStreamGapError";
  }
}

export class LiveFeed {
  /** Channel → feed, for the topics subscribed. */
  private readonly byChannel = new Map<string, TopicFeed>();
  private readonly byTopic = new Map<string, string>();
  private readonly retries = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Messages on our channels that are not in our format. */
  malformed = 0;

  constructor(private readonly hooks: LiveFeedHooks) {}

  /**
   * Starts following a topic: its feed, for start(); null when it was followed already. A topic removed and
   * added again gets a new feed (the old one's start() then does nothing).
   */
  add(topic: string, channel: string): TopicFeed | null {
    if (this.byTopic.has(topic)) return null;
    this.byTopic.set(topic, channel);
    // Live messages are held until start() says where the stream stood.
    const feed: TopicFeed = { topic, last: null, catchingUp: true, held: [], outbox: [], failures: 0 };
    this.byChannel.set(channel, feed);
    return feed;
  }

  /** Whether the topic of a channel is followed (added and not removed since). */
  followsChannel(channel: string): boolean {
    return this.byChannel.has(channel);
  }

  /**
   * Where a topic's stream stood when add() gave `feed` (null: unknown, Redis did not answer): what was
   * appended after it is read back, then the live messages held meanwhile follow, each once.
   */
  start(feed: TopicFeed, position: string | null): void {
    if (this.byChannel.get(this.byTopic.get(feed.topic) ?? "") !== feed || feed.last !== null) return;
    if (position === null) {
      feed.catchingUp = false;
      this.releaseHeld(feed);
      return;
    }
    feed.last = position;
    this.catchUp(feed);
  }

  /** The channels of the topics followed. */
  channels(): string[] {
    return [...this.byChannel.keys()];
  }

  /** Stops following a topic; false when it was not followed. */
  remove(topic: string): boolean {
    const channel = this.byTopic.get(topic);
    if (channel === undefined) return false;
    this.byTopic.delete(topic);
    this.byChannel.delete(channel);
    return true;
  }

  receive(channel: string, raw: Buffer): void {
    const feed = this.byChannel.get(channel);
    if (feed === undefined) return; // unsubscribed meanwhile
    const message = decodeLiveMessage(raw);
    if (message === null) {
      this.malformed++;
      return;
    }
    if (feed.catchingUp) {
      feed.held.push(message);
      return;
    }
    if (feed.last !== null && compareStreamIds(message.position, feed.last) <= 0) return; // read back already
    if (feed.last !== null && message.previous !== feed.last) {
      feed.held.push(message);
      this.catchUp(feed);
      return;
    }
    this.handOver(feed, message);
  }

  /** After the subscriber connection came back: read back what every followed topic missed meanwhile. */
  catchUpAll(): void {
    for (const feed of this.byChannel.values())
      if (feed.last !== null && !feed.catchingUp) this.catchUp(feed);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    this.byChannel.clear();
    this.byTopic.clear();
  }

  /** An append of this store settled: what waited for it goes. */
  released(topic: string): void {
    const feed = this.byChannel.get(this.byTopic.get(topic) ?? "");
    if (feed !== undefined) this.drain(feed);
  }

  private handOver(feed: TopicFeed, message: LiveMessage): void {
    feed.last = message.position;
    feed.outbox.push(message);
    this.drain(feed);
  }

  private drain(feed: TopicFeed): void {
    let sent = 0;
    for (const message of feed.outbox) {
      if (message.publisher === this.hooks.publisher && !this.hooks.released(feed.topic, message.position))
        break;
      sent++;
      const stored: StoredMessage = {
        position: message.position,
        payload: message.payload,
        isText: message.isText,
      };
      if (message.session !== undefined) stored.publisher = message.session;
      this.hooks.deliver(feed.topic, stored, message.publisher);
    }
    if (sent > 0) feed.outbox.splice(0, sent);
  }

  private catchUp(feed: TopicFeed): void {
    feed.catchingUp = true;
    this.readBack(feed).then(
      () => {
        feed.catchingUp = false;
        feed.failures = 0;
        this.releaseHeld(feed);
      },
      (error: Error) => {
        if (this.closed || this.byChannel.get(this.byTopic.get(feed.topic) ?? "") !== feed) return;
        if (++feed.failures === 1) this.hooks.error(error);
        const timer = setTimeout(() => {
          this.retries.delete(timer);
          if (!this.closed) this.catchUp(feed);
        }, RETRY_MS);
        this.retries.add(timer);
      },
    );
  }

  /** Hands over every entry after feed.last, in order, to the end of the stream as it is now. */
  private async readBack(feed: TopicFeed): Promise<void> {
    for (;;) {
      if (this.closed || feed.last === null) return;
      const page = await this.hooks.read(feed.topic, feed.last, CATCH_UP_PAGE);
      if (page === null) {
        // Trimmed past what was missed: say so, and go on from the held live messages.
        this.hooks.error(new RedisStreamGapError(feed.topic));
        feed.last = null;
        return;
      }
      // Read back: the publisher is not known (such a message is not held for its append).
      for (const message of page)
        if (feed.last === null || compareStreamIds(message.position, feed.last) > 0)
          this.handOver(feed, {
            position: message.position,
            payload: message.payload,
            isText: message.isText,
            publisher: "",
            session: message.publisher,
            previous: feed.last ?? "",
          });
      if (page.length < CATCH_UP_PAGE) return;
    }
  }

  private releaseHeld(feed: TopicFeed): void {
    const held = feed.held;
    feed.held = [];
    for (let i = 0; i < held.length; i++) {
      const message = held[i];
      if (feed.last !== null && compareStreamIds(message.position, feed.last) <= 0) continue;
      if (feed.last !== null && message.previous !== feed.last) {
        // Still a hole (appended after the read-back's last page): read again, keeping the rest.
        feed.held = held.slice(i);
        this.catchUp(feed);
        return;
      }
      this.handOver(feed, message);
    }
  }
}
