import { Opcode } from "../protocol/constants.js";
import type { SharedEncoder, TransformCallback } from "../protocol/extension.js";
import { encodeFrame } from "../protocol/frame-writer.js";
import type { PublishedMessage } from "../web/topic-hooks.js";
import { deliverPublished, WebSocket } from "../web/websocket.js";

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

/** Counters of the in-process fan-out. */
export interface FanOutCounters {
  /** Frames built by encodeFrame: at most one per published message, none when nobody takes raw bytes. */
  framesEncoded: number;
  /** Writes of a published message to a local subscriber. */
  delivered: number;
  /** Subscribers skipped: closing, or a "pause" slow consumer over maxBufferedBytes. */
  dropped: number;
  /** Compressions of a published payload shared by its permessage-deflate subscribers (one per configuration). */
  sharedCompressions: number;
}

/** One shared encoding of a message: running (waiters) or done (result or error). */
interface SharedEncoding {
  result: Buffer | undefined;
  error: Error | null;
  waiters: TransformCallback[] | null;
}

/** One published message: the payload, and its frame built at most once, on first use. */
export class SharedMessage implements PublishedMessage {
  readonly payload: Buffer;
  readonly isText: boolean;
  private framed: Buffer | null = null;
  /** Encodings by encoder key; nearly always one (every subscriber negotiated the server's defaults). */
  private encodings: Map<string, SharedEncoding> | null = null;
  private readonly counters: FanOutCounters;

  constructor(payload: Buffer, isText: boolean, counters: FanOutCounters) {
    this.payload = payload;
    this.isText = isText;
    this.counters = counters;
  }

  frame(): Buffer {
    if (this.framed === null) {
      // RFC 6455 §5.1: a server never masks, so these bytes are valid on every server-side connection.
      this.framed = encodeFrame(this.isText ? Opcode.Text : Opcode.Binary, this.payload, {
        fin: true,
        rsv1: false,
        maskKeys: null,
      });
      this.counters.framesEncoded++;
    }
    return this.framed;
  }

  encodedNow(encoder: SharedEncoder): Buffer | undefined {
    const encoding = this.encodings?.get(encoder.key);
    if (encoding !== undefined) return encoding.result;
    let result: Buffer | null;
    try {
      result = encoder.encodeNow(this.payload);
    } catch (error) {
      // Kept for encode(), which hands it to every subscriber (each fails with 1011).
      this.store(encoder.key, { result: undefined, error: error as Error, waiters: null });
      return undefined;
    }
    if (result === null) return undefined;
    this.store(encoder.key, { result, error: null, waiters: null });
    return result;
  }

  private store(key: string, encoding: SharedEncoding): void {
    (this.encodings ??= new Map()).set(key, encoding);
    this.counters.sharedCompressions++;
  }

  encode(encoder: SharedEncoder, callback: TransformCallback): void {
    const encoding = this.encodings?.get(encoder.key);
    if (encoding !== undefined) {
      if (encoding.waiters !== null) encoding.waiters.push(callback);
      else callback(encoding.error, encoding.result);
      return;
    }
    const started: SharedEncoding = { result: undefined, error: null, waiters: [callback] };
    this.store(encoder.key, started);
    encoder.encode(this.payload, (error, result) => {
      started.error = error;
      started.result = error === null ? result : undefined;
      const waiters = started.waiters!;
      started.waiters = null;
      // Each subscriber writes the frame in its own callback, in subscription order.
      for (const waiter of waiters) waiter(error, result);
    });
  }
}

/**
 * A subscriber that takes each topic message with its position (a resumable session, src/server/resume-
 * session.ts) instead of the plain frame. Its socket is kept apart from the plain subscribers, so that
 * these pay nothing for it.
 */
export interface TopicReceiver {
  readonly socket: WebSocket;
  /**
   * Whether its messages must go through receive() (a replay is held, or its seam checked); false: it takes
   * the shared envelope as it is, written straight to its socket (the fan-out's fast path). Once it turns
   * false, the receiver calls TopicRegistry.receiverCaughtUp().
   */
  readonly replaying: boolean;
  /** Writes one message of `topic`; false when it was dropped. */
  receive(topic: string, message: PositionedMessage): boolean;
  /** The fast path could not write a message to its socket: it must not go unnoticed (returns false). */
  dropped(): false;
  /** The socket was subscribed to `topic`, which this process numbers `topicId` in envelopes. */
  subscribed(topic: string, topicId: number): void;
  /** The socket left `topic` (not called when the socket closes: its session keeps its topics). */
  unsubscribed(topic: string): void;
  /** Who this socket publishes as, for the store (a replay leaves out the session's own messages). */
  readonly publisher?: string;
}

