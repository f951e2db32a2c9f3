import { CloseCode } from "../protocol/constants.js";
import { closeWithStatus, type WebSocket } from "../web/websocket.js";
import type { TopicReplay } from "./resume-replay-read.js";
import { envelopeTopicMessage } from "./resume-wire.js";
import { type FanOutCounters, SharedMessage } from "./shared-message.js";
import type { PositionedMessage } from "./topic-receivers.js";

// A resume's replay written at the client's pace: a page of a topic's replay at a time, each message once
// the connection has room for it (Connection.roomFor), its envelope made here. The counterpart of
// resume-replay-read.ts, which reads the replay as it is written; apart from the session (resume-session.ts),
// which holds the live messages meanwhile and decides when each topic goes live.

/** Room for a message's bytes in the connection's send buffer: now (true), or when (Connection.roomFor). */
export type Room = (size: number) => true | Promise<boolean>;

/** One topic's replay being written (ResumeSession.finishReplay). */
export interface ReplayTurn {
  topic: string;
  replay: TopicReplay;
  /** The topic's live messages held meanwhile. */
  held: PositionedMessage[];
  /** Whether the topic is still subscribed, with this hold. */
  wanted: () => boolean;
  /** The last position written (or passed: the session's own messages). */
  last: string;
  topicId: number;
}

/** What a replay's writing needs of its session. */
export interface ReplaySession {
  readonly socket: WebSocket;
  /** Who the session publishes as: its own messages are left out of its replay. */
  readonly publisher: string;
  /** Writes one topic message, or closes the connection (1013) when it cannot. */
  deliver(message: SharedMessage): boolean;
}

/** Writes the replays of one resume, paced by `room`, and counts the messages written. */
export class PacedReplayWriter {
  /** The replayed messages written so far. */
  written = 0;
  private readonly session: ReplaySession;
  private readonly counters: FanOutCounters;
  private readonly room: Room;

  constructor(session: ReplaySession, counters: FanOutCounters, room: Room) {
    this.session = session;
    this.counters = counters;
    this.room = room;
  }

  /**
   * Writes a page of a topic's replay and reads on: true if more is to come, false if its replay is over
   * (or the topic unsubscribed), null if the connection went away (closed with 1013 if the store no longer
   * holds what comes next).
   */
  async page(turn: ReplayTurn): Promise<boolean | null> {
    for (const message of turn.replay.take()) {
      if (!turn.wanted()) return false;
      turn.last = message.position;
      // Its own publish (socket.publish): live, it was not sent to it either.
      if (message.publisher === this.session.publisher) continue;
      const bytes = envelopeTopicMessage(turn.topicId, message.position, message.payload);
      const sent = this.write(new SharedMessage(bytes, message.isText, this.counters), turn.wanted);
      if (sent !== true && !(await sent)) return null;
      // Unsubscribed while it waited: not written (after the `unsubscribed` control, none may follow).
      if (!turn.wanted()) return false;
      this.written++;
    }
    const kept = await turn.replay.fill();
    const socket = this.session.socket;
    if (socket.readyState !== 1) return null;
    if (!kept) {
      closeWithStatus(
        socket,
        CloseCode.TryAgainLater,
        "sockjet.resume: the rest of the replay is no longer kept: resume",
      );
      return null;
    }
    return !turn.replay.done && turn.wanted();
  }

  /**
   * Writes one message of the replay once it fits: true (written, or no longer `wanted` after a wait) or
   * false (the connection went away), now or later. Room is asked again after each wait: live messages and
   * the app's sends may have filled the buffer meanwhile.
   */
  write(message: SharedMessage, wanted: () => boolean): boolean | Promise<boolean> {
    const fits = this.room(message.payload.length);
    // Closed meanwhile (a held overflow, the app): the rest is for the next resume.
    if (fits === true) return this.session.socket.readyState === 1 && this.session.deliver(message);
    return fits.then((ok) => ok && (!wanted() || this.write(message, wanted)));
  }
}
