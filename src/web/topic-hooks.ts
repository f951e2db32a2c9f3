import type { SharedPayload } from "../protocol/extension.js";
import type { WebSocket } from "./websocket.js";

// What a server-side WebSocket needs from its server's topics (src/server/topics.ts and pubsub.ts implement
// it). The web layer knows no server: an accepted socket is handed a TopicHost, a client socket has none.

/**
 * A message published to a topic, shared by all its subscribers: its frame, and (SharedPayload) its
 * compressed payload per compressor configuration for subscribers with permessage-deflate.
 */
export interface PublishedMessage extends SharedPayload {
  /** The unmasked frame: built on first use, then the very same Buffer for every subscriber. */
  frame(): Buffer;
}

export interface TopicHost {
  /** Adds `socket` to `topic`; false if it already was a subscriber (or is closed). */
  subscribe(socket: WebSocket, topic: unknown): boolean;
  /** Removes `socket` from `topic`; false if it was not a subscriber. */
  unsubscribe(socket: WebSocket, topic: unknown): boolean;
  isSubscribed(socket: WebSocket, topic: unknown): boolean;
  /** A snapshot of the socket's topics, in subscription order. */
  topicsOf(socket: WebSocket): readonly string[];
  /** Whether the socket's resumable session was resumed (docs/resume.md). */
  resumed(socket: WebSocket): boolean;
  /** Publishes to every subscriber of `topic` but `socket`; returns how many local subscribers got it. */
  publishFrom(socket: WebSocket, topic: unknown, data: unknown, options?: unknown): number;
}
