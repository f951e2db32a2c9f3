import { deliverPublished, WebSocket } from "../web/websocket.js";
import type { FanOutCounters, SharedMessage } from "./shared-message.js";
import { type PositionedMessage, type TopicReceiver, TopicReceivers } from "./topic-receivers.js";

// In-process topics: which sockets listen to which topic, and the fan-out of one published message to all
// of them. A message is framed once (server frames are unmasked, so every subscriber can take the same
// bytes) and the same Buffer is handed to every subscriber's connection; each connection's OutputBatcher
// then coalesces the frames of a burst of publishes into one write per connection. Subscribers with
// permessage-deflate cannot take that frame; where their compressor keeps no context (RFC 7692 §7.1.1.1,
// the server's default) the payload is compressed once per compressor configuration and each of them
// only frames the shared bytes, in its own send order.

/** A topic name must be a non-empty, well-formed string (it is also a Redis channel name, in UTF-8). */
export function checkTopic(topic: unknown, method: string): string {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError(`Failed to execute '${method}': the topic must be a non-empty string.`);
  }
  if (!topic.isWellFormed()) {
    throw new TypeError(`Failed to execute '${method}': the topic contains a lone surrogate.`);
  }
  return topic;
}

export interface TopicEvents {
  /** The topic got its first local subscriber. */
  topicOpened(topic: string): void;
  /** The topic lost its last local subscriber. */
  topicClosed(topic: string): void;
}

export class TopicRegistry {
  /** topic → its subscribers, in subscription order. */
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  /** Per topic, its subscribers that take positioned messages, with their receiver (no lookup per delivery). */
  private readonly receiverSubscribers = new Map<string, TopicReceivers>();
  /** The number the next topic that gets receivers is given in envelopes. */
  private nextTopicId = 1;
  /** socket → its receiver, for the sockets that take positioned messages. */
  private readonly receivers = new Map<WebSocket, TopicReceiver>();
  /**
   * socket → its session's publisher id, kept after the socket closed (not deleted: weak): a socket.publish()
   * that runs after the connection dropped (an async handler) is still its session's publish.
   */
  private readonly publishers = new WeakMap<WebSocket, string>();
  /** publisher id → the socket its session is on now (after a resume, not the one that published). */
  private readonly socketsByPublisher = new Map<string, WebSocket>();
  /** socket → its topics, in subscription order. */
  private readonly topicsBySocket = new Map<WebSocket, Set<string>>();
  /**
   * Resume connections whose session is not set up yet (docs/resume.md): what the app subscribes (true) or
   * unsubscribes (false) then (the socket is in `server.clients` already) is kept here, topic by topic, and
   * nothing of it delivered: a plain subscription would reach the client without its envelope, which breaks
   * the wire format, and the resume may yet restore its session's topics (or end in a fresh session without
   * them). It is applied once the session is set up (releasePending); a socket that closes first drops it.
   */
  private readonly pendingTopics = new Map<WebSocket, Map<string, boolean>>();
  private readonly events: TopicEvents;
  readonly counters: FanOutCounters = { framesEncoded: 0, delivered: 0, dropped: 0, sharedCompressions: 0 };

  constructor(events: TopicEvents) {
    this.events = events;
  }

  /**
   * The app's subscribe(). A resume connection whose session is not set up yet (its hello being handled, a
   * resume's replay being read) keeps the topic pending until releasePending(): nothing of it may reach the
   * client before its session, and a resume that ends in a fresh session must not lose it.
   */
  subscribe(socket: WebSocket, topic: string): boolean {
    const pending = this.pendingTopics.size === 0 ? undefined : this.pendingTopics.get(socket);
    if (pending !== undefined && socket.readyState !== WebSocket.CLOSED) {
      const subscribed = this.isSubscribed(socket, topic);
      // Kept even when a restored topic has it already: a resume that ends in a gap drops those.
      pending.set(topic, true);
      return !subscribed;
    }
    return this.subscribeNow(socket, topic);
  }

