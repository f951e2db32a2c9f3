import type { ResumeStore, StoredMessage } from "./resume-store.js";

// A resume's replay is read from the store a page at a time, each page written (paced by the client's
// reading) before the next is asked for: what a resuming connection holds of its replay is one page, not
// the whole of it, and so is what a store answers at once (the cluster's primary, over IPC). A storm of
// resumes then costs pages in flight, not every member's backlog at once (before 2026-12-07: 0.7–1.3 GB in
// the primary of `serve --workers 2` for 300 members with 1,900 missed lines).

/** Messages per page: a replay of 1 KiB messages holds ~100 KiB of it at a time. */
const PAGE_MESSAGES = 100;

/**
 * Most messages of one topic's replay: 16 of the store's rings (a store may trim loosely), and at least
 * 100,000 (a store's own ring may be larger than the server's maxMessagesPerTopic). Past it: a gap.
 */
const MAX_REPLAY_RINGS = 16;
const MIN_REPLAY_MESSAGES = 100_000;

/** One topic's replay, read from the store page by page: what it holds after a position. */
export class TopicReplay {
  /** The page read last (the first one, until next()). */
  page: StoredMessage[] = [];
  private after: string;
  private pagesLeft: number;
  private ended = false;

  constructor(
    private readonly store: ResumeStore,
    private readonly topic: string,
    from: string,
    maxMessagesPerTopic: number,
  ) {
    this.after = from;
    const most = Math.max(MAX_REPLAY_RINGS * maxMessagesPerTopic, MIN_REPLAY_MESSAGES);
    this.pagesLeft = Math.ceil(most / PAGE_MESSAGES);
  }

  /**
   * Reads the next page into `page`: true, or false at the end (`page` empty); null if the store no longer
   * holds it (a gap: trimmed meanwhile, or past the most a replay may be).
   */
  async next(): Promise<boolean | null> {
    this.page = [];
    if (this.ended) return false;
    if (this.pagesLeft-- <= 0) return null;
    const read = await this.store.readAfter(this.topic, this.after, PAGE_MESSAGES);
    if (read === null) return null;
    if (read.length < PAGE_MESSAGES) this.ended = true;
    if (read.length === 0) return false;
    this.page = read;
    this.after = read[read.length - 1].position;
    return true;
  }
}

/**
 * Every topic's replay (`from`: topic → position) with its first page read, or null if the store lacks the
 * first messages of one (a gap) or the reading stopped being `wanted` (the connection closed: its client
 * resumes again, from what it got).
 */
export async function readFirstPages(
  store: ResumeStore,
  from: Map<string, string>,
  maxMessagesPerTopic: number,
  wanted: () => boolean,
): Promise<Map<string, TopicReplay> | null> {
  const replays = new Map<string, TopicReplay>();
  for (const [topic, position] of from)
    replays.set(topic, new TopicReplay(store, topic, position, maxMessagesPerTopic));
  const read = await Promise.all([...replays.values()].map((replay) => replay.next()));
  return read.includes(null) || !wanted() ? null : replays;
}
