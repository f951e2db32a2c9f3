import type { ResumeStore, SessionRecord, StoredMessage } from "./resume-store.js";

// The resume store of one process: each topic keeps its last maxMessagesPerTopic messages in a ring, and
// positions are a per-topic counter ("1", "2", …). Session records live in a Map, capped (the oldest saved
// goes first) and dropped once expired. Everything is lost with the process: a client that reconnects to
// another process, or after a restart, is told "unknown" and starts afresh (docs/resume.md).

/** Options of `new MemoryResumeStore()`: its bounds. */
export interface MemoryResumeStoreOptions {
  /** Messages kept per topic for a replay. Default 1000. */
  maxMessagesPerTopic?: number;
  /** Most session records kept (disconnected sessions, and the open ones' records). Default 100,000. */
  maxSessions?: number;
  /** Most topics with a ring; past it the topic whose last message is the oldest loses its ring. Default 10,000. */
  maxTopics?: number;
}

/** The defaults of MemoryResumeStoreOptions. */
export const MEMORY_RESUME_DEFAULTS = {
  maxMessagesPerTopic: 1000,
  maxSessions: 100_000,
  maxTopics: 10_000,
} as const;

/** One topic's last messages: a ring of `capacity`, and the counter of positions. */
class TopicRing {
  /** Position (counter value) of the newest message; `start` before the first. */
  last: number;
  private readonly messages: (StoredMessage | undefined)[];

  /** `start`: the counter before this ring's first message (0, or past every position of a dropped ring). */
  constructor(
    private readonly capacity: number,
    private readonly start: number,
  ) {
    this.messages = new Array(capacity);
    this.last = start;
  }

  append(payload: Buffer, isText: boolean): string {
    const counter = ++this.last;
    const position = String(counter);
    this.messages[counter % this.capacity] = { position, payload, isText };
    return position;
  }

  /** Messages after counter `after`, or null if some of them were overwritten already. */
  readAfter(after: number, limit: number): StoredMessage[] | null {
    const oldestKept = Math.max(this.start + 1, this.last - this.capacity + 1);
    if (after + 1 < oldestKept) return null;
    const out: StoredMessage[] = [];
    for (let counter = after + 1; counter <= this.last && out.length < limit; counter++) {
      out.push(this.messages[counter % this.capacity]!);
    }
    return out;
  }
}

/**
 * The resume store of one process (the `resume` option's default): per-topic rings of the last messages,
 * counters as positions, session records in memory. Lost with the process.
 */
export class MemoryResumeStore implements ResumeStore {
  readonly distributes = false;
  private readonly maxMessagesPerTopic: number;
  private readonly maxSessions: number;
  private readonly maxTopics: number;
  /** topic → ring; Map order = least recently appended first (a topic is moved to the end on append). */
  private readonly topics = new Map<string, TopicRing>();
  /** id → record; Map order = oldest saved first. */
  private readonly sessions = new Map<string, SessionRecord>();
  /** Ids taken already, until their record would have expired: a late save of one is ignored. */
  private readonly taken = new Map<string, number>();

  constructor(options: MemoryResumeStoreOptions = {}) {
    this.maxMessagesPerTopic = checkCount(
      options.maxMessagesPerTopic,
      MEMORY_RESUME_DEFAULTS.maxMessagesPerTopic,
      "maxMessagesPerTopic",
    );
    this.maxSessions = checkCount(options.maxSessions, MEMORY_RESUME_DEFAULTS.maxSessions, "maxSessions");
    this.maxTopics = checkCount(options.maxTopics, MEMORY_RESUME_DEFAULTS.maxTopics, "maxTopics");
  }

  append(topic: string, payload: Buffer, isText: boolean): string {
    let ring = this.topics.get(topic);
    if (ring === undefined) {
      if (this.topics.size >= this.maxTopics) {
        // The topic appended to least recently loses its ring: a client still holding a position of it
        // gets a gap. If the topic comes back, its positions restart past every position handed out, so
        // they stay monotonic and an old position is never taken for a new one.
        const oldest = this.topics.keys().next().value!;
        this.topics.delete(oldest);
        if (this.forgotten.size >= this.maxTopics) this.forgotten.clear();
        this.forgotten.add(oldest);
      }
      const start = this.forgotten.delete(topic) ? this.restartCounter : 0;
      ring = new TopicRing(this.maxMessagesPerTopic, start);
      this.topics.set(topic, ring);
    } else if (this.topics.size > 1) {
      // Keep Map order = least recently appended first (cheap: delete + set).
      this.topics.delete(topic);
      this.topics.set(topic, ring);
    }
    const position = ring.append(payload, isText);
    if (ring.last > this.restartCounter) this.restartCounter = ring.last;
    return position;
  }

  /** Topics whose ring was dropped for maxTopics; they restart past `restartCounter`. */
  private readonly forgotten = new Set<string>();
  /** The largest counter any topic has reached. */
  private restartCounter = 0;

  readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    const ring = this.topics.get(topic);
    const counter = after === "" ? 0 : Number(after);
    if (!Number.isSafeInteger(counter) || counter < 0) return Promise.resolve(null);
    if (ring === undefined) {
      // Nothing kept: fine only if the client had seen nothing (a topic nobody has published to yet).
      return Promise.resolve(counter === 0 && !this.forgotten.has(topic) ? [] : null);
    }
    // A position from the future (another process's, or from before a restart) cannot be trusted.
    if (counter > ring.last) return Promise.resolve(null);
    return Promise.resolve(ring.readAfter(counter, limit));
  }

  lastPosition(topic: string): string {
    const ring = this.topics.get(topic);
    if (ring === undefined) return this.forgotten.has(topic) ? String(this.restartCounter) : "";
    return String(ring.last);
  }

  saveSession(id: string, record: SessionRecord, _ttlMs: number): Promise<void> {
    const now = Date.now();
    if (this.taken.has(id) || record.expiresAt <= now) return Promise.resolve();
    this.sessions.delete(id);
    if (this.sessions.size >= this.maxSessions) this.sweep(now);
    if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(id, record);
    return Promise.resolve();
  }

  takeSession(id: string): Promise<SessionRecord | undefined> {
    const record = this.sessions.get(id);
    if (record === undefined) return Promise.resolve(undefined);
    this.sessions.delete(id);
    if (this.taken.size >= this.maxSessions) this.sweepTaken(Date.now());
    if (this.taken.size >= this.maxSessions) this.taken.delete(this.taken.keys().next().value!);
    this.taken.set(id, record.expiresAt);
    // An expired record is returned as it is: the server tells the client "expired" rather than "unknown".
    return Promise.resolve(record);
  }

  /** Records kept now (for tests and stats). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.topics.clear();
    this.sessions.clear();
    this.taken.clear();
    return Promise.resolve();
  }

  private sweep(now: number): void {
    for (const [id, record] of this.sessions) if (record.expiresAt <= now) this.sessions.delete(id);
  }

  private sweepTaken(now: number): void {
    for (const [id, expiresAt] of this.taken) if (expiresAt <= now) this.taken.delete(id);
  }
}

function checkCount(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)
    throw new TypeError(`MemoryResumeStore: ${name} must be a positive integer.`);
  return value;
}
