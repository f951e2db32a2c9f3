import type { ResumeStore, SessionRecord, StoredMessage } from "./resume-store.js";
import { SessionOwners } from "./session-owners.js";

// The resume store of one process: each topic keeps its last maxMessagesPerTopic messages in a ring, and
// positions are a per-topic counter ("1", "2", …). Session records live in a Map, capped (the owner holding
// the most loses one, those with no topic first: victim()) and dropped once expired.
// Everything is lost with the process: a client that reconnects to another process, or after a restart, is
// told "unknown" and starts afresh (docs/resume.md).

/** Options of `new MemoryResumeStore()`: its bounds. */
export interface MemoryResumeStoreOptions {
  /** Messages kept per topic for a replay. Default 1000. */
  maxMessagesPerTopic?: number;
  /**
   * Most session records kept (disconnected sessions, and the open ones' records). Default 100,000. Past it
   * the owner (SessionRecord.owner: identity, else client address) holding the most records loses its oldest,
   * one with no topic first; when every owner holds one, the oldest with no topic goes first.
   */
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

/**
 * One topic's last messages: a ring of at most `capacity` (grown as messages come, not allocated up front),
 * and the counter of positions.
 */
class TopicRing {
  /** Position (counter value) of the newest message; `start` before the first. */
  last: number;
  // The messages as parallel arrays, not StoredMessage objects: a kept message then holds one object (its
  // payload) for the garbage collector to move and promote, not three (the object and its position string
  // too): every publish is kept, so this is paid on each (docs/resume.md, "Cost").
  private readonly payloads: Buffer[] = [];
  private readonly texts: boolean[] = [];
  private readonly publishers: (string | undefined)[] = [];

  /**
   * `start`: the counter before this ring's first message (0, or past every position handed out when the
   * topic had a ring before). `floor`: the oldest position a reader may hold without having missed
   * anything (the topic's last position before its earlier ring was dropped; 0 for a new topic).
   */
  constructor(
    private readonly capacity: number,
    private readonly start: number,
    private readonly floor: number,
  ) {
    this.last = start;
  }

  append(payload: Buffer, isText: boolean, publisher: string | undefined): string {
    const counter = ++this.last;
    const index = (counter - this.start - 1) % this.capacity;
    if (index === this.payloads.length) {
      this.payloads.push(payload);
      this.texts.push(isText);
      this.publishers.push(publisher);
    } else {
      this.payloads[index] = payload;
      this.texts[index] = isText;
      this.publishers[index] = publisher;
    }
    return String(counter);
  }

