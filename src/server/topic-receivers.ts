import type { WebSocket } from "../web/websocket.js";
import { type FanOutCounters, SharedMessage } from "./shared-message.js";

// Topic messages with positions (resumable sessions, docs/resume.md): the subscribers that take them, the
// message with its envelope built once for all of them, and a topic's set of them with its envelope number.

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
export class TopicReceivers {
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
