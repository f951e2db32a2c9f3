import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ErrorEvent, HandshakeError, type WebSocketOptions } from "../../src/index.js";
import {
  acceptFor,
  connect,
  rawServer,
  record,
  type SocketReader,
  switchingProtocols,
  within,
} from "./helpers.js";

// What the client says of an answer it cannot use: a 101 that breaks RFC 6455 §4.1, or an answer in another
// protocol than the one asked in (not HTTP/1.1 at all, HTTP/2 to an HTTP/1.1 request and the reverse). Each is
// SJ_ERR_INVALID_HANDSHAKE with a message that says what was wrong; before the fixes a 101 without Upgrade was
// "SJ_ERR_HANDSHAKE_REFUSED the server answered HTTP 101 Switching Protocols", a non-HTTP answer Node's
// "SJ_ERR_NETWORK Parse Error: Expected HTTP/, RTSP/ or ICE/", and http2 "always" to an HTTP/1.1 server
// "SJ_ERR_NETWORK Protocol error".

/** The error of a socket that must fail: error then close 1006, never open. */
async function failure(
  t: Parameters<typeof connect>[0],
  url: string,
  options?: WebSocketOptions,
  protocols?: string | string[],
): Promise<HandshakeError> {
  const ws = connect(t, url, protocols, { handshakeTimeoutMs: 5000, ...options });
  const { log, types, closed } = record(ws);
  const event = await within(closed, 6000, "the close");
  assert.deepEqual(types(), ["error", "close"]);
  assert.deepEqual([event.code, event.wasClean], [1006, false]);
  const error = (log[0].event as ErrorEvent).error;
  assert.ok(error instanceof HandshakeError, `a HandshakeError, got ${String(error)}`);
  return error;
}

/** A raw server that answers the client's request with `answer(request key)`. */
async function answering(t: Parameters<typeof connect>[0], answer: (key: string) => string | Buffer) {
  const raw = await rawServer(t, async (reader: SocketReader) => {
    const request = await reader.readRequest();
    reader.socket.write(answer(request.headers["sec-websocket-key"]));
  });
  return raw.url;
}

const head = (lines: string[]) => [...lines, "", ""].join("\r\n");

describe("RFC 6455 §4.1: every check of the 101 fails it as SJ_ERR_INVALID_HANDSHAKE, saying which", () => {
  const cases: Array<[string, (key: string) => string, RegExp, string[]?]> = [
    [
      "regression: a 101 without Upgrade (check 2): Chromium's \"'Upgrade' header is missing\"",
      () => head(["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade"]),
      /^the 101 response is missing "Upgrade: websocket" \(no Upgrade header; RFC 6455 §4\.1\)$/,
    ],
    [
      "regression: a 101 with neither Upgrade nor Connection",
      (key) => head(["HTTP/1.1 101 Switching Protocols", `Sec-WebSocket-Accept: ${acceptFor(key)}`]),
      /^the 101 response is missing "Upgrade: websocket"/,
    ],
    [
      "regression: a 101 without Connection (check 3)",
      (key) =>
        head([
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: websocket",
          `Sec-WebSocket-Accept: ${acceptFor(key)}`,
        ]),
      /^the 101 response is missing "Connection: Upgrade" \(no Connection header; RFC 6455 §4\.1\)$/,
    ],
    [
      "regression: a 101 whose Connection lacks Upgrade (check 3)",
      (key) =>
        head([
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: websocket",
          "Connection: keep-alive",
          `Sec-WebSocket-Accept: ${acceptFor(key)}`,
        ]),
      /^the 101 response's Connection is "keep-alive", without Upgrade \(RFC 6455 §4\.1\)$/,
    ],
    [
      "a 101 with Upgrade: h2c (check 2)",
      (key) =>
        head([
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: h2c",
          "Connection: Upgrade",
          `Sec-WebSocket-Accept: ${acceptFor(key)}`,
        ]),
      /^the 101 response's Upgrade is "h2c", not "websocket" \(RFC 6455 §4\.1\)$/,
    ],
    [
      "a 101 without Sec-WebSocket-Accept (check 4)",
      () => head(["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]),
      /^Missing Sec-WebSocket-Accept header$/,
    ],
    [
      "a 101 with a wrong Sec-WebSocket-Accept (check 4)",
      () => switchingProtocols("dGhlIHNhbXBsZSBub25jZQ=="),
      /^Sec-WebSocket-Accept does not match the key$/,
    ],
    [
      "a 101 with an extension not offered (check 5)",
      (key) => switchingProtocols(key, ["Sec-WebSocket-Extensions: x-unoffered"]),
      /extension x-unoffered that the client did not offer/,
    ],
    [
      "a 101 with a subprotocol not offered (check 6)",
      (key) => switchingProtocols(key, ["Sec-WebSocket-Protocol: c"]),
      /subprotocol "c" that was not offered/,
      ["a", "b"],
    ],
    [
      "a 101 with no subprotocol when some were offered (WHATWG)",
      (key) => switchingProtocols(key),
      /did not select any of the offered subprotocols/,
      ["a"],
    ],
  ];
  for (const [name, answer, message, protocols] of cases) {
    test(name, async (t) => {
      const error = await failure(t, await answering(t, answer), undefined, protocols);
      assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE", error.message);
      assert.match(error.message, message);
      assert.equal(error.status, null);
    });
  }
});
