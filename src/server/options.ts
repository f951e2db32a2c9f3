import type { IncomingMessage } from "node:http";
import type { SecureContextOptions } from "node:tls";
import type { RateLimitOptions } from "../connection/rate-limit.js";
import type { PerMessageExtension } from "../protocol/extension.js";
import type { ExtensionOffer } from "../protocol/header-grammar.js";
import type { PerMessageDeflateOption } from "../protocol/permessage-deflate/index.js";
import type { PubSubAdapter } from "./adapter.js";
import type { OriginsOption } from "./origin-policy.js";
import type { ResumeOptions } from "./resume-options.js";

// Every server option with its default, in one place. Limits name their unit.

/** What a verify hook sees of the upgrade request. */
export interface VerifyInfo {
  request: IncomingMessage;
  /** The Origin header, or "" (RFC 6455 §4.2.1 item 7, §10.2). */
  origin: string;
  secure: boolean;
  /** The request URL as the server sees it (ws://host/path?query). */
  url: URL;
}

/**
 * A rejection: the HTTP status, optional headers and body text. Content-Length, Transfer-Encoding,
 * Connection and (but on a 426) Upgrade among `headers` are dropped: the server frames the answer itself
 * (RFC 9112 §6.3). A Content-Type replaces the default text/plain.
 */
export interface Rejection {
  status: number;
  headers?: Record<string, string>;
  message?: string;
}

/** An accepting answer that carries the app's data (a user, a session): any object without a `status`. */
export interface Verified {
  status?: undefined;
  [key: string]: unknown;
}

/**
 * `false` rejects with 403 Forbidden; an object with a `status` (a Rejection) rejects with it, which must be an
 * error status 400–599 (anything else is a hook bug: 500 and 'handshakeError'); anything else accepts: `true`,
 * `undefined`, `null`, `0`, "", and an object without a `status` (Verified). May be a promise or any
 * thenable, which is awaited.
 */
export type VerifyResult = boolean | Rejection | Verified | undefined | null;

/** Negotiates one extension (permessage-deflate) on the server side. */
export interface ServerExtensionNegotiator {
  readonly name: string;
  /** Picks the first acceptable offer; returns the response parameters and the extension, or null. */
  negotiate(offers: ExtensionOffer[]): { response: string; extension: PerMessageExtension } | null;
}

/** Options of `new WebSocketServer(options)`: a mode (port, server or noServer), hooks and limits. */
export interface WebSocketServerOptions {
  /** Standalone mode: listen on this port (0 = any free port). */
  port?: number;
  host?: string;
  backlog?: number;
  /** Standalone mode over TLS (https/wss). */
  tls?: SecureContextOptions & { cert?: string | Buffer; key?: string | Buffer };
  /**
   * Attached mode: an existing http/https server, or a node:http2 one (secure or h2c): WebSockets then also
   * come over HTTP/2 (RFC 8441 extended CONNECT), and over HTTP/1.1 on a secure server with allowHTTP1.
   */
  server?:
    | import("node:http").Server
    | import("node:https").Server
    | import("node:http2").Http2SecureServer
    | import("node:http2").Http2Server;
  /**
   * Standalone mode: a node:http2 server that also accepts WebSockets over HTTP/2 (RFC 8441): with `tls`,
   * HTTP/1.1 and h2 on one port (ALPN); without, cleartext h2c only (prior knowledge). true or false; default
   * false.
   */
  http2?: boolean;
  /**
   * Only upgrade requests for this pathname (attached and standalone modes). One path of an http server has
   * one WebSocketServer (another there is an Error, SJ_ERR_PATH_IN_USE); one without a path serves the others.
   */
  path?: string;
  /** Neither listen nor attach: the caller passes upgrades to handleUpgrade(). */
  noServer?: boolean;

