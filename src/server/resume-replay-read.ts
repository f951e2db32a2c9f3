import type { ResumeStore, StoredMessage } from "./resume-store.js";

/**
 * Most messages of one topic's replay, read in pages of maxMessagesPerTopic: 16 pages (a store may trim
 * loosely), and at least 100,000 (a store's own ring may be larger than the pages). Past it: a gap.
 */
const MAX_REPLAY_PAGES = 16;
const MIN_REPLAY_MESSAGES = 100_000;

/**
 * A resume's replay (docs/resume.md): every topic's messages after its position (`from`: topic → position),
 * read from the store page by page, or null if the store lacks some of them (a gap) or the reading stopped
 * being `wanted` (the connection closed: its client resumes again, from what it got).
 */
export async function readReplays(
  store: ResumeStore,
  from: Map<string, string>,
  pageSize: number,
  wanted: () => boolean,
): Promise<Map<string, StoredMessage[]> | null> {
  const pages = Math.max(MAX_REPLAY_PAGES, Math.ceil(MIN_REPLAY_MESSAGES / pageSize));
  const entries = await Promise.all(
    [...from].map(async ([topic, position]) => {
      const messages: StoredMessage[] = [];
      let after = position;
      for (let page = 0; page < pages; page++) {
        if (!wanted()) return null;
        const read = await store.readAfter(topic, after, pageSize);
        if (read === null) return null;
        messages.push(...read);
        if (read.length < pageSize) return [topic, messages] as const;
        after = read[read.length - 1].position;
      }
      return null;
    }),
  );
  const replays = new Map<string, StoredMessage[]>();
  for (const entry of entries) {
    if (entry === null) return null;
    replays.set(entry[0], entry[1]);
  }
  return replays;
}
