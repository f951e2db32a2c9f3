import type { Duplex } from "node:stream";
import type { PerMessageExtension } from "../protocol/extension.js";
import type { Role } from "../protocol/protocol-options.js";
import type { ResolvedHeartbeat } from "./heartbeat.js";
import type { ResolvedRateLimit } from "./rate-limit.js";

// What a Connection is given: its options, the events it reports, and the transport it runs on. Apart from
// connection.ts so that the server, the client and the web layer can name them without the class.

export interface ConnectionOptions {
  role: Role;
  maxPayloadBytes?: number;
  maxFragmentsPerMessage?: number;
  extension?: PerMessageExtension | null;
  /** How long to wait for the peer's Close / TCP close before destroying the socket. */
  closeTimeoutMs?: number;
  /**
   * Outgoing bytes that may wait before the peer counts as a slow consumer: beyond the largest message in
   * the buffer, it is failed with 1008 ("close"); in all, its input is paused until they are written
   * ("pause"). See checkSlowConsumer. Default: unbounded.
   */
  maxBufferedBytes?: number;
  slowConsumer?: "close" | "pause";
  /**
   * The close code of a "close" slow consumer. Default 1008 (RFC 6455 §7.4.1 policy); a resume connection
   * gets 1013 (try again later), since its client is to come back and resume (docs/resume.md).
   */
  slowConsumerCloseCode?: number;
  /** Limits on the frames and bytes the peer sends (resolveRateLimit), or null. */
  rateLimit?: ResolvedRateLimit | null;
  /** Pings the peer while it is silent and drops it when nothing answers (resolveHeartbeat), or null. */
  heartbeat?: ResolvedHeartbeat | null;
}

export interface ConnectionEvents {
  onMessage(data: Buffer, isText: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /**
   * The closing handshake has started (WHATWG readyState CLOSING): the peer's Close frame arrived, or we
   * failed the connection and sent ours.
   */
  onClosing(code: number, reason: string): void;
  /** The transport is closed. `code` is 1006 when no Close frame was received (RFC 6455 §7.1.5). */
  onClosed(code: number, reason: string, wasClean: boolean, error: Error | null): void;
}

export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/**
 * What a connection runs on: a net/tls socket after an HTTP/1.1 upgrade, or an HTTP/2 stream after an RFC 8441
 * extended CONNECT (both are Duplex streams). Only these members beyond Duplex are used, once per connection.
 */
export type Transport = Duplex & {
  /** Nagle off (sockets only: an HTTP/2 session's socket is set by whoever made the session). */
  setNoDelay?(noDelay?: boolean): unknown;
  setTimeout?(ms: number): unknown;
  /** The peer's address (a socket's; an HTTP/2 stream gets its session's from the server). */
  readonly remoteAddress?: string;
};