  /** Messages after counter `after`, or null if some of them are no longer kept. */
  readAfter(after: number, limit: number): StoredMessage[] | null {
    // Between `floor` and `start` the topic had no message: a reader there has missed nothing.
    if (after < this.floor) return null;
    if (after < this.start) after = this.start;
    const oldestKept = Math.max(this.start + 1, this.last - this.capacity + 1);
    if (after + 1 < oldestKept) return null;
    const out: StoredMessage[] = [];
    for (let counter = after + 1; counter <= this.last && out.length < limit; counter++) {
      const index = (counter - this.start - 1) % this.capacity;
      const position = String(counter);
      const publisher = this.publishers[index];
      const payload = this.payloads[index];
      const isText = this.texts[index];
      out.push(
        publisher === undefined ? { position, payload, isText } : { position, payload, isText, publisher },
      );
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
  /**
   * The same ids by owner (SessionRecord.owner: identity, else client address). At the cap an owner holding
   * several records loses its own, so that a flood from a few places pushes out only its own (attack review:
   * 101,000 subscribed sessions from 8 addresses evicted a member who had dropped a minute before).
   */
  private readonly owners = new SessionOwners();
  /**
   * The ids of records with no topic (a session that subscribed to nothing; not an alias), oldest saved first:
   * of an owner's records they go first, and they go first of all when every owner holds one record (a flood
   * of empty sessions from many addresses or from the member's own: review).
   */
  private readonly withoutTopics = new Set<string>();
  /** The same, by owner. */
  private readonly withoutTopicsByOwner = new Map<string, Set<string>>();
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

  append(topic: string, payload: Buffer, isText: boolean, publisher?: string): string {
    let ring = this.topics.get(topic);
    if (ring === undefined) {
      if (this.topics.size >= this.maxTopics) {
        // The topic appended to least recently loses its ring: a client holding an older position of it
        // than its last gets a gap. Its last position is remembered (bounded: past maxTopics forgotten
        // topics, only the largest such position is, as the floor of every topic without a ring).
        const [oldest, dropped] = this.topics.entries().next().value!;
        this.topics.delete(oldest);
        if (this.forgotten.size >= this.maxTopics) {
          const [, last] = this.forgotten.entries().next().value!;
          this.forgotten.delete(this.forgotten.keys().next().value!);
          if (last > this.forgottenFloor) this.forgottenFloor = last;
        }
        this.forgotten.set(oldest, dropped.last);
      }
      ring = this.newRing(topic);
      this.topics.set(topic, ring);
    } else if (this.topics.size > 1) {
      // Keep Map order = least recently appended first (cheap: delete + set).
      this.topics.delete(topic);
      this.topics.set(topic, ring);
    }
    const position = ring.append(compact(payload), isText, publisher);
    if (ring.last > this.restartCounter) this.restartCounter = ring.last;
    return position;
  }

  /**
   * A topic's ring. A topic that had one before (or may have: forgottenFloor) restarts its positions past
   * every position handed out, so they stay monotonic and an old position is never taken for a new one.
   */
  private newRing(topic: string): TopicRing {
    const floor = this.floorOf(topic);
    if (floor === 0) return new TopicRing(this.maxMessagesPerTopic, 0, 0);
    this.forgotten.delete(topic);
    return new TopicRing(this.maxMessagesPerTopic, this.restartCounter, floor);
  }

  /** The last position of a topic without a ring before its ring was dropped (0: none, or never had one). */
  private floorOf(topic: string): number {
    return this.forgotten.get(topic) ?? this.forgottenFloor;
  }

  /** Topics whose ring was dropped for maxTopics → their last position then (Map order: oldest first). */
  private readonly forgotten = new Map<string, number>();
  /** The largest last position of the topics dropped from `forgotten` (each topic without a ring may be one). */
  private forgottenFloor = 0;
  /** The largest counter any topic has reached. */
  private restartCounter = 0;

  readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    const ring = this.topics.get(topic);
    const counter = after === "" ? 0 : Number(after);
    if (!Number.isSafeInteger(counter) || counter < 0) return Promise.resolve(null);
    if (ring === undefined) {
      // Nothing kept: fine only if the client had seen all the topic had (or the topic never had anything).
      return Promise.resolve(counter === this.floorOf(topic) ? [] : null);
    }
    // A position from the future (another process's, or from before a restart) cannot be trusted.
    if (counter > ring.last) return Promise.resolve(null);
    return Promise.resolve(ring.readAfter(counter, limit));
  }

  lastPosition(topic: string): string {
    const ring = this.topics.get(topic);
    if (ring !== undefined) return String(ring.last);
    const floor = this.floorOf(topic);
    return floor === 0 ? "" : String(floor);
  }

  saveSession(id: string, record: SessionRecord, _ttlMs: number): Promise<void> {
    const now = Date.now();
    // A taken id, or an alias put back there (putBackSession), stays as it is.
    if (this.taken.has(id) || this.sessions.get(id)?.successor !== undefined || record.expiresAt <= now)
      return Promise.resolve();
    this.forget(id);
    if (this.sessions.size >= this.maxSessions) this.sweep(now);
    if (this.sessions.size >= this.maxSessions) this.forget(this.victim());
    this.sessions.set(id, record);
    const owner = ownerOf(record);
    this.owners.add(owner, id);
    if (isQuiet(record)) {
      this.withoutTopics.add(id);
      let quiet = this.withoutTopicsByOwner.get(owner);
      if (quiet === undefined) {
        quiet = new Set();
        this.withoutTopicsByOwner.set(owner, quiet);
      }
      quiet.add(id);
    }
    return Promise.resolve();
  }

  takeSession(id: string): Promise<SessionRecord | undefined> {
    const record = this.sessions.get(id);
    if (record === undefined) return Promise.resolve(undefined);
    this.forget(id);
    if (this.taken.size >= this.maxSessions) this.sweepTaken(Date.now());
    if (this.taken.size >= this.maxSessions) this.taken.delete(this.taken.keys().next().value!);
    this.taken.set(id, record.expiresAt);
    // An expired record is returned as it is: the server tells the client "expired" rather than "unknown".
    return Promise.resolve(record);
  }

  putBackSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    if (!this.taken.has(id) || record.expiresAt <= Date.now()) return Promise.resolve();
    this.taken.delete(id);
    return this.saveSession(id, record, ttlMs);
  }

