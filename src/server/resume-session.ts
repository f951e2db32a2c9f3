import type { Connection } from "../connection/connection.js";
import { deliverPublished, type WebSocket } from "../web/websocket.js";
import type { ResumeStore, SessionRecord, StoredMessage } from "./resume-store.js";
import { controlMessage, DIRECT_PREFIX, ENVELOPES, envelopeTopicMessage } from "./resume-wire.js";
import { type FanOutCounters, type PositionedMessage, SharedMessage, type TopicReceiver } from "./topics.js";

// One resumable session on one open connection: the topics it follows (each with the position it started
// from), the envelope of its messages, and the hold of live messages while its replay is read.

/** A topic whose start position the store has not given yet (async lastPosition). */
const PENDING = "\u0000pending";

export interface SessionHost {
  readonly store: ResumeStore;
  readonly counters: FanOutCounters;
  /** The session's topics changed: its record may need saving. */
  changed(session: ResumeSession): void;
}

export class ResumeSession implements TopicReceiver {
  readonly socket: WebSocket;
  readonly id: string;
  readonly secretHash: string;
  /** Whether this session was resumed (its subscriptions restored), for `socket.resumed`. */
  readonly resumed: boolean;
  /** topic → the position this session started from on it. */
  readonly topics = new Map<string, string>();
  /** topic → live messages held while its replay is read; null once no replay runs. */
  private held: Map<string, PositionedMessage[]> | null = null;
  /**
   * topic → the last position its replay wrote, while live messages up to it may still come: a distributing
   * store's replay is read from the store itself and can be ahead of its live feed (the Redis store hands an
   * own append over only once it has settled), so those live messages were in the replay already.
   */
  private replayedUpTo: Map<string, string> | null = null;
  private comparePositions: ((a: string, b: string) => number) | null = null;
  private readonly host: SessionHost;
  private readonly sendControlText: (text: string) => void;

  constructor(
    socket: WebSocket,
    id: string,
    secretHash: string,
    resumed: boolean,
    host: SessionHost,
    sendControlText: (text: string) => void,
  ) {
    this.socket = socket;
    this.id = id;
    this.secretHash = secretHash;
    this.resumed = resumed;
    this.host = host;
    this.sendControlText = sendControlText;
  }

  /** A control message (0x02 + JSON), written ahead of nothing: in send order. */
  sendControl(body: Record<string, unknown>): void {
    this.sendControlText(controlMessage(body));
  }

  record(expiresAt: number): SessionRecord {
    const topics: Record<string, string> = {};
    for (const [topic, position] of this.topics) if (position !== PENDING) topics[topic] = position;
    return { secretHash: this.secretHash, topics, expiresAt };
  }

  // ---- TopicReceiver -----------------------------------------------------------------------------------

  receive(topic: string, message: PositionedMessage): boolean {
    const held = this.held?.get(topic);
    if (held !== undefined) {
      held.push(message);
      return true;
    }
    const replayed = this.replayedUpTo?.get(topic);
    if (replayed !== undefined) {
      // No duplicate (docs/resume.md): written by the replay already.
      if (this.comparePositions!(message.position, replayed) <= 0) return true;
      this.replayedUpTo!.delete(topic);
    }
    return deliverPublished(this.socket, message.enveloped(this.host.counters));
  }

  subscribed(topic: string): void {
    if (this.topics.has(topic)) return;
    // A new subscription starts where the topic is now: a resume replays what came after.
    const position = this.host.store.lastPosition(topic);
    if (typeof position === "string") {
      this.topics.set(topic, position);
      this.host.changed(this);
      return;
    }
    this.topics.set(topic, PENDING);
    position.then(
      (known) => {
        if (this.topics.get(topic) !== PENDING) return;
        this.topics.set(topic, known);
        this.host.changed(this);
      },
      // Unknown: the topic is left out of the record (a resume would not restore it).
      () => {},
    );
  }

  unsubscribed(topic: string): void {
    this.topics.delete(topic);
    this.held?.delete(topic);
    this.replayedUpTo?.delete(topic);
    this.host.changed(this);
  }

  // ---- replay ----------------------------------------------------------------------------------------------

  /** From now on, live messages of `topics` are held until finishReplay(). */
  holdLive(topics: Iterable<string>): void {
    this.held = new Map();
    for (const topic of topics) this.held.set(topic, []);
  }

  /**
   * Writes each topic's replay (what the store holds after its start position), then the live messages held
   * meanwhile that the replay did not carry (by position), and stops holding. Returns the messages written.
   */
  finishReplay(
    replays: Map<string, StoredMessage[]>,
    comparePositions: (a: string, b: string) => number,
  ): number {
    let written = 0;
    const held = this.held ?? new Map<string, PositionedMessage[]>();
    this.held = null;
    for (const [topic, messages] of replays) {
      // Unsubscribed meanwhile (by the app, after 'connection'? not yet announced, but an unsubscribe can
      // come from a close): nothing to write.
      if (!this.topics.has(topic)) continue;
      let last = this.topics.get(topic)!;
      for (const message of messages) {
        const bytes = envelopeTopicMessage(message.position, topic, message.payload);
        deliverPublished(this.socket, new SharedMessage(bytes, message.isText, this.host.counters));
        last = message.position;
        written++;
      }
      // RFC-free rule of our own (docs/resume.md): no duplicate: what the replay carried is not sent again.
      for (const live of held.get(topic) ?? []) {
        if (comparePositions(live.position, last) <= 0) continue;
        deliverPublished(this.socket, live.enveloped(this.host.counters));
        last = live.position;
      }
      // Live messages still to come up to `last` were written here already.
      if (messages.length > 0) {
        this.replayedUpTo ??= new Map();
        this.replayedUpTo.set(topic, last);
        this.comparePositions = comparePositions;
      }
    }
    return written;
  }
}

/**
 * Direct sends on a resume connection carry the 0x00 prefix (docs/resume.md). The connection's send() and
 * sendText() are wrapped on this connection only, so that plain connections pay nothing; the unwrapped
 * sendText is returned for control messages. Topic messages do not come here (they are framed once,
 * enveloped already), but one queued behind a Blob does: its bytes are recognised and left alone.
 */
export function prefixDirectSends(connection: Connection): (text: string) => void {
  const send = connection.send;
  const sendText = connection.sendText;
  connection.send = function (payload, isText, transform, borrowed) {
    if (ENVELOPES.has(payload)) return send.call(this, payload, isText, transform, borrowed);
    const bytes = Buffer.allocUnsafe(payload.length + 1);
    bytes[0] = DIRECT_PREFIX[0];
    payload.copy(bytes, 1);
    return send.call(this, bytes, isText, transform, false);
  };
  connection.sendText = function (text, transform) {
    const bytes = sendText.call(this, `\u0000${text}`, transform);
    return bytes < 0 ? bytes : bytes - 1;
  };
  return (text) => {
    sendText.call(connection, text, undefined);
  };
}