  /** Subscribes at once: the app's subscribe() outside a session's setup, and a resume restoring its topics. */
  subscribeNow(socket: WebSocket, topic: string): boolean {
    // A closed socket has been auto-unsubscribed already: adding it again would leak it.
    if (socket.readyState === WebSocket.CLOSED) return false;
    let topics = this.topicsBySocket.get(socket);
    if (topics?.has(topic)) return false;
    if (topics === undefined) {
      topics = new Set();
      this.topicsBySocket.set(socket, topics);
    }
    topics.add(topic);
    const receiver = this.receivers.size === 0 ? undefined : this.receivers.get(socket);
    // The store or adapter is told first: a resumable session's subscribed() then asks the store where the
    // topic stands, and a store that answers requests in order (the cluster's) answers after the topic is
    // handed over, so that nothing appended after that position misses this process.
    if (!this.subscribers.has(topic) && !this.receiverSubscribers.has(topic)) this.events.topicOpened(topic);
    if (receiver === undefined) {
      let members = this.subscribers.get(topic);
      if (members === undefined) this.subscribers.set(topic, (members = new Set()));
      members.add(socket);
    } else {
      let receivers = this.receiverSubscribers.get(topic);
      if (receivers === undefined)
        this.receiverSubscribers.set(topic, (receivers = new TopicReceivers(this.nextTopicId++)));
      receivers.members.set(socket, receiver);
      // Told first: a subscription whose start the store has yet to give holds its messages (replaying).
      receiver.subscribed(topic, receivers.id);
      if (!receiver.replaying) receivers.live.add(socket);
    }
    return true;
  }

  /** The publisher id of `socket`'s resumable session (also once the socket has closed), if it has one. */
  publisherOf(socket: WebSocket): string | undefined {
    return this.publishers.get(socket);
  }

  /** `socket`'s receiver has no replay running any more: it takes the shared envelope of its topics as it is. */
  receiverCaughtUp(socket: WebSocket): void {
    for (const topic of this.topicsBySocket.get(socket) ?? []) {
      const receivers = this.receiverSubscribers.get(topic);
      if (receivers?.members.has(socket)) receivers.live.add(socket);
    }
  }

  /** A resume connection waiting for its hello: its subscriptions wait until releasePending(). */
  holdSubscriptions(socket: WebSocket): void {
    this.pendingTopics.set(socket, new Map());
  }

  /** The session of `socket` is set up: what the app (un)subscribed it meanwhile applies to the session. */
  releasePending(socket: WebSocket): void {
    const topics = this.pendingTopics.get(socket);
    if (topics === undefined) return;
    this.pendingTopics.delete(socket);
    for (const [topic, subscribed] of topics) {
      if (subscribed) this.subscribeNow(socket, topic);
      else this.unsubscribe(socket, topic);
    }
  }

  /** Whether the app unsubscribed `socket` from `topic` while its session is being set up (not to restore). */
  leftBeforeSession(socket: WebSocket, topic: string): boolean {
    return this.pendingTopics.get(socket)?.get(topic) === false;
  }

  /** The socket closed before its session was set up. */
  dropPending(socket: WebSocket): void {
    this.pendingTopics.delete(socket);
  }

  /** From now on `socket` takes positioned messages through `receiver` (set before it subscribes). */
  setReceiver(socket: WebSocket, receiver: TopicReceiver): void {
    this.receivers.set(socket, receiver);
    const publisher = receiver.publisher;
    if (publisher === undefined) return;
    this.publishers.set(socket, publisher);
    this.socketsByPublisher.set(publisher, socket);
  }

  unsubscribe(socket: WebSocket, topic: string): boolean {
    const pending = this.pendingTopics.size === 0 ? undefined : this.pendingTopics.get(socket);
    if (pending !== undefined) {
      const subscribed = this.isSubscribed(socket, topic);
      // Kept: the resume may restore the topic after this (its record still being taken).
      pending.set(topic, false);
      if (!this.topicsBySocket.get(socket)?.has(topic)) return subscribed;
    }
    const topics = this.topicsBySocket.get(socket);
    if (topics === undefined || !topics.delete(topic)) return false;
    if (topics.size === 0) this.topicsBySocket.delete(socket);
    this.leave(socket, topic);
    return true;
  }

  /** Unsubscribes a socket from everything (it closed). */
  removeSocket(socket: WebSocket): void {
    const topics = this.topicsBySocket.get(socket);
    // The receiver goes first: it is not told of these leaves (a closed session keeps its topics).
    const publisher = this.receivers.get(socket)?.publisher;
    this.receivers.delete(socket);
    // A resumed session may be on a new socket already: that one stays its session's.
    if (publisher !== undefined && this.socketsByPublisher.get(publisher) === socket)
      this.socketsByPublisher.delete(publisher);
    if (topics === undefined) return;
    this.topicsBySocket.delete(socket);
    for (const topic of topics) this.leave(socket, topic);
  }

