import type { ResumeStore, StoredMessage } from "./resume-store.js";

// A resume's replay is read from the store as it is written (paced by the client's reading), a little ahead
// of the writing: a resuming connection holds READ_AHEAD_BYTES of its replay, not all of it, and a store
// answers a page at a time. A storm of resumes then costs that per member, not every member's backlog at
// once (before 2026-12-07: 0.7–1.1 GB in the primary of `serve --workers 2` for 300 members with 1,900
// missed lines). A topic whose whole replay fits is read at its first turn: its position does not stand
// still while another topic's replay is written and its store trims on.

/** Most messages per store read, and per turn of a topic's writing. */
const PAGE_MESSAGES = 100;
/**
 * Messages of a topic's first read, before the session's head: one tells whether the store still holds what
 * follows the position (a gap if not), and its size sizes the next reads; a session of many topics then holds
 * one message of each before its head.
 */
const FIRST_READ_MESSAGES = 1;

/**
 * Payload bytes of its replay a resume holds read ahead of the writing, shared by its topics, but at least
 * MIN_TOPIC_READ_AHEAD per topic, and at least one message: a read asks for as many messages as fit, by the
 * size of those read so far.
 */
const READ_AHEAD_BYTES = 256 * 1024;
const MIN_TOPIC_READ_AHEAD = 4 * 1024;

/**
 * Most messages of one topic's replay: 16 of the store's rings (a store may trim loosely), and at least
 * 100,000 (a store's own ring may be larger than the server's maxMessagesPerTopic). Past it: a gap.
 */
const MAX_REPLAY_RINGS = 16;
const MIN_REPLAY_MESSAGES = 100_000;

/** One topic's replay: what the store holds after a position, read ahead of the writing by `budget` bytes. */
export class TopicReplay {
  private queue: StoredMessage[] = [];
  private queuedBytes = 0;
  /** Messages and payload bytes read so far: their mean sizes the next read. */
  private readMessages = 0;
  private readBytes = 0;
  private after: string;
  private messagesLeft: number;
  private readToEnd = false;

  constructor(
    private readonly store: ResumeStore,
    private readonly topic: string,
    from: string,
    maxMessagesPerTopic: number,
    /** Payload bytes this topic reads ahead. */
    private readonly budget: number,
    /** Whether the reading is still wanted (the connection is open): it stops at the next read if not. */
    private readonly wanted: () => boolean,
  ) {
    this.after = from;
    this.messagesLeft = Math.max(MAX_REPLAY_RINGS * maxMessagesPerTopic, MIN_REPLAY_MESSAGES);
  }

  /** Whether every message of the replay has been taken. */
  get done(): boolean {
    return this.readToEnd && this.queue.length === 0;
  }

  /**
   * Reads until the topic's budget is read ahead (a first read: FIRST_READ_MESSAGES) or the replay is read
   * to its end: false if the store no longer holds the next messages (a gap: trimmed meanwhile, or past the
   * most a replay may be).
   */
  async fill(first = false): Promise<boolean> {
    while (!this.readToEnd && this.queuedBytes < this.budget && this.wanted()) {
      if (this.messagesLeft <= 0) return false;
      const limit = first ? FIRST_READ_MESSAGES : this.fitting();
      const read = await this.store.readAfter(this.topic, this.after, limit);
      if (read === null) return false;
      this.messagesLeft -= read.length;
      if (read.length < limit) this.readToEnd = true;
      if (read.length === 0) break;
      this.after = read[read.length - 1].position;
      let bytes = 0;
      for (const message of read) bytes += message.payload.length;
      this.queuedBytes += bytes;
      this.readMessages += read.length;
      this.readBytes += bytes;
      this.queue = this.queue.length === 0 ? read : this.queue.concat(read);
      if (first) break;
    }
    return true;
  }

  /** How many messages of the mean size read so far fit in what is left of the budget: 1 to a page. */
  private fitting(): number {
    const mean = Math.max(1, this.readBytes / Math.max(1, this.readMessages));
    return Math.min(PAGE_MESSAGES, Math.max(1, Math.floor((this.budget - this.queuedBytes) / mean)));
  }

  /** Up to a page of the messages read, taken in order (none once done). */
  take(): StoredMessage[] {
    const taken = this.queue.length <= PAGE_MESSAGES ? this.queue : this.queue.slice(0, PAGE_MESSAGES);
    this.queue = taken === this.queue ? [] : this.queue.slice(PAGE_MESSAGES);
    for (const message of taken) this.queuedBytes -= message.payload.length;
    return taken;
  }
}

/**
 * Every topic's replay (`from`: topic → position) with its first messages read, or null if the store lacks
 * the first messages of one (a gap) or the reading stopped being `wanted` (the connection closed: its
 * client resumes again, from what it got).
 */
export async function readReplayStarts(
  store: ResumeStore,
  from: Map<string, string>,
  maxMessagesPerTopic: number,
  wanted: () => boolean,
): Promise<Map<string, TopicReplay> | null> {
  const replays = new Map<string, TopicReplay>();
  const budget = Math.max(MIN_TOPIC_READ_AHEAD, Math.floor(READ_AHEAD_BYTES / Math.max(1, from.size)));
  for (const [topic, position] of from)
    replays.set(topic, new TopicReplay(store, topic, position, maxMessagesPerTopic, budget, wanted));
  // One read each before the session's head (a storm of resumes waits on the store): the rest as it is written.
  const read = await Promise.all([...replays.values()].map((replay) => replay.fill(true)));
  return read.includes(false) || !wanted() ? null : replays;
}
