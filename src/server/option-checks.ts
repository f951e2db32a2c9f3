import { isToken, isValidHeaderName, isValidHeaderValue } from "../protocol/header-grammar.js";
import type { WebSocketServerOptions } from "./options.js";

// The server's mode and hook options, checked when the server is made: a wrong one would otherwise fail
// every handshake later with a 500 and an internal message (a newcomer's review). The numeric settings are
// checked by resolveSettings (server-settings.ts), the origins by compileOrigins (origin-policy.ts).

const MAX_PORT = 65535;

/** A TypeError naming the option, as for the other options. */
function wrong(option: string, expected: string, value: unknown): TypeError {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return new TypeError(`options.${option} must be ${expected} (got ${shown})`);
}

/**
 * The port to listen on: a whole number from 0 to 65535, or such a number in decimal digits
 * (`process.env.PORT`, as Node's listen() takes it). Any other string would be taken by listen() as the
 * path of a Unix socket, silently.
 */
export function checkPort(value: unknown): number {
  const port = typeof value === "string" && /^[0-9]{1,5}$/.test(value) ? Number(value) : value;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > MAX_PORT)
    throw wrong("port", `a whole number from 0 to ${MAX_PORT}`, value);
  return port;
}

function checkFunction(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") throw wrong(option, "a function", value);
}

/** Subprotocols: RFC 6455 §4.1 (Sec-WebSocket-Protocol values are tokens, RFC 7230 §3.2.6). */
function checkProtocols(value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw wrong("protocols", "an array of subprotocol names", value);
  for (const name of value) {
    if (typeof name !== "string" || !isToken(name))
      throw wrong("protocols", "an array of subprotocol names (RFC 6455 §4.1: HTTP tokens)", name);
  }
}

/** Extra headers of the 101: RFC 9110 §5.1 names (tokens) and §5.5 values, as the writer checks them. */
function checkHeaders(value: unknown): void {
  if (value === undefined || typeof value === "function") return;
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Map)
    throw wrong("headers", "an object of header names to values, or a function returning one", value);
  for (const [name, headerValue] of Object.entries(value)) {
    if (!isValidHeaderName(name)) throw wrong("headers", "an object whose keys are header names", name);
    if (typeof headerValue !== "string" || !isValidHeaderValue(headerValue))
      throw wrong(
        `headers["${name}"]`,
        "a header value (RFC 9110 §5.5: no control characters but tab, nothing above U+00FF, no space at either end)",
        headerValue,
      );
  }
}

/** An http, https or http2 server to attach to: what attach() uses of one. */
function checkServer(value: unknown): void {
  if (value === undefined) return;
  const server = value as { on?: unknown; removeListener?: unknown; listeners?: unknown } | null;
  if (
    server === null ||
    typeof server !== "object" ||
    typeof server.on !== "function" ||
    typeof server.removeListener !== "function" ||
    typeof server.listeners !== "function"
  )
    throw wrong("server", "an http, https or http2 server", value);
}

/**
 * A TLS server without a certificate accepts connections and fails every handshake ("no shared cipher"), and
 * its ws:// clients are told to try wss://: refused where the mistake is (review 132). An SNICallback may
 * supply the certificates itself.
 */
function checkTls(value: unknown): void {
  if (value === undefined) return;
  const tls = value as Record<string, unknown> | null;
  const given = (field: unknown) =>
    field !== undefined &&
    field !== null &&
    field !== "" &&
    !((Array.isArray(field) || ArrayBuffer.isView(field)) && (field as { length: number }).length === 0);
  if (
    tls === null ||
    typeof tls !== "object" ||
    !((given(tls.cert) && given(tls.key)) || given(tls.pfx) || typeof tls.SNICallback === "function")
  )
    throw wrong("tls", "TLS options with a certificate: { cert, key } (PEM), pfx, or an SNICallback", value);
}

/** Throws a TypeError naming the first wrong mode or hook option of `options`. */
export function checkServerOptions(options: WebSocketServerOptions): void {
  if (options.port !== undefined) checkPort(options.port);
  if (options.host !== undefined && typeof options.host !== "string")
    throw wrong("host", "a string", options.host);
  // The length of the kernel's queue of connections not yet accepted (listen(2)): a string or 1.5 reached
  // Node's listen() as it was.
  if (options.backlog !== undefined && (!Number.isInteger(options.backlog) || options.backlog < 0))
    throw wrong("backlog", "a whole number ≥ 0", options.backlog);
  // A standalone server's kind: anything but true or false ("yes", 1, the client's "auto") was read as
  // false, an HTTP/1.1-only server without a word (a newcomer's review).
  if (options.http2 !== undefined && typeof options.http2 !== "boolean")
    throw wrong("http2", "true or false", options.http2);
  if (options.path !== undefined && (typeof options.path !== "string" || !options.path.startsWith("/")))
    throw wrong("path", 'a path starting with "/"', options.path);
  checkServer(options.server);
  checkTls(options.tls);
  checkFunction("verify", options.verify);
  checkFunction("selectProtocol", options.selectProtocol);
  checkProtocols(options.protocols);
  checkHeaders(options.headers);
}

/** handleUpgrade's arguments: those of node:http's 'upgrade' event, passed on; anything else is a TypeError. */
export function checkUpgradeArguments(
  request: unknown,
  socket: unknown,
  head: unknown,
  callback: unknown,
): void {
  // The arguments of node:http's 'upgrade' event, passed on: anything else is the caller's bug, said as such
  // (it was "socket.on is not a function" from deep inside; review 132).
  const stream = socket as { on?: unknown; write?: unknown; destroy?: unknown } | null;
  if (typeof request !== "object" || request === null)
    throw new TypeError(
      "handleUpgrade(request, socket, head, callback): request must be the upgrade's request",
    );
  if (
    typeof stream !== "object" ||
    stream === null ||
    typeof stream.on !== "function" ||
    typeof stream.write !== "function" ||
    typeof stream.destroy !== "function"
  )
    throw new TypeError(
      "handleUpgrade(request, socket, head, callback): socket must be the upgrade's socket (a net.Socket or another Duplex)",
    );
  if (head !== undefined && !Buffer.isBuffer(head))
    throw new TypeError("handleUpgrade(request, socket, head, callback): head must be the upgrade's Buffer");
  if (typeof callback !== "function")
    throw new TypeError("handleUpgrade(request, socket, head, callback): callback must be a function");
}
