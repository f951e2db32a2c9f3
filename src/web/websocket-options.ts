import type { LookupFunction } from "node:net";
import type { ClientExtensionNegotiator } from "../client/connect.js";
import type { ProxyOption } from "../client/proxy.js";
import type { Connection } from "../connection/connection.js";
import type { ConnectionOptions, Transport } from "../connection/connection-options.js";
import type { HeartbeatOptions } from "../connection/heartbeat.js";
import type { PerMessageExtension } from "../protocol/extension.js";
import type { PerMessageDeflateOption } from "../protocol/permessage-deflate/index.js";
import type { CloseEvent, ErrorEvent, MessageEvent } from "./events.js";
import type { TopicHost } from "./topic-hooks.js";
import type { WebSocket } from "./websocket.js";

// The types around the WebSocket class: its options, its event map, and what the server hands it.

/**
 * "blob" and "arraybuffer" are the standard's. "nodebuffer" is Node-only (as in Bun): binary messages
 * arrive as a Buffer viewing the received bytes, with no copy. Browsers ignore the value, so browser code
 * never sees it.
 */
export type BinaryType = "blob" | "arraybuffer" | "nodebuffer";

/**
 * The events a WebSocket fires and their classes (lib.dom's WebSocketEventMap), with sockjet's own
 * MessageEvent and CloseEvent (not the globals, which differ between lib.dom and @types/node).
 */
export interface WebSocketEventMap {
  open: Event;
  // biome-ignore lint/suspicious/noExplicitAny: as in lib.dom: data is a string, Blob or ArrayBuffer
  message: MessageEvent<any> & GlobalMessageEvent;
  /** Node-only: an ErrorEvent whose `error` says why (lib.dom: a bare Event). */
  error: ErrorEvent;
  close: CloseEvent;
}

/**
 * The global MessageEvent's instance type where there is one (lib.dom's, or undici's from @types/node), else
 * unknown. A received message is sockjet's MessageEvent and has every member of that type too (the same
 * attributes and initMessageEvent()), so handlers annotated with the global type, as browser code is, still
 * type-check.
 */
type GlobalMessageEvent = typeof globalThis extends { MessageEvent: { prototype: infer E } } ? E : unknown;

/** DOM §2.7 EventListener (a callback or an object with handleEvent), without needing the DOM lib. */
export type WebSocketEventListener = ((event: Event) => unknown) | { handleEvent(event: Event): unknown };

/** DOM §2.7 EventListenerOptions, without needing the DOM lib. */
export interface WebSocketEventListenerOptions {
  capture?: boolean;
}

