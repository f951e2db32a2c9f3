import { randomBytes } from "node:crypto";
import { CloseCode } from "../protocol/constants.js";
import { closeWithStatus, connectionOf, deliverPublished, type WebSocket } from "../web/websocket.js";
import type { TopicReplay } from "./resume-replay-read.js";
import { PacedReplayWriter, type ReplayTurn, type Room } from "./resume-replay-write.js";
import { comparePositions, type ResumeStore, type SessionRecord } from "./resume-store.js";
import { controlMessage, topicAnnouncement } from "./resume-wire.js";
import type { FanOutCounters, SharedMessage } from "./shared-message.js";
import type { PositionedMessage, TopicReceiver } from "./topic-receivers.js";

/** How a session writes its control messages (DirectSends). */
export interface ControlSender {
  sendControl(text: string): void;
  sendHead(text: string): void;
  /** The session's head is out: the app's sends held until then follow it (DirectSends.release). */
  release(): void;
}

// One resumable session on one open connection: the topics it follows (each with the position it started
// from), the envelope of its messages, and the hold of live messages while its replay is read.
// Its replay is written, at the client's pace, by resume-replay-write.ts.

/** A topic whose start position the store has not given yet (async lastPosition). */
const PENDING = "\u0000pending";

export interface SessionHost {
  readonly store: ResumeStore;
  readonly counters: FanOutCounters;
  /** The session's topics changed: its record may need saving. */
  changed(session: ResumeSession): void;
  /** The session's replay is over, seam included: it takes the shared envelopes as they are. */
  caughtUp(session: ResumeSession): void;
}

export class ResumeSession implements TopicReceiver {
  readonly socket: WebSocket;
  readonly id: string;
  readonly secretHash: string;
  /** SessionRecord.owner: whose session this is, for a store's cap. */
  readonly owner: string;
  /** Whether this session was resumed (its subscriptions restored), for `socket.resumed`. */
  readonly resumed: boolean;
  /** Who this session publishes as, the same across its resumes: its replays leave its own messages out. */
  readonly publisher: string;
  /** topic → the position this session started from on it. */
  readonly topics = new Map<string, string>();
  /** topic → its number in envelopes on this connection (announced when it subscribed). */
  private readonly topicIds = new Map<string, number>();
  /** topic → live messages held while its replay is read; null once no replay runs. */
  private held: Map<string, PositionedMessage[]> | null = null;
  /** The payload bytes held, and the most that may be (the connection's maxBufferedBytes). */
  private heldBytes = 0;
  private heldLimit = Number.POSITIVE_INFINITY;
  /**
   * topic → the last position its replay wrote, until a later live message has come: an async store may
   * deliver live, after the replay, a message the replay carried already (its append settled late).
   */
  private replayedTo: Map<string, string> | null = null;
  /**
   * topic → its live messages held until the store has given the topic's start position (async
   * lastPosition); null when no start is awaited. Delivered before the start is known, a message the store
   * then puts before the start would be one the client may hold while the session starts after it: a resume
   * from there would be raised to the start, and the messages between never replayed (docs/resume.md).
   */
  private starting: Map<string, PositionedMessage[]> | null = null;
  private startingBytes = 0;
  private readonly host: SessionHost;
  /** The store's answers still awaited for subscriptions' start positions (async lastPosition). */
  private readonly pending = new Set<Promise<void>>();
  private readonly controls: ControlSender;

  constructor(
    socket: WebSocket,
    id: string,
    secretHash: string,
    owner: string,
    resumed: boolean,
    host: SessionHost,
    controls: ControlSender,
    publisher: string = newPublisherId(),
  ) {
    this.socket = socket;
    this.id = id;
    this.secretHash = secretHash;
    this.owner = owner;
    this.resumed = resumed;
    this.publisher = publisher;
    this.host = host;
    this.controls = controls;
  }

  /** A control message (0x02 + JSON), written ahead of nothing: in send order. */
  sendControl(body: Record<string, unknown>): void {
    this.controls.sendControl(controlMessage(body));
  }

  /** The session's head (`reset`, `session`): ahead of the app's sends queued meanwhile (DirectSends.sendHead). */
  sendHead(body: Record<string, unknown>): void {
    this.controls.sendHead(controlMessage(body));
  }

  record(expiresAt: number): SessionRecord {
    // Keyed by topic: no prototype, so that a topic named "__proto__" is a key like any other.
    const topics: Record<string, string> = Object.create(null);
    for (const [topic, position] of this.topics) if (position !== PENDING) topics[topic] = position;
    return { secretHash: this.secretHash, topics, expiresAt, publisher: this.publisher, owner: this.owner };
  }

  // ---- TopicReceiver -----------------------------------------------------------------------------------

