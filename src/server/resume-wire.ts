import { isPosition } from "./resume-store.js";

// The wire format of resumable sessions, server side (docs/resume.md; the client side is src/resume/).
// Server → client, every message starts with a type byte; client → server, the first message is a hello.

/** The subprotocol that turns resume on for a connection (RFC 6455 §1.9). */
export const RESUME_PROTOCOL = "sockjet.resume.1";

export const DIRECT_MESSAGE = 0x00;
export const TOPIC_MESSAGE = 0x01;
export const CONTROL_MESSAGE = 0x02;

/** The one-byte prefix of a direct send(). */
export const DIRECT_PREFIX = Buffer.from([DIRECT_MESSAGE]);

/**
 * A topic message: 0x01 + "<topic number> <position>\n" + payload. The topic is named by the number this
 * process gives it (announced to each connection by topicAnnouncement() when it subscribes), so that the
 * header stays short, and the same for every connection: one envelope per publish. Digits, a space, dashes
 * and "\n": ASCII, valid in a text message.
 */
export function envelopeTopicMessage(topicId: number, position: string, payload: Buffer): Buffer {
  const header = `\u0001${topicId} ${position}\n`;
  const headerLength = Buffer.byteLength(header);
  const bytes = Buffer.allocUnsafe(headerLength + payload.length);
  bytes.write(header, 0, "utf8");
  payload.copy(bytes, headerLength);
  return bytes;
}

/** The control message that tells a connection the number of a topic it subscribed to (docs/resume.md). */
export function topicAnnouncement(topicId: number, topic: string): Record<string, unknown> {
  return { type: "topic", id: topicId, topic };
}

export type ResetReason = "expired" | "unknown" | "forged" | "invalid" | "gap";

/** A control message, 0x02 + JSON (sent as text). */
export function controlMessage(body: Record<string, unknown>): string {
  return `\u0002${JSON.stringify(body)}`;
}

export type Hello =
  | { type: "hello" }
  /** `positions` null: the client claimed a position no store can hold (reset "invalid"). */
  | { type: "resume"; token: unknown; positions: Record<string, string> | null }
  | { type: "bad"; reason: string };

/** Reads the client's first message. */
export function parseHello(data: Buffer, isText: boolean): Hello {
  if (!isText) return { type: "bad", reason: "the first message must be a text hello" };
  let body: unknown;
  try {
    body = JSON.parse(data.toString("utf8"));
  } catch {
    return { type: "bad", reason: "the hello is not JSON" };
  }
  if (typeof body !== "object" || body === null) return { type: "bad", reason: "the hello is not an object" };
  const hello = body as Record<string, unknown>;
  if (hello.type === "hello") return { type: "hello" };
  if (hello.type !== "resume") return { type: "bad", reason: "unknown hello type" };
  // Positions the client claims (topic → position; none if absent): one malformed claim makes them all
  // untrustworthy. Keyed by topic: no prototype, so that "__proto__" is a topic like any other.
  const positions: Record<string, string> = Object.create(null);
  const claimed = hello.positions;
  if (claimed !== undefined) {
    if (typeof claimed !== "object" || claimed === null || Array.isArray(claimed))
      return { type: "resume", token: hello.token, positions: null };
    for (const [topic, position] of Object.entries(claimed)) {
      if (!isPosition(position)) return { type: "resume", token: hello.token, positions: null };
      positions[topic] = position;
    }
  }
  return { type: "resume", token: hello.token, positions };
}