/** DOM §2.7 AddEventListenerOptions, without needing the DOM lib. */
export interface WebSocketAddEventListenerOptions extends WebSocketEventListenerOptions {
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

/** An on* attribute's value (lib.dom's shape). */
export type EventHandler<K extends keyof WebSocketEventMap> =
  | ((this: WebSocket, event: WebSocketEventMap[K]) => unknown)
  | null;

/**
 * A Fetch `Headers` as the types know it: lib.dom's without DOM.Iterable declares no iterator (Node's has one,
 * which is what is read).
 */
export interface HeadersLike {
  /** Calls `callback` with each field's value and name. */
  forEach(callback: (value: string, name: string) => void): void;
}

/** Node-only options (the third constructor argument): what browsers cannot do but servers need. */
export interface WebSocketOptions {
  /**
   * Extra request headers (validated: no CR/LF, no handshake headers): a record, a `Headers` or [name, value]
   * pairs, as undici takes. Over HTTP/2 the connection-specific ones (Keep-Alive, Proxy-Connection, TE but
   * "trailers": RFC 9113 §8.2.2) are left out.
   */
  headers?: Record<string, string> | Iterable<readonly [string, string]> | HeadersLike;
  /** The Origin header to send (browsers set it from the page; so does sockjet where globalThis.location exists). */
  origin?: string;
  /** Base URL for relative URLs (browsers use the document's URL; sockjet globalThis.location if any). */
  baseURL?: string | URL;
  /** TLS options for wss: (certificate verification is on by default). */
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  /** Largest message accepted, in bytes. Default 64 MiB. */
  maxPayloadBytes?: number;
  maxFragmentsPerMessage?: number;
  /** Time allowed for the opening handshake. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Time allowed for the closing handshake before the socket is destroyed. Default 10 s. */
  closeTimeoutMs?: number;
  /**
   * Off by default. `true` or `{ intervalMs, timeoutMs }` (30000, 10000): after intervalMs with nothing from
   * the server, send a Ping; if nothing arrives within timeoutMs, drop the connection (error
   * `SJ_ERR_HEARTBEAT_TIMEOUT`, close 1006).
   */
  heartbeat?: boolean | HeartbeatOptions;
  /** Largest response header block, in bytes. Default Node's (16 KiB). */
  maxHeaderBytes?: number;
  /** The extension offered in the handshake, or null for none; replaces `perMessageDeflate` when given. */
  extension?: ClientExtensionNegotiator | null;
  /**
   * permessage-deflate (RFC 7692): true (default, offered like browsers do: `permessage-deflate;
   * client_max_window_bits`), false, or options (thresholdBytes, level, memLevel, the four parameters).
   */
  perMessageDeflate?: PerMessageDeflateOption;
  /**
   * WebSockets over HTTP/2 (RFC 8441): "never" (HTTP/1.1 only), "always" (HTTP/2 only; ws: by prior
   * knowledge) or "auto" (wss: offers h2 by ALPN and uses it when the server's SETTINGS allow extended
   * CONNECT, else HTTP/1.1). Sockets to one origin share one session. Through a `proxy`: HTTP/1.1. Default: setDefaultHttp2Mode()'s,
   * "never" unless changed (see src/client/http2-connect.ts for why).
   */
  http2?: "auto" | "never" | "always";
  /**
   * Connect through a proxy: "http://[user:pass@]host:port" (CONNECT), "https://…" (TLS to the proxy, then
   * CONNECT), "socks5://…" or "socks5h://…" (RFC 1928/1929; names are resolved by the proxy), or
   * `{ url, username, password, ca, rejectUnauthorized }`. wss: stays TLS end to end to the server.
   */
  proxy?: ProxyOption;
  /**
   * Opt in to the proxy environment variables when `proxy` is not given, as undici's EnvHttpProxyAgent reads
   * them: http_proxy (ws:), https_proxy then http_proxy (wss:), then all_proxy; no_proxy exempts hosts, and
   * (as curl reads it) IP literals in its address ranges ("10.0.0.0/8").
   * Default false. A variable that is not a usable proxy URL makes the constructor throw a TypeError.
   */
  proxyFromEnvironment?: boolean;
  /**
   * The local IP address to connect from (net.connect's `localAddress`), e.g. "127.0.0.2" or one of this
   * host's addresses. Through a proxy: the connection to the proxy.
   */
  localAddress?: string;
  /**
   * The IP version to resolve the server's host name to (net.connect's `family`): 4, 6, or 0 (the default)
   * for either. Through a proxy: the proxy's host name (SOCKS5 targets are resolved by the proxy).
   */
  family?: 0 | 4 | 6;
  /** Resolves host names instead of dns.lookup, as net.connect's `lookup` (the same cases as `family`). */
  lookup?: LookupFunction;
}

/** Node-only: per-message send options. */
export interface SendOptions {
  /** Transform (compress) this message with the negotiated extension, overriding its threshold. */
  compress?: boolean;
}

/** What the server passes to make the WebSocket of an accepted connection. */
export interface AcceptedConnection {
  /** The upgraded socket, or the HTTP/2 stream of an extended CONNECT (RFC 8441). */
  socket: Transport;
  /** Shared by the server's connections: kept by the Connection as it is. */
  options: ConnectionOptions;
  /** The extension negotiated for this connection (wins over options.extension). */
  extension?: PerMessageExtension | null;
  /** The request URL as the server saw it (ws://host/path?query). */
  url: string;
  /** The serialized origin of `url`. */
  origin: string;
  protocol: string;
  extensions: string;
  /** What the server hooks into its sockets: one object per server, kept by each socket (ServerHooks). */
  server?: ServerHooks | null;
}

/** What a server hooks into each socket it accepts; one object per server, shared by its sockets. */
export interface ServerHooks {
  /** The server's topics (pub/sub), for subscribe()/publish() on this socket. */
  readonly topics: TopicHost | null;
  /**
   * Called when the socket closes, before its close event: one function per server, instead of a listener
   * (and its closure) per connection.
   */
  readonly onClosed: ((webSocket: WebSocket, connection: Connection, event: CloseEvent) => void) | null;
}