/** A published message with its position: the plain one, and its envelope built once for every receiver. */
export class PositionedMessage {
  readonly topic: string;
  readonly position: string;
  readonly plain: SharedMessage;
  /** The publisher id of the resumable session that published it (socket.publish), if any. */
  readonly publisher: string | undefined;
  /** The topic's number in envelopes, set by the registry as it delivers to receivers (0: none yet). */
  topicId = 0;
  private envelope: SharedMessage | null = null;
  private readonly wrap: (topicId: number, position: string, payload: Buffer) => Buffer;

  constructor(
    topic: string,
    position: string,
    plain: SharedMessage,
    wrap: (topicId: number, position: string, payload: Buffer) => Buffer,
    publisher?: string,
  ) {
    this.topic = topic;
    this.position = position;
    this.plain = plain;
    this.wrap = wrap;
    this.publisher = publisher;
  }

  /** The message in its envelope (topic number and position in front), shared by every receiver. */
  enveloped(counters: FanOutCounters): SharedMessage {
    this.envelope ??= new SharedMessage(
      this.wrap(this.topicId, this.position, this.plain.payload),
      this.plain.isText,
      counters,
    );
    return this.envelope;
  }
}

/**
 * A topic's subscribers that take positioned messages (by socket, in subscription order), and the number
 * envelopes give the topic: one per process, so that one enveloped frame serves every receiver. It lives
 * as long as the topic has receivers here; a topic that gets receivers again gets a new number (numbers are
 * not reused: a connection never sees one number name two topics).
 */
class TopicReceivers {
  readonly id: number;
  readonly members = new Map<WebSocket, TopicReceiver>();
  /** The members with no replay running: they take the shared envelope as it is, as plain subscribers do. */
  readonly live = new Set<WebSocket>();

  constructor(id: number) {
    this.id = id;
  }

  delete(socket: WebSocket): boolean {
    this.live.delete(socket);
    return this.members.delete(socket);
  }

  get size(): number {
    return this.members.size;
  }
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
   * Resume connections waiting for their hello (docs/resume.md): a subscription made then (the socket is in
   * `server.clients` already) is kept here and delivered nothing: a plain one would reach the client without
   * its envelope, which breaks the wire format. It becomes the session's once the session is set up
   * (releasePending); a socket that closes first drops it (dropPending).
   */
  private readonly pendingTopics = new Map<WebSocket, Set<string>>();
  private readonly events: TopicEvents;
  readonly counters: FanOutCounters = { framesEncoded: 0, delivered: 0, dropped: 0, sharedCompressions: 0 };

  constructor(events: TopicEvents) {
    this.events = events;
  }

  subscribe(socket: WebSocket, topic: string): boolean {
    // A closed socket has been auto-unsubscribed already: adding it again would leak it.
    if (socket.readyState === WebSocket.CLOSED) return false;
    const pending = this.pendingTopics.size === 0 ? undefined : this.pendingTopics.get(socket);
    if (pending !== undefined && !this.receivers.has(socket)) {
      if (pending.has(topic)) return false;
      pending.add(topic);
      return true;
    }
    let topics = this.topicsBySocket.get(socket);
    if (topics?.has(topic)) return false;
    if (topics === undefined) {
      topics = new Set();
      this.topicsBySocket.set(socket, topics);
    }
    topics.add(topic);
    const receiver = this.receivers.size === 0 ? undefined : this.receivers.get(socket);
    const opened = !this.subscribers.has(topic) && !this.receiverSubscribers.has(topic);
    if (receiver === undefined) {
      let members = this.subscribers.get(topic);
      if (members === undefined) this.subscribers.set(topic, (members = new Set()));
      members.add(socket);
    } else {
      let receivers = this.receiverSubscribers.get(topic);
      if (receivers === undefined)
        this.receiverSubscribers.set(topic, (receivers = new TopicReceivers(this.nextTopicId++)));
      receivers.members.set(socket, receiver);
      if (!receiver.replaying) receivers.live.add(socket);
      receiver.subscribed(topic, receivers.id);
    }
    if (opened) this.events.topicOpened(topic);
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
    this.pendingTopics.set(socket, new Set());
  }

  /** The session of `socket` is set up: what the app subscribed it to meanwhile becomes the session's. */
  releasePending(socket: WebSocket): void {
    const topics = this.pendingTopics.get(socket);
    if (topics === undefined) return;
    this.pendingTopics.delete(socket);
    for (const topic of topics) this.subscribe(socket, topic);
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
    if (this.pendingTopics.get(socket)?.delete(topic) === true) return true;
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
    return (
      (this.topicsBySocket.get(socket)?.has(topic) ?? false) ||
      this.pendingTopics.get(socket)?.has(topic) === true
    );
  }

  topicsOf(socket: WebSocket): readonly string[] {
    const topics = [...(this.topicsBySocket.get(socket) ?? [])];
    for (const topic of this.pendingTopics.get(socket) ?? []) if (!topics.includes(topic)) topics.push(topic);
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
