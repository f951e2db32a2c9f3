import { rejectWsNames } from "../protocol/renamed-options.js";

// The client's and the server's options named as in `ws` (see src/protocol/renamed-options.ts): e.g.
// `maxPayload: 100 * 1024 * 1024` would silently leave the default limit in place.

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
};

/** Throws a TypeError naming the sockjet option to use when `options` has one of ws's option names. */
export function rejectWsOptionNames(options: object, side: "client" | "server"): void {
  rejectWsNames(options, side === "client" ? CLIENT : SERVER, "options");
}