  /** Records kept now (for tests and stats). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  close(): Promise<void> {
    this.topics.clear();
    this.sessions.clear();
    this.owners.clear();
    this.withoutTopics.clear();
    this.withoutTopicsByOwner.clear();
    this.taken.clear();
    return Promise.resolve();
  }

  /**
   * Drops expired records from the oldest saved on, up to the first that has not expired: records are saved
   * with expiry = save time + the window, so Map order is (about) expiry order, and a save at the cap costs
   * O(expired) rather than a walk of every record. One saved with a longer window can hold shorter ones
   * behind it until it expires; the cap still holds (the oldest saved goes).
   */
  private sweep(now: number): void {
    for (const [id, record] of this.sessions) {
      if (record.expiresAt > now) return;
      this.forget(id);
    }
  }

  private forget(id: string): void {
    const record = this.sessions.get(id);
    if (record === undefined) return;
    this.sessions.delete(id);
    const owner = ownerOf(record);
    this.owners.delete(owner, id);
    if (this.withoutTopics.delete(id)) {
      const quiet = this.withoutTopicsByOwner.get(owner)!;
      quiet.delete(id);
      if (quiet.size === 0) this.withoutTopicsByOwner.delete(owner);
    }
  }

  /**
   * The record to drop at the cap: of the owner holding the most, if it holds several, one with no topic first,
   * else its oldest; when every owner holds one (many addresses), one with no topic first, else the oldest.
   */
  private victim(): string {
    const heaviest = this.owners.heaviest()!;
    const quiet = heaviest.count > 1 ? this.withoutTopicsByOwner.get(heaviest.owner) : this.withoutTopics;
    return quiet?.values().next().value ?? this.owners.oldestOf(heaviest.owner)!;
  }

  /** The same for the taken ids (taken in any order: an expired one behind a live one waits, bounded). */
  private sweepTaken(now: number): void {
    for (const [id, expiresAt] of this.taken) {
      if (expiresAt > now) return;
      this.taken.delete(id);
    }
  }
}

/**
 * The payload as the store keeps it: a small Buffer is usually a slice of a shared 8 KiB pool (Buffer.from,
 * Buffer.concat) or of a socket's read chunk, and kept for up to maxMessagesPerTopic publishes it would keep
 * that whole memory alive (1,000 kept 32-byte messages: ~8 MB of pools). Such a payload is copied into memory
 * of its own size; one that is most of its memory already is kept as it is.
 */
function compact(payload: Buffer): Buffer {
  if (payload.buffer.byteLength <= 2 * payload.length + 64) return payload;
  const own = Buffer.allocUnsafeSlow(payload.length);
  // set(), not copy(): a JavaScript caller may hand in any Uint8Array.
  own.set(payload);
  return own;
}

function checkCount(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1)
    throw new TypeError(`MemoryResumeStore: ${name} must be a positive integer.`);
  return value;
}

/** A record of a session that subscribed to nothing (an alias stands for its successor: not one). */
function isQuiet(record: SessionRecord): boolean {
  if (record.successor !== undefined) return false;
  for (const _ in record.topics) return false;
  return true;
}

/** Records saved without an owner (by a caller of the store's own) share one. */
function ownerOf(record: SessionRecord): string {
  return typeof record.owner === "string" ? record.owner : "";
}
