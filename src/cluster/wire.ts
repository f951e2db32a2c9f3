// The messages the ClusterAdapter (in each worker) and the ClusterRelay (in the primary) exchange over
// node:cluster's IPC channel. Each carries `sockjet: "pubsub"`, so an application's own IPC messages on the
// same channel pass by untouched, and a `ns` (namespace), so two adapters in one worker (two servers) keep
// their topics apart.
//
// Publishes go in batches: what one worker publishes in one turn of its event loop is one IPC message
// (`pubs`), and what the relay passes on to one worker from one batch is one message (`msgs`): an IPC message
// costs a write and a parse at each end, more than a small publish itself.
//
// A payload travels as a string when it is text (UTF-8 in, UTF-8 out, whatever the channel's
// serialization), and a binary payload as bytes with `serialization: "advanced"` (structured clone) or as
// base64 on the default JSON channel (which would turn a Buffer into an array of numbers, 4–5 times the
// size).

export const PUBSUB_TAG = "pubsub";

/** A payload as it crosses the channel: text, base64 (JSON channel), or bytes (advanced channel). */
export type WirePayload = string | Uint8Array;

/** One publish in a batch: topic, payload, whether it is text. */
export type WireItem = [topic: string, payload: WirePayload, isText: boolean];

/** Worker → primary. */
export type ToPrimary =
  | { sockjet: typeof PUBSUB_TAG; op: "sub" | "unsub"; ns: string; topic: string; id: number }
  | { sockjet: typeof PUBSUB_TAG; op: "pubs"; ns: string; items: WireItem[] };

/** Primary → worker. */
export type ToWorker =
  | { sockjet: typeof PUBSUB_TAG; op: "ack"; ns: string; id: number }
  | { sockjet: typeof PUBSUB_TAG; op: "msgs"; ns: string; items: WireItem[] };

/** Whether a batch item is well formed (a message from the channel is not trusted blindly). */
export function isWireItem(item: unknown): item is WireItem {
  return (
    Array.isArray(item) &&
    typeof item[0] === "string" &&
    (typeof item[1] === "string" || item[1] instanceof Uint8Array) &&
    typeof item[2] === "boolean"
  );
}

/** Whether an IPC message is one of ours (anything else on the channel is the application's). */
export function isPubSubMessage(message: unknown): message is { sockjet: string; op: string; ns: string } {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { sockjet?: unknown }).sockjet === PUBSUB_TAG &&
    typeof (message as { ns?: unknown }).ns === "string"
  );
}

/** How a payload goes on the channel: text as a string; binary as bytes or base64. */
export function encodePayload(payload: Buffer, isText: boolean, bytes: boolean): WirePayload {
  if (isText) return payload.toString("utf8");
  return bytes ? payload : payload.toString("base64");
}

/** The payload's bytes back, or null when the message is malformed. */
export function decodePayload(payload: unknown, isText: boolean): Buffer | null {
  if (typeof payload === "string") return Buffer.from(payload, isText ? "utf8" : "base64");
  if (payload instanceof Uint8Array)
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return null;
}

/** Whether this process's IPC channel uses structured clone (node:cluster / child_process `serialization`). */
export function channelCarriesBytes(): boolean {
  // Node sets this for the child from the parent's `serialization` option.
  return process.env.NODE_CHANNEL_SERIALIZATION_MODE === "advanced";
}
