import { rejectWsNames } from "../protocol/renamed-options.js";

// The client's and the server's options named as in `ws` (see src/protocol/renamed-options.ts): e.g.
// `maxPayload: 100 * 1024 * 1024` would silently leave the default limit in place.

const ALLOW_SYNCHRONOUS_EVENTS =
  "sockjet dispatches each message as soon as it is parsed, as ws does with true; to yield between messages, defer the work (setImmediate)";

const CLIENT: Record<string, string> = {
  maxPayload: "use maxPayloadBytes",
  handshakeTimeout: "use handshakeTimeoutMs",
  closeTimeout: "use closeTimeoutMs",
  maxHeaderSize: "use maxHeaderBytes",
  followRedirects:
    'sockjet never follows redirects (browsers do not either: a WebSocket request\'s redirect mode is "error", WHATWG Fetch)',
  maxRedirects:
    'sockjet never follows redirects (browsers do not either: a WebSocket request\'s redirect mode is "error", WHATWG Fetch)',
  pingInterval: "the client answers the server's pings on its own; socket.ping() sends one",
  protocolVersion: "sockjet speaks version 13 only (RFC 6455)",
  skipUTF8Validation: "sockjet always validates UTF-8 (RFC 6455 §8.1)",
  autoPong: "sockjet always answers pings (RFC 6455 §5.5.2)",
  allowSynchronousEvents: ALLOW_SYNCHRONOUS_EVENTS,
  // An http.Agent is how ws users reach a proxy: dropped silently, the socket would connect directly.
  agent:
    'sockjet makes its own connections: for a proxy use proxy ("http://…", "https://…", "socks5://…") or proxyFromEnvironment: true',
  // http.request's, which ws passes on: a socket of the caller's would bypass the handshake's own connections
  // (plain, TLS, HTTP/2 sessions, proxy tunnels).
  createConnection:
    "sockjet makes its own connections: for their local end use localAddress, family or lookup; for a proxy, proxy",
};

const SERVER: Record<string, string> = {
  maxPayload: "use maxPayloadBytes",
  handshakeTimeout: "use handshakeTimeoutMs",
  closeTimeout: "use closeTimeoutMs",
  pingInterval: "use pingIntervalMs",
  maxHeaderSize: "use maxHeaderBytes",
  verifyClient: "use verify({ request, origin, secure, url })",
  handleProtocols: "use protocols (the server's order of preference) or selectProtocol(offered, request)",
  clientTracking: "server.clients is always kept",
  skipUTF8Validation: "sockjet always validates UTF-8 (RFC 6455 §8.1)",
  autoPong: "sockjet always answers pings (RFC 6455 §5.5.2)",
  allowSynchronousEvents: ALLOW_SYNCHRONOUS_EVENTS,
  WebSocket:
    "a server's connections are always sockjet's WebSocket; keep what you add to one in a WeakMap, from the 'connection' listener",
  // A client option in ws, given to a server: the server has no redirects to follow.
  maxRedirects: "a client option in ws (a server follows no redirects); sockjet's clients never follow one",
};

/**
 * Throws a TypeError naming the sockjet option to use when `options` has one of ws's option names; `path` is
 * how the message names the object ("options", "options.webSocket").
 */
export function rejectWsOptionNames(options: object, side: "client" | "server", path = "options"): void {
  rejectWsNames(options, side === "client" ? CLIENT : SERVER, path);
}

/** ws's send(data, options) members, which sockjet's send() does not take: text or binary follows the data. */
const SEND: Record<string, string> = {
  binary: "a string goes as text, bytes (Buffer, ArrayBuffer, views, Blob) as binary",
  fin: "sockjet sends whole messages only",
  mask: "a client masks every frame, a server none (RFC 6455 §5.1)",
};

/**
 * The Node-only second argument of send(): a dictionary ({ compress }) as WebIDL converts one (undefined and
 * null are empty, other non-objects a TypeError), refusing ws's callback and ws's members, which would
 * otherwise be ignored without a word (`send(data, callback)` never calling back).
 */
export function checkSendOptions(options: unknown): void {
  if (options == null) return;
  if (typeof options === "function") {
    throw new TypeError(
      "Failed to execute 'send' on 'WebSocket': send() takes no callback (ws's send(data, callback)): errors come as error and close events; to know the bytes left, watch bufferedAmount fall",
    );
  }
  if (typeof options !== "object") {
    throw new TypeError(
      "Failed to execute 'send' on 'WebSocket': the options are not an object ({ compress }).",
    );
  }
  rejectWsNames(options, SEND, "send() options");
}