  get replaying(): boolean {
    return this.held !== null || this.replayedTo !== null || this.starting !== null;
  }

  receive(topic: string, message: PositionedMessage): boolean {
    const waiting = this.starting?.get(topic);
    if (waiting !== undefined) {
      // Bounded as a replay's hold is (a store slow to answer): past it 1013, and the client resumes.
      const size = message.plain.payload.length;
      this.startingBytes += size;
      const limit = connectionOf(this.socket)?.maxBufferedBytes ?? Number.POSITIVE_INFINITY;
      if (this.startingBytes > limit && this.startingBytes > size) return this.dropped();
      waiting.push(message);
      return true;
    }
    const held = this.held?.get(topic);
    if (held !== undefined) {
      // Bounded as a send buffer is: a client too slow for its replay and the live messages behind it
      // resumes later from further on (1013), rather than the server holding without limit.
      // One message of any size may wait alone, as in a send buffer (Connection.checkSlowConsumer).
      const size = message.plain.payload.length;
      this.heldBytes += size;
      if (this.heldBytes > this.heldLimit && this.heldBytes > size) return this.dropped();
      held.push(message);
      return true;
    }
    if (this.replayedTo !== null) {
      const last = this.replayedTo.get(topic);
      if (last !== undefined) {
        // No duplicate (docs/resume.md): the replay carried it already.
        if (comparePositions(message.position, last) <= 0) return true;
        this.replayedTo.delete(topic);
        if (this.replayedTo.size === 0) {
          this.replayedTo = null;
          this.maybeCaughtUp();
        }
      }
    }
    return this.deliver(message.enveloped(this.host.counters));
  }

  /**
   * Writes one topic message. One dropped on an open connection (a "pause" slow consumer over its
   * maxBufferedBytes) would be a gap the client cannot see: the connection is closed instead, so that the
   * client resumes and gets it in its replay.
   */
  deliver(message: SharedMessage): boolean {
    return deliverPublished(this.socket, message) || this.dropped();
  }

  /**
   * A topic message was not written. With 1013 (Try Again Later, IANA registry, RFC 6455 §11.7), not 1008: a
   * policy close is one of ResumableWebSocket's stopCloseCodes, and the client would never come back.
   */
  dropped(): false {
    if (this.socket.readyState === 1)
      closeWithStatus(
        this.socket,
        CloseCode.TryAgainLater,
        "sockjet.resume: slow consumer, messages would be lost: resume",
      );
    return false;
  }

  subscribed(topic: string, topicId: number): void {
    // The client learns the topic's number before any message of it (send order = wire order).
    this.topicIds.set(topic, topicId);
    this.sendControl(topicAnnouncement(topicId, topic));
    if (this.topics.has(topic)) return;
    // A new subscription starts where the topic is now: a resume replays what came after.
    const position = this.host.store.lastPosition(topic);
    if (typeof position === "string") {
      this.topics.set(topic, position);
      this.host.changed(this);
      return;
    }
    this.topics.set(topic, PENDING);
    const waiting: PositionedMessage[] = [];
    this.starting ??= new Map();
    this.starting.set(topic, waiting);
    const settled = position.then(
      (known) => this.started(topic, waiting, known),
      // Unknown: the topic is left out of the record (a resume would not restore it); it goes on live.
      () => this.started(topic, waiting, null),
    );
    this.pending.add(settled);
    settled.finally(() => this.pending.delete(settled));
  }

  /**
   * The store has given `topic`'s start position (null: it failed to): the messages held meanwhile that come
   * after it are written, those at or before it are not (nor, later, live ones: see replayedTo), and the topic
   * goes live.
   */
  private started(topic: string, waiting: PositionedMessage[], known: string | null): void {
    // Unsubscribed meanwhile (and maybe subscribed again: that subscription has its own list).
    if (this.starting?.get(topic) !== waiting) return;
    this.starting.delete(topic);
    if (this.starting.size === 0) this.starting = null;
    this.startingBytes -= payloadBytes(waiting);
    let last = known ?? "";
    if (known !== null) {
      this.topics.set(topic, known);
      this.host.changed(this);
    }
    for (const message of waiting) {
      if (known !== null && comparePositions(message.position, known) <= 0) continue;
      if (this.socket.readyState !== 1 || !this.receive(topic, message)) break;
      last = message.position;
    }
    // An async store may hand over live, after its answer, a message appended before it (the cluster's
    // store hands messages over a turn after its replies): before the start, it is not the client's.
    if (known !== null && last !== "") {
      this.replayedTo ??= new Map();
      this.replayedTo.set(topic, last);
    }
    this.maybeCaughtUp();
  }

  /** No replay, seam or start awaited any more: the registry gives it the shared envelopes as they are. */
  private maybeCaughtUp(): void {
    if (!this.replaying) this.host.caughtUp(this);
  }