  /**
   * Subprotocols this server speaks, in its order of preference: the default selection picks the first of
   * these that the client offered, whatever the client's order.
   */
  protocols?: readonly string[];
  /** Picks the subprotocol from those offered; default: the first of `protocols` that was offered. */
  selectProtocol?: (offered: string[], request: IncomingMessage) => string | null | undefined;
  /**
   * Which pages may open a connection, by their `Origin` (cross-site WebSocket hijacking): "*" (default,
   * as in ws: any), "same-origin", a list of origins and/or "same-origin", or a function. A request with
   * no Origin (not from a browser) is accepted by the declarative forms. Refused → 403. See origin-policy.ts.
   */
  origins?: OriginsOption;
  /**
   * Most connections (open or handshaking) from one client address (IPv6: one /64); more → 429 with
   * Retry-After. Default 0 = no limit (behind a proxy every client has the proxy's address).
   */
  maxConnectionsPerIp?: number;
  /** Accepts or rejects a handshake (origin, cookies, tokens). See VerifyResult; throwing → 500. */
  verify?: (info: VerifyInfo) => VerifyResult | PromiseLike<VerifyResult>;
  /** Extra headers on the 101 response. */
  headers?: Record<string, string> | ((request: IncomingMessage) => Record<string, string>);
  /** The extension to negotiate (permessage-deflate), or null. */
  extension?: ServerExtensionNegotiator | null;
  /**
   * permessage-deflate (RFC 7692) when `extension` is not given: true (no context takeover either way),
   * false, or options (thresholdBytes, level, memLevel, the four parameters) over those defaults. Default
   * false (SERVER_PER_MESSAGE_DEFLATE).
   */
  perMessageDeflate?: PerMessageDeflateOption;
  /**
   * Carries topic publishes to and from other processes (`sockjet/redis`), or null for in-process topics
   * only. The server closes it in close(). Default null.
   */
  adapter?: PubSubAdapter | null;
  /**
   * Resumable sessions (docs/resume.md): clients that offer the `sockjet.resume.1` subprotocol get a session
   * token and positioned topic messages, and after a disconnection within maxDisconnectionMs get their
   * subscriptions back and every missed topic message replayed. `true` = the defaults. Default null (off).
   */
  resume?: ResumeOptions | boolean | null;

  /** Largest message accepted, after decompression. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Frames a message may span beyond one per payload byte: a message may span max(this, its bytes) frames
   * (fragments cost bytes, bounded by maxPayloadBytes; this stops floods of empty ones). Default 1024.
   */
  maxFragmentsPerMessage?: number;
  /** Time from the connection to a completed handshake (incl. verify). Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Largest request head accepted, above 0 (Infinity: no limit). Default 16 KiB → 431. */
  maxHeaderBytes?: number;
  /** Most request header fields accepted, above 0 (Infinity: no limit). Default 100 → 431. */
  maxHeaderCount?: number;
  /** Most open connections; more are refused with 503. Default 10,000. */
  maxConnections?: number;
  /**
   * Outgoing bytes a connection may have waiting, beyond the largest message in its buffer ("close"), or in
   * all ("pause"), before it counts as a slow consumer. Default 8 MiB.
   */
  maxBufferedBytes?: number;
  /** A slow consumer is failed (1008 with a reason, default) or its input paused until its output is written. */
  slowConsumer?: "close" | "pause";
  /** Ping every connection this often; one that has not answered by the next ping is terminated. Default 30 s; 0 = off. */
  pingIntervalMs?: number;
  /** Close (1001) a connection that sends no message for this long (checked at this granularity). Default 0 = off. */
  idleTimeoutMs?: number;
  /** Time allowed for a closing handshake before the socket is destroyed. Default 10 s. */
  closeTimeoutMs?: number;
  /** How long close() waits for closing handshakes before terminating. Default 5 s. */
  shutdownTimeoutMs?: number;

  /**
   * Per-connection limits on what each peer sends: frames per second (every frame but Close counts, pings,
   * pongs and empty frames too) and payload bytes per second, token buckets with bursts; past them the
   * connection is closed with 1008 and a reason, or its input paused until the bucket refills
   * (`onExceeded: "pause"`). Default null (SERVER_RATE_LIMIT): no limit, as in ws.
   */
  rateLimit?: RateLimitOptions | null;
}

/**
 * No rate limit by default, as in ws, uWebSockets and Socket.IO: a right limit depends on the application (a
 * game sends 60 updates a second, a chat one every few seconds), and a wrong one closes healthy clients.
 * `sockjet serve` sets one (src/cli/serve.ts).
 */
export const SERVER_RATE_LIMIT: RateLimitOptions | null = null;

/**
 * permessage-deflate is off unless asked for, as in ws, uWebSockets and Socket.IO: on loopback it cuts echo
 * throughput of 1 KiB JSON ~6× (zlib runs per message on the thread pool). `perMessageDeflate: true` turns it
 * on without context takeover either way (SERVER_DEFLATE_DEFAULTS): +3.5 KiB per connection measured, against
 * +241 KiB with context takeover (docs/deflate.md), and a topic publish is compressed once for all such
 * subscribers (without server context takeover its compressed bytes do not depend on the connection).
 */
export const SERVER_PER_MESSAGE_DEFLATE: PerMessageDeflateOption = false;

export const SERVER_DEFAULTS = {
  maxPayloadBytes: 1024 * 1024,
  maxFragmentsPerMessage: 1024,
  handshakeTimeoutMs: 10_000,
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxConnections: 10_000,
  maxConnectionsPerIp: 0,
  maxBufferedBytes: 8 * 1024 * 1024,
  slowConsumer: "close",
  pingIntervalMs: 30_000,
  idleTimeoutMs: 0,
  closeTimeoutMs: 10_000,
  shutdownTimeoutMs: 5_000,
} as const;