  isSubscribed(socket: WebSocket, topic: string): boolean {
    const pending = this.pendingTopics.size === 0 ? undefined : this.pendingTopics.get(socket)?.get(topic);
    if (pending !== undefined) return pending;
    return this.topicsBySocket.get(socket)?.has(topic) ?? false;
  }

  topicsOf(socket: WebSocket): readonly string[] {
    const pending = this.pendingTopics.get(socket);
    const topics = [...(this.topicsBySocket.get(socket) ?? [])].filter(
      (topic) => pending?.get(topic) !== false,
    );
    for (const [topic, subscribed] of pending ?? [])
      if (subscribed && !topics.includes(topic)) topics.push(topic);
    return Object.freeze(topics);
  }

  subscriberCount(topic: string): number {
    return (this.subscribers.get(topic)?.size ?? 0) + (this.receiverSubscribers.get(topic)?.size ?? 0);
  }

  /** Writes `message` to every local subscriber of `topic` but `except`; returns how many took it. */
  fanOut(topic: string, message: SharedMessage, except: WebSocket | null): number {
    const members = this.subscribers.get(topic);
    if (members === undefined) return 0;
    return this.deliverAll(members, message, except, null);
  }

  /**
   * The fan-out loop, one for plain subscribers and live receivers alike (the same code, so the same
   * optimized machine code, on both paths). A receiver's dropped message goes to its session (`receivers`).
   */
  private deliverAll(
    members: Set<WebSocket>,
    message: SharedMessage,
    except: WebSocket | null,
    receivers: TopicReceivers | null,
  ): number {
    let delivered = 0;
    let dropped = 0;
    for (const socket of members) {
      if (socket === except) continue;
      // A slow or closing subscriber is skipped (or failed by its connection), never waited for.
      if (deliverPublished(socket, message)) delivered++;
      else {
        dropped++;
        receivers?.members.get(socket)?.dropped();
      }
    }
    this.counters.delivered += delivered;
    this.counters.dropped += dropped;
    return delivered;
  }

  /**
   * fanOut() for a message with a position: the plain subscribers get it plain, the receivers enveloped. A
   * session's own message (socket.publish) goes to none of its sockets (docs/resume.md, "Guarantees"): after
   * a resume that is a new socket, not `except`, which may have published after its connection dropped.
   */
  fanOutPositioned(message: PositionedMessage, except: WebSocket | null): number {
    let delivered = this.fanOut(message.topic, message.plain, except);
    const receivers = this.receiverSubscribers.get(message.topic);
    if (receivers === undefined) return delivered;
    message.topicId = receivers.id;
    // No check per delivery: the session's current socket is the receivers' `except` (the socket that
    // published, if it is still open, is that one; if it is not, it takes no message any more).
    const own =
      message.publisher === undefined ? except : (this.socketsByPublisher.get(message.publisher) ?? except);
    // Built once for every receiver (frame-once); a receiver with no replay running takes it as it is.
    delivered += this.deliverAll(receivers.live, message.enveloped(this.counters), own, receivers);
    if (receivers.live.size === receivers.members.size) return delivered;
    // The others, through their session (held during their replay, or checked against its last position).
    let dropped = 0;
    let receiversDelivered = 0;
    for (const receiver of receivers.members.values()) {
      const socket = receiver.socket;
      if (socket === own || receivers.live.has(socket)) continue;
      if (receiver.receive(message.topic, message)) receiversDelivered++;
      else dropped++;
    }
    delivered += receiversDelivered;
    this.counters.delivered += receiversDelivered;
    this.counters.dropped += dropped;
    return delivered;
  }

  private leave(socket: WebSocket, topic: string): void {
    const receiver = this.receivers.size === 0 ? undefined : this.receivers.get(socket);
    const positioned = this.receiverSubscribers.get(topic);
    const sets: Map<string, { delete(socket: WebSocket): boolean; readonly size: number }> =
      positioned?.members.has(socket) === true ? this.receiverSubscribers : this.subscribers;
    const members = sets.get(topic);
    if (members === undefined || !members.delete(socket)) return;
    receiver?.unsubscribed(topic);
    if (members.size === 0) {
      sets.delete(topic);
      if (!this.subscribers.has(topic) && !this.receiverSubscribers.has(topic))
        this.events.topicClosed(topic);
    }
  }
}
