import type { SessionRecord } from "../server/resume-store.js";
import type { WirePayload } from "./wire.js";

// The messages a ClusterResumeStore (in each worker) and the ClusterResumeHost (in the primary) exchange over
// node:cluster's IPC channel. Each carries `sockjet: "resume"` (the ClusterAdapter's are "pubsub": the two
// pass each other by, and an application's own IPC messages pass both) and a `ns` (namespace).
//
// Every request carries an `id` and is answered by one `reply` with that id (`ok: false` and an `error` when
// the host could not do it). The appends of one event-loop turn go as one `append` request whose reply
// carries their positions in order; the host then sends each appended message to the workers subscribed to
// its topic (`msgs`), the publisher's worker included, after the reply.

export const RESUME_TAG = "resume";

// A message's publisher id (StoredMessage.publisher: a resumable session's) rides last, when it has one, so
// that neither a replay nor the live feed gives a session its own publishes back (docs/resume.md).

/** One append in a batch: topic, payload, whether it is text, publisher id. */
export type AppendItem = [topic: string, payload: WirePayload, isText: boolean, publisher?: string];

/** One message handed over: topic, payload, whether it is text, position, publisher id. */
export type AppendedItem = [
  topic: string,
  payload: WirePayload,
  isText: boolean,
  position: string,
  publisher?: string,
];

/** One message read back: position, payload, whether it is text, publisher id. */
export type ReadItem = [position: string, payload: WirePayload, isText: boolean, publisher?: string];

/** Worker → primary: a request. */
export type ResumeRequest = { sockjet: typeof RESUME_TAG; ns: string; id: number } & (
  | { op: "append"; items: AppendItem[] }
  | { op: "sub" | "unsub" | "last"; topic: string }
  | { op: "read"; topic: string; after: string; limit: number }
  | { op: "save" | "putback"; session: string; record: SessionRecord; ttlMs: number }
  | { op: "take"; session: string }
);

/** Primary → worker: the answer to one request. */
export interface ResumeReply {
  sockjet: typeof RESUME_TAG;
  ns: string;
  op: "reply";
  id: number;
  ok: boolean;
  /** append: positions; read: ReadItem[] or null; last: a position; take: a record or null. */
  value?: unknown;
  error?: string;
}

/** Primary → worker: appended messages of the topics the worker subscribed to, in position order. */
export interface ResumeMessages {
  sockjet: typeof RESUME_TAG;
  ns: string;
  op: "msgs";
  items: AppendedItem[];
}

/** Whether an IPC message is one of the resume store's (anything else on the channel is someone else's). */
export function isResumeMessage(message: unknown): message is { sockjet: string; op: string; ns: string } {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { sockjet?: unknown }).sockjet === RESUME_TAG &&
    typeof (message as { ns?: unknown }).ns === "string" &&
    typeof (message as { op?: unknown }).op === "string"
  );
}

/** Whether an append item is well formed (a message from the channel is not trusted blindly). */
export function isAppendItem(item: unknown): item is AppendItem {
  return (
    Array.isArray(item) &&
    typeof item[0] === "string" &&
    (typeof item[1] === "string" || item[1] instanceof Uint8Array) &&
    typeof item[2] === "boolean" &&
    optionalString(item[3])
  );
}

function optionalString(value: unknown): boolean {
  return value === undefined || value === null || typeof value === "string";
}

/** Whether a handed-over or read item is well formed: `[string, payload, boolean, string?]`. */
export function isAppendedItem(item: unknown): item is AppendedItem {
  return (
    isAppendItem(item) && typeof (item as unknown[])[3] === "string" && optionalString((item as unknown[])[4])
  );
}

export function isReadItem(item: unknown): item is ReadItem {
  return isAppendItem(item);
}

/** Whether a value is a SessionRecord (what a worker saves, before the host keeps it). */
export function isSessionRecord(value: unknown): value is SessionRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Partial<SessionRecord>;
  return (
    typeof record.secretHash === "string" &&
    typeof record.expiresAt === "number" &&
    typeof record.topics === "object" &&
    record.topics !== null &&
    Object.values(record.topics).every((position) => typeof position === "string") &&
    (record.successor === undefined || typeof record.successor === "string") &&
    (record.owner === undefined || typeof record.owner === "string")
  );
}