  /** Resolves once every topic's start position is known (or known to be unknown): record() is complete. */
  settled(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return Promise.all(this.pending).then(() => this.settled());
  }

  unsubscribed(topic: string): void {
    this.topics.delete(topic);
    this.topicIds.delete(topic);
    const held = this.held?.get(topic);
    if (held !== undefined) {
      this.heldBytes -= payloadBytes(held);
      this.held!.delete(topic);
    }
    const waiting = this.starting?.get(topic);
    if (waiting !== undefined) {
      this.startingBytes -= payloadBytes(waiting);
      this.starting!.delete(topic);
      if (this.starting!.size === 0) this.starting = null;
    }
    if (this.replayedTo?.delete(topic) && this.replayedTo.size === 0) this.replayedTo = null;
    this.maybeCaughtUp();
    // The client forgets its position of the topic: its resume hello holds only the topics it follows.
    this.sendControl({ type: "unsubscribed", topic });
    this.host.changed(this);
  }

  // ---- replay ----------------------------------------------------------------------------------------------

  /**
   * From now on, live messages of `topics` are held until finishReplay() has written the topic's replay;
   * past `limit` payload bytes held, the connection is closed (1013) and the client resumes later.
   */
  holdLive(topics: Iterable<string>, limit: number): void {
    this.held = new Map();
    this.heldBytes = 0;
    this.heldLimit = limit;
    for (const topic of topics) this.held.set(topic, []);
  }

  /**
   * Writes each topic's replay (what the store holds after its start position, read a little ahead of the
   * writing: its first messages are read already), then the live messages held meanwhile that the replay
   * did not carry (by position), and stops holding the topic. The writes are paced by `room`
   * (Connection.roomFor): a replay waits for the client to read rather than pass maxBufferedBytes, which
   * would close the connection on every resume of a client that fell far behind. Resolves with the messages
   * written, or null if the connection went away first. Messages the store no longer holds when their turn
   * to be read comes (trimmed meanwhile, the client reading more slowly than the topic turns over) close the
   * connection (1013): its client resumes from what it got, and is told `gap` then.
   */
  async finishReplay(replays: Map<string, TopicReplay>, room: Room): Promise<number | null> {
    const writer = new PacedReplayWriter(this, this.host.counters, room);
    try {
      // Unsubscribed meanwhile (by the app, after 'connection'? not yet announced, but an unsubscribe can
      // come from a close): nothing to write. An unsubscribe during the replay drops the topic's list.
      let turns: ReplayTurn[] = [];
      for (const [topic, replay] of replays) {
        const held = this.held?.get(topic);
        if (held === undefined || !this.topics.has(topic)) continue;
        const wanted = () => this.held?.get(topic) === held;
        turns.push({
          topic,
          replay,
          held,
          wanted,
          last: this.topics.get(topic)!,
          topicId: this.topicIds.get(topic)!,
        });
      }
      // The topics take turns, a page each: each one's reading moves on at the client's pace.
      while (turns.length > 0) {
        const going: ReplayTurn[] = [];
        for (const turn of turns) {
          const more = await writer.page(turn);
          if (more === null || (!more && !(await this.endReplay(turn, writer)))) return null;
          if (more) going.push(turn);
        }
        turns = going;
      }
    } finally {
      this.held = null;
      this.heldBytes = 0;
    }
    this.maybeCaughtUp();
    return writer.written;
  }

  /**
   * A topic's replay is written: the live messages held meanwhile that it did not carry (by position)
   * follow, and the topic goes live. false if the connection went away.
   */
  private async endReplay(turn: ReplayTurn, writer: PacedReplayWriter): Promise<boolean> {
    // RFC-free rule of our own (docs/resume.md): no duplicate: what the replay carried is not sent again.
    // Live messages keep joining the list while it is written; the topic goes live after the last.
    // (Its bytes stay counted against the limit until it is all written.)
    const { held, wanted } = turn;
    for (let i = 0; i < held.length && wanted(); i++) {
      const live = held[i];
      if (comparePositions(live.position, turn.last) <= 0) continue;
      const sent = writer.write(live.enveloped(this.host.counters), wanted);
      if (sent !== true && !(await sent)) return false;
      turn.last = live.position;
    }
    if (!wanted()) return true;
    this.heldBytes -= payloadBytes(held);
    this.held!.delete(turn.topic);
    if (turn.last !== "") {
      this.replayedTo ??= new Map();
      this.replayedTo.set(turn.topic, turn.last);
    }
    return true;
  }
}

function payloadBytes(messages: PositionedMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += message.plain.payload.length;
  return bytes;
}

/** A session's publisher id: 12 random bytes, base64url (unique, not a secret). */
function newPublisherId(): string {
  return randomBytes(12).toString("base64url");
}
