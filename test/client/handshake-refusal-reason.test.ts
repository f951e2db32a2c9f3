import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import tls from "node:tls";
import { HandshakeError } from "../../src/index.js";
import type { ErrorEvent } from "../../src/web/events.js";
import { connect, next, rawServer, selfSignedCertificate } from "./helpers.js";

// A refused handshake says why when the server does: the first line of a short text/plain body joins the
// HandshakeError's message ("the server answered HTTP 403 Forbidden: Origin not allowed"), read with a bound
// and a timeout, controls escaped. And a plain ws:// to a TLS server says so instead of "socket hang up".

/** A raw server answering every request with `response` (then leaving the socket as `end` says). */
async function answering(t: Parameters<typeof rawServer>[0], response: string, end = true) {
  return rawServer(t, async (reader) => {
    await reader.readRequest();
    if (end) reader.socket.end(response);
    else reader.socket.write(response);
  });
}

async function refusal(t: Parameters<typeof rawServer>[0], url: string): Promise<HandshakeError> {
  const ws = connect(t, url);
  const event = await next<ErrorEvent>(ws, "error", 3000);
  assert.ok(event.error instanceof HandshakeError, `expected a HandshakeError, got ${String(event.error)}`);
  return event.error;
}

describe("HandshakeError of a refused handshake carries the server's reason", () => {
  test("403 with text/plain 'Origin not allowed\\n…': 'the server answered HTTP 403 Forbidden: Origin not allowed'", async (t) => {
    const body = "Origin not allowed\r\nsecond line\r\n";
    const server = await answering(
      t,
      `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const error = await refusal(t, server.url);
    assert.equal(error.code, "SJ_ERR_HANDSHAKE_REFUSED");
    assert.equal(error.status, 403);
    assert.equal(error.message, "the server answered HTTP 403 Forbidden: Origin not allowed");
  });

  test("a reason with ESC and U+202E is escaped; a 1 MB body is cut to 200 characters", async (t) => {
    const body = `\x1b[31mno\u202e ${"x".repeat(1_000_000)}`;
    const server = await answering(
      t,
      `HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const error = await refusal(t, server.url);
    assert.equal(error.status, 429);
    assert.ok(
      error.message.startsWith("the server answered HTTP 429 Too Many Requests: \\x1b[31mno\\u202e xxx"),
    );
    assert.ok(error.message.endsWith("x…"), error.message.slice(-20));
    assert.equal(error.message.length, "the server answered HTTP 429 Too Many Requests: ".length + 201);
  });

  test("a body that never ends still fails the handshake within the handshake timeout, with what came", async (t) => {
    const server = await answering(
      t,
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nbusy\n",
      false,
    );
    const started = Date.now();
    const error = await refusal(t, server.url);
    assert.equal(error.message, "the server answered HTTP 503 Service Unavailable: busy");
    assert.ok(Date.now() - started < 2500);
  });

  test("an HTML body is not a reason: the status line only", async (t) => {
    const body = "<h1>Forbidden</h1>";
    const server = await answering(
      t,
      `HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.equal((await refusal(t, server.url)).message, "the server answered HTTP 403 Forbidden");
  });
});

describe("ws:// to a TLS server", () => {
  test("HandshakeError says the server closed without answering the handshake and suggests wss://", async (t) => {
    const certificate = selfSignedCertificate();
    if (certificate === null) return t.skip("openssl not available");
    const server = tls.createServer(certificate, (socket) => socket.on("error", () => {}));
    server.on("tlsClientError", () => {});
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const error = await refusal(t, `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    assert.equal(error.code, "SJ_ERR_NETWORK");
    assert.equal(
      error.message,
      "the server closed the connection without answering the handshake (no WebSocket endpoint at this path, or a TLS server: then use wss://)",
    );
  });
});
