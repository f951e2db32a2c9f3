// The store behind resumable sessions (the server's `resume.store` option): it gives each topic message a
// position, keeps the last messages of each topic for a replay, and keeps the records of disconnected
// sessions until they are resumed or expire. `MemoryResumeStore` (one process) and the Redis Streams store of
// `sockjet/redis` (many processes) implement it. The wire format and the guarantees are in docs/resume.md.

/** A topic message as the store keeps it. */
export interface StoredMessage {
  /** The message's position in its topic (compare with comparePositions). */
  position: string;
  /** The application bytes (UTF-8 for text). */
  payload: Buffer;
  isText: boolean;
  /**
   * The publisher id given to append() (a resumable session's `SessionRecord.publisher`), if any: a replay
   * leaves out the session's own messages, as live delivery did (socket.publish skips its publisher).
   */
  publisher?: string;
}

/** What the store keeps of a disconnected session, until it is resumed or expires. */
export interface SessionRecord {
  /** sha256 of the token's secret, base64url: the store never holds the token itself. */
  secretHash: string;
  /**
   * topic → the position the session started from on that topic (its subscription or its last resume): the
   * replay starts there when the client presents no position of its own for the topic.
   */
  topics: Record<string, string>;
  /** Milliseconds since the epoch after which the session can no longer be resumed. */
  expiresAt: number;
  /**
   * The session's publisher id, the same across its resumes (absent in records of older servers: a fresh
   * one is then made). A store keeps it as it is.
   */
  publisher?: string;
  /**
   * Who the session belongs to: "id:" and the identity resume.identify gave, else "ip:" and the client's
   * address (an IPv6 address by its /64). A store that must drop records before they expire drops those of
   * the owner with the most first (MemoryResumeStore), so a flood from one place pushes out only its own. A
   * store keeps it as it is.
   */
  owner?: string;
  /**
   * Set on an alias (putBackSession): the id of the session that continued this one, whose record a resume
   * with this one's token takes instead. A store keeps it as it is, and ignores a save over an alias as it
   * does over a taken id (saveSession).
   */
  successor?: string;
}

/**
 * Where resumable sessions keep positions, the last messages of each topic, and the records of sessions
 * (the `resume.store` option): `MemoryResumeStore`, or the Redis Streams store of `sockjet/redis`.
 */
