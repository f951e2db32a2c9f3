import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { type ErrorEvent, HandshakeError, type WebSocketOptions, WebSocketServer } from "../../src/index.js";
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
  const cases: Array<[string, (key: string) => string | Buffer, RegExp, string[]?]> = [
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
      /^the 101 response is missing "Connection: Upgrade" \(Connection: "keep-alive"; RFC 6455 §4\.1\)$/,
    ],
    [
      "a 101 whose Connection holds C1 controls (CSI, OSC): escaped in the message, as C0 ones are (review 152)",
      (key) =>
        Buffer.concat([
          Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "),
          Buffer.from([0x9b, 0x32, 0x4a, 0x9d, 0x58]),
          Buffer.from(`\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`),
        ]),
      /^the 101 response is missing "Connection: Upgrade" \(Connection: "\\u009b2J\\u009dX"; RFC 6455 §4\.1\)$/,
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
      /^the 101 response is missing "Upgrade: websocket" \(Upgrade: "h2c"; RFC 6455 §4\.1\)$/,
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

describe("an answer that is not HTTP/1.1: SJ_ERR_INVALID_HANDSHAKE that says so", () => {
  test("regression: sockjet's h2c-only server (http2: true, no tls) answers HTTP/2: the message names the http2 option", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", http2: true });
    t.after(() => server.close());
    await within(new Promise((resolve) => server.once("listening", resolve)), 3000, "listening");
    const { port } = server.address() as AddressInfo;
    const error = await failure(t, `ws://127.0.0.1:${port}/`);
    assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.equal(
      error.message,
      'the server did not answer in HTTP/1.1: its answer is an HTTP/2 SETTINGS frame, so it speaks only HTTP/2 on this port; use the http2 option "always" (HTTP/2 by prior knowledge, h2c)',
    );
    assert.equal((error.cause as NodeJS.ErrnoException).code, "HPE_INVALID_CONSTANT");
    // The advice works: the same server over h2c by prior knowledge.
    const ws = connect(t, `ws://127.0.0.1:${port}/`, undefined, { http2: "always" });
    await within(new Promise((resolve) => ws.addEventListener("open", resolve)), 3000, "open over h2c");
    ws.close();
  });

  test("a GOAWAY frame alone (RFC 9113 §6.8) is named as one", async (t) => {
    // Length 8, type 7, flags 0, stream 0; last-stream-id 0, PROTOCOL_ERROR.
    const goaway = Buffer.from("000008070000000000000000000000000001", "hex");
    const error = await failure(t, await answering(t, () => goaway));
    assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.match(error.message, /its answer is an HTTP\/2 GOAWAY frame, .*use the http2 option "always"/);
  });

  test('regression: an SSH banner: "not an HTTP server on this port?", its first bytes escaped', async (t) => {
    const error = await failure(t, await answering(t, () => "SSH-2.0-x\r\n"));
    assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.equal(
      error.message,
      'the server did not answer in HTTP/1.1 (its answer begins "SSH-2.0-x\\x0d\\x0a"): not an HTTP server on this port?',
    );
  });

  test("an answer's first bytes are cut before an escape that would not fit, never inside one", async (t) => {
    const error = await failure(t, await answering(t, () => `SSH-2.0-x${"\x01".repeat(40)}`));
    assert.match(error.message, /\(its answer begins "SSH-2\.0-x(\\x01){5}…"\)/);
  });

  test("a malformed HTTP/1.1 head (a header line without a colon): not valid HTTP/1.1, Node's parser's reason", async (t) => {
    const error = await failure(
      t,
      await answering(t, () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade\r\n\r\n"),
    );
    assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.match(error.message, /^the server's answer is not valid HTTP\/1\.1 \(Node's parser: .+\)$/);
  });
});

describe('http2 "always" on ws: to a server that does not speak h2c', () => {
  test("regression: an HTTP/1.1 server (sockjet's): SJ_ERR_INVALID_HANDSHAKE saying so and what to use", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    t.after(() => server.close());
    await within(new Promise((resolve) => server.once("listening", resolve)), 3000, "listening");
    const { port } = server.address() as AddressInfo;
    const error = await failure(t, `ws://127.0.0.1:${port}/`, { http2: "always" });
    assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.equal(
      error.message,
      'the server does not speak HTTP/2 cleartext on this port (h2c, by prior knowledge: the http2 option "always" on ws:): its answer is not HTTP/2 (nghttp2: Protocol error); for an HTTP/1.1 server use the http2 option "auto" or "never"',
    );
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ERR_HTTP2_ERROR");
  });

  test("a plain node:http server: the same", async (t) => {
    const server = http.createServer((_request, response) => response.end("hi"));
    t.after(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const error = await failure(t, `ws://127.0.0.1:${port}/`, { http2: "always" });
    assert.equal(error.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.match(error.message, /does not speak HTTP\/2 cleartext on this port/);
  });

  test("a server that closes at the preface: still a network error, with the same hint", async (t) => {
    const raw = await rawServer(t, (reader) => {
      reader.socket.once("data", () => reader.socket.end());
    });
    const error = await failure(t, raw.url, { http2: "always" });
    assert.equal(error.code, "SJ_ERR_NETWORK");
    assert.match(
      error.message,
      /^the HTTP\/2 session closed before its SETTINGS \(not an HTTP\/2 cleartext server on this port\? for an HTTP\/1\.1 server use the http2 option "auto" or "never"\)$/,
    );
  });
});
