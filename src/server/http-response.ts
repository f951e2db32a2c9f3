import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { isValidHeaderName, isValidHeaderValue } from "../protocol/header-grammar.js";

// Raw HTTP/1.1 responses written on the upgrade socket: the 101 that switches protocols (RFC 6455 §4.2.2)
// and the error answers that end a refused handshake.

function headerLines(headers: Record<string, string> | undefined): string {
  if (headers === undefined) return "";
  let out = "";
  for (const [name, value] of Object.entries(headers)) {
    // Never let a header value inject a line (response splitting).
    if (!isValidHeaderName(name) || (value !== "" && !isValidHeaderValue(String(value)))) {
      throw new TypeError(`Invalid response header ${JSON.stringify(name)}`);
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/**
 * Header fields that frame the message or manage the connection: the server writes them itself. A second
 * Content-Length or a Transfer-Encoding would make the body's length ambiguous (RFC 9112 §6.3: request
 * smuggling through a proxy), a "keep-alive" would contradict the close that follows. Upgrade belongs to a
 * 426 only (RFC 9110 §15.5.22); on any other refusal the connection closes, so there is nothing to switch.
 */
const FRAMING_HEADERS = new Set(["content-length", "transfer-encoding", "connection"]);

/** The caller's extra headers without those the server frames the answer with (dropped, as documented). */
function extraRejectionHeaders(
  status: number,
  headers: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (FRAMING_HEADERS.has(lower) || (lower === "upgrade" && status !== 426)) continue;
    kept[name] = value;
  }
  return kept;
}

/**
 * Answers a refused handshake and closes the socket once the answer is written. `headers` may add fields
 * (WWW-Authenticate, Retry-After…) and replace Content-Type; Content-Length, Transfer-Encoding, Connection
 * and (but on a 426) Upgrade are the server's and are dropped.
 */
export function writeRejection(
  socket: Duplex,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  if (socket.destroyed) return;
  const kept = extraRejectionHeaders(status, headers);
  let extra: string;
  try {
    extra = headerLines(kept);
  } catch {
    extra = "";
  }
  const body = Buffer.from(message, "utf8");
  const names = extra === "" ? [] : Object.keys(kept ?? {}).map((name) => name.toLowerCase());
  // RFC 9110 §7.8: whoever sends Upgrade (a 426 must, §15.5.22) also sends the "upgrade" connection option.
  const upgrade = names.includes("upgrade");
  const contentType = names.includes("content-type") ? "" : "Content-Type: text/plain; charset=utf-8\r\n";
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    `Connection: ${upgrade ? "Upgrade, close" : "close"}\r\n` +
    contentType +
    `Content-Length: ${body.length}\r\n${extra}\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), body]));
  // A peer that never reads must not keep the socket: destroy once it is flushed or soon after.
  const timer = setTimeout(() => socket.destroy(), 1000);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

/**
 * Fields of the 101 that the server writes itself (RFC 6455 §4.2.2 item 5), and those a 1xx must not carry
 * (RFC 9110 §8.6, §15.2: no content): a hook's second copy would contradict them. Dropped, as on HTTP/2.
 */
const ACCEPT_OWN_HEADERS = new Set([
  "upgrade",
  "connection",
  "keep-alive",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

function extraAcceptHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!ACCEPT_OWN_HEADERS.has(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}

/** The 101 Switching Protocols response (RFC 6455 §4.2.2 item 5). */
export function acceptResponse(
  accept: string,
  protocol: string,
  extensions: string,
  headers: Record<string, string> | undefined,
): Buffer {
  let head =
    "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\n`;
  if (protocol !== "") head += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions !== "") head += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  head += `${headerLines(extraAcceptHeaders(headers))}\r\n`;
  return Buffer.from(head, "latin1");
}

/** The URL of an upgrade request as the server sees it, e.g. ws://example.com:8080/chat?room=1. */
export function requestUrl(request: IncomingMessage, secure: boolean): URL {
  const scheme = secure ? "wss" : "ws";
  const host = request.headers.host;
  try {
    if (host !== undefined && host !== "") return new URL(`${scheme}://${host}${request.url ?? "/"}`);
  } catch {
    // An unparseable Host falls through to localhost; the path is kept.
  }
  try {
    return new URL(request.url ?? "/", `${scheme}://localhost`);
  } catch {
    return new URL(`${scheme}://localhost/`);
  }
}