export interface ResumeStore {
  /**
   * true when append() itself carries the message to every process (Redis store: XADD+PUBLISH in one script,
   * so stream order == live order everywhere): the server then delivers even its own publishes only when they
   * come back through onAppended, and does not call the PubSubAdapter. false (memory): deliver at once.
   */
  readonly distributes: boolean;
  /**
   * Gives the message the next position of its topic (monotonic per topic; compare with comparePositions) and
   * keeps it, bounded by maxMessagesPerTopic / the window. May be sync (memory) or async (Redis).
   * `publisher`: the id of the resumable session that published it (socket.publish), to be handed back in
   * StoredMessage.publisher by readAfter (a store that drops it replays a session's own messages to it).
   */
  append(topic: string, payload: Buffer, isText: boolean, publisher?: string): string | Promise<string>;
  /**
   * When distributes: messages appended by any process, in the topic's order (call subscribe first). A
   * message appended by this process is handed over only after its append() promise has settled (the server
   * learns its position first: that is how socket.publish() keeps the publisher out of its own message).
   */
  onAppended?(handler: (topic: string, message: StoredMessage) => void): void;
  /** When distributes: from now on, hand over what is appended to `topic` (idempotent). */
  subscribe?(topic: string): Promise<void>;
  /** When distributes: stop handing over `topic` (idempotent). */
  unsubscribe?(topic: string): Promise<void>;
  /** When distributes: trouble not tied to one call, such as a lost broker connection. */
  onError?(handler: (error: Error) => void): void;
  /**
   * Messages of topic strictly after `after`, in order, at most `limit` of them (the server reads on while it
   * gets `limit`); null when the store no longer holds all of them (gap: the client must be told it cannot
   * resume). `after` = "" means "from the start of what I had: nothing", i.e. every message the store holds
   * is wanted, and null if the store has trimmed any message of the topic.
   */
  readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null>;
  /** The current last position of a topic ("" if none): a new session's starting point when it subscribes. */
  lastPosition(topic: string): string | Promise<string>;
  /**
   * Keeps `record` under `id` for `ttlMs` (replacing an earlier record of that id). A save of an id that was
   * taken already must be ignored: a stale connection of a session resumed elsewhere must not bring it back;
   * so must a save over an alias put back there (a record with `successor`: putBackSession).
   */
  saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /**
   * Removes and returns the record of `id`, atomically (single use: a second take of the same id, or a take of
   * an expired record, returns undefined; a store may also return an expired record: the server checks
   * expiresAt).
   */
  takeSession(id: string): Promise<SessionRecord | undefined>;
  /**
   * Optional; a store shared by processes should have it. Keeps `record` under `id` for `ttlMs` only if `id`
   * was taken (over the mark of that take: never over a newer save, nor under an id never taken). After a
   * resume has taken a session, the server puts back under its id an alias of the successor session: a
   * client cut before its new token arrived presents the old one again, maybe to another process, which then
   * takes the successor (docs/resume.md).
   */
  putBackSession?(id: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /** Releases the store's connections and timers. */
  close(): Promise<void>;
}

/**
 * Orders two positions of one topic: negative when a < b, 0 when equal, positive when a > b. A position is
 * "" (before everything), a decimal integer ("42", the memory store) or a Redis stream id ("1700000000000-3"):
 * dash-separated decimal parts compared part by part, numerically, without limit on their size.
 */
export function comparePositions(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "") return -1;
  if (b === "") return 1;
  let aStart = 0;
  let bStart = 0;
  for (;;) {
    let aEnd = a.indexOf("-", aStart);
    let bEnd = b.indexOf("-", bStart);
    if (aEnd === -1) aEnd = a.length;
    if (bEnd === -1) bEnd = b.length;
    const order = compareDecimals(a, aStart, aEnd, b, bStart, bEnd);
    if (order !== 0) return order;
    const aDone = aEnd >= a.length;
    const bDone = bEnd >= b.length;
    // "5" and "5-0" are the same position (a stream id's sequence defaults to 0).
    if (aDone && bDone) return 0;
    if (aDone) return isZeros(b, bEnd + 1) ? 0 : -1;
    if (bDone) return isZeros(a, aEnd + 1) ? 0 : 1;
    aStart = aEnd + 1;
    bStart = bEnd + 1;
  }
}

/**
 * Whether a position (a client's claim) is one a store can hold, as a store writes it: "", a decimal
 * counter (memory store), or a Redis stream id "ms-seq" (https://redis.io/docs/latest/develop/data-types/
 * streams/: two unsigned 64-bit numbers). Decimal without leading zeros, each part at most 2^64 − 1:
 * anything else would fail a store's read (Redis: "ERR Invalid stream ID").
 */
export function isPosition(value: unknown): value is string {
  if (typeof value !== "string") return false;
  if (value === "") return true;
  const parts = /^(0|[1-9]\d*)(?:-(0|[1-9]\d*))?$/.exec(value);
  return parts !== null && fitsUint64(parts[1]) && (parts[2] === undefined || fitsUint64(parts[2]));
}

/** 2^64 − 1, the largest part of a Redis stream id. */
const MAX_UINT64 = "18446744073709551615";

/** Whether canonical decimal digits (no leading zero) are at most 2^64 − 1 (same length: compared as text). */
function fitsUint64(digits: string): boolean {
  return digits.length < MAX_UINT64.length || (digits.length === MAX_UINT64.length && digits <= MAX_UINT64);
}

/** Compares two unsigned decimal numbers given as slices, without converting them (no size limit). */
function compareDecimals(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): number {
  while (aStart < aEnd - 1 && a.charCodeAt(aStart) === 48) aStart++;
  while (bStart < bEnd - 1 && b.charCodeAt(bStart) === 48) bStart++;
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  if (aLength !== bLength) return aLength - bLength;
  for (let i = 0; i < aLength; i++) {
    const difference = a.charCodeAt(aStart + i) - b.charCodeAt(bStart + i);
    if (difference !== 0) return difference;
  }
  return 0;
}

function isZeros(value: string, from: number): boolean {
  for (let i = from; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code !== 48 && code !== 45) return false;
  }
  return true;
}
