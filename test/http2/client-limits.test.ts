import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { describe, test } from "node:test";
import { openSessionCount } from "../../src/client/http2-session-pool.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket } from "../../src/web/websocket.js";
import { defer, HOST, openClient, portOf, shutDown, within } from "../server/helpers.js";
import { outcomeOf } from "./client-peers.js";
import { FRAME, RawH2Peer } from "./raw-frames.js";

// Our client over HTTP/2 against what a server allows and says: its SETTINGS_MAX_CONCURRENT_STREAMS, the
// headers HTTP/2 forbids, the RST_STREAM code of an abrupt close, and the text of a refusal. Cleartext h2c by
// prior knowledge (http2 "always"), so that no certificate is needed.

/** A node:http2 h2c server on 127.0.0.1, port 0, closed (its sessions destroyed) after the test. */
async function h2cServer(
  t: Parameters<typeof defer>[0],
  options: http2.ServerOptions = {},
): Promise<{ server: http2.Http2Server; base: string; sessions: Set<http2.ServerHttp2Session> }> {
  const server = http2.createServer(options);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  server.on("sessionError", () => {});
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  defer(t, () => new Promise((resolve) => server.close(resolve)));
  defer(t, () => {
    for (const session of sessions) session.destroy();
  });
  return { server, base: `ws://${HOST}:${portOf(server.address())}`, sessions };
}

describe("WebSocket client over HTTP/2: the server's limits and answers", () => {
  test("SETTINGS_MAX_CONCURRENT_STREAMS: a full session takes no new socket, the origin gets another session", async (t) => {
    const { server, base, sessions } = await h2cServer(t, { settings: { maxConcurrentStreams: 3 } });
    const wss = new WebSocketServer({ server });
    defer(t, () => shutDown(wss));
    const carried = new Map<unknown, number>();
    wss.on("connection", (ws, request) => {
      const session = (request as unknown as { stream: http2.ServerHttp2Stream }).stream.session;
      carried.set(session, (carried.get(session) ?? 0) + 1);
      ws.onmessage = (event) => ws.send(`echo:${event.data}`);
    });
    // Before the fix the sockets past the third waited in Node for a stream slot and failed at the
    // handshake timeout ("no answer to the opening handshake").
    const clients = await within(
      Promise.all(
        Array.from({ length: 7 }, (_, i) =>
          openClient(t, `${base}/s${i}`, undefined, { http2: "always", handshakeTimeoutMs: 3000 }),
        ),
      ),
      4000,
      "7 sockets open",
    );
    assert.equal(wss.clients.size, 7);
    assert.equal(sessions.size, 3, "7 sockets at 3 a session: 3 sessions");
    assert.deepEqual([...carried.values()].sort(), [1, 3, 3]);
    assert.equal(openSessionCount(), 3);
    for (const [i, client] of clients.entries()) {
      const reply = new Promise<MessageEvent>((resolve) => client.addEventListener("message", resolve));
      client.send(`m${i}`);
      assert.equal((await within(reply, 5000, "echo")).data, `echo:m${i}`);
    }
    // A socket that closes frees its stream: the next one goes on that session, not on a fourth.
    const closed = new Promise((resolve) => clients[0].addEventListener("close", resolve));
    clients[0].close();
    await within(closed, 5000, "close");
    await openClient(t, `${base}/again`, undefined, { http2: "always", handshakeTimeoutMs: 3000 });
    await openClient(t, `${base}/again`, undefined, { http2: "always", handshakeTimeoutMs: 3000 });
    assert.equal(sessions.size, 3, "the freed stream and the third session's room are used");
  });

  test("regression: the headers option's connection-specific fields are left out of the extended CONNECT (RFC 9113 §8.2.2)", async (t) => {
    const raw = await h2cServer(t, { settings: { enableConnectProtocol: true } });
    const seen: http2.IncomingHttpHeaders[] = [];
    raw.server.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.on("error", () => {});
      stream.respond({ ":status": 200 });
    });
    // Before the fix Node refused to send them: an SJ_ERR_NETWORK error, "HTTP/1 Connection specific
    // headers are forbidden".
    await openClient(t, `${raw.base}/a`, undefined, {
      http2: "always",
      headers: {
        "Keep-Alive": "timeout=5",
        "Proxy-Connection": "keep-alive",
        TE: "gzip",
        "HTTP2-Settings": "AAMAAABkAAQAAP__",
        "X-Kept": "1",
      },
    });
    await openClient(t, `${raw.base}/b`, undefined, { http2: "always", headers: { TE: "Trailers" } });
    assert.equal(seen.length, 2);
    for (const name of ["keep-alive", "proxy-connection", "te", "http2-settings"])
      assert.equal(seen[0][name], undefined, name);
    assert.equal(seen[0]["x-kept"], "1");
    assert.equal(seen[1].te, "trailers", "TE: trailers is the one TE HTTP/2 allows");
  });

  test("regression: a refusal over h2 carries the first line of its text/plain body, as over HTTP/1.1", async (t) => {
    const { server, base } = await h2cServer(t);
    const wss = new WebSocketServer({ server, origins: ["http://ok.example"] });
    defer(t, () => shutDown(wss));
    const refusal = async (options: ConstructorParameters<typeof WebSocket>[2], url = `${base}/`) => {
      const socket = new WebSocket(url, [], options);
      defer(t, () => socket.terminate());
      const event = await within(
        new Promise<Event & { error?: Error & { code?: string; status?: number } }>((resolve) => {
          socket.onerror = resolve;
        }),
        5000,
        "the refusal",
      );
      return event.error;
    };
    const error = await refusal({ http2: "always", origin: "http://evil.example" });
    assert.equal(error?.code, "SJ_ERR_HANDSHAKE_REFUSED");
    assert.equal(error?.status, 403);
    assert.equal(error?.message, "the server answered HTTP 403: Origin not allowed");

    // The same bounds as over HTTP/1.1: a long line is cut, a body that never ends does not hold the error,
    // and only text/plain is read.
    const raw = await h2cServer(t, { settings: { enableConnectProtocol: true } });
    raw.server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      const type = headers[":path"] === "/html" ? "text/html" : "text/plain; charset=utf-8";
      stream.respond({ ":status": 503, "content-type": type });
      stream.write(`${"x".repeat(300)}\nsecond line\n`);
      if (headers[":path"] === "/html") stream.end();
      // else: the stream stays open, its body unfinished.
    });
    const started = Date.now();
    const endless = await refusal({ http2: "always", handshakeTimeoutMs: 4000 }, `${raw.base}/endless`);
    assert.equal(endless?.message, `the server answered HTTP 503: ${"x".repeat(200)}…`);
    assert.ok(Date.now() - started < 2000, "the reason is not waited for past its bound");
    const html = await refusal({ http2: "always" }, `${raw.base}/html`);
    assert.equal(html?.message, "the server answered HTTP 503");
  });
});

/** The error of a socket whose request's header block is over the client's own nghttp2 limit. */
const OVER_SEND_LIMIT =
  'the client\'s node:http2 refused to send the request: its header block is over the limit node:http2 sets on one it sends (maxSendHeaderBlockLength, 64 KiB), and nothing was sent. Send fewer or smaller headers (the headers option: big cookies), or use HTTP/1.1 (the http2 option "never") if the server takes headers that large';

describe("WebSocket client over HTTP/2: the client's own limits", () => {
  test("regression: a header block over node:http2's send limit (a 70 kB cookie) is not retried, and the error says the limit is ours", async (t) => {
    // A raw h2c server (raw-frames.ts) that sees every frame the client sends on each connection.
    const peers: RawH2Peer[] = [];
    const server = net.createServer((socket) => peers.push(RawH2Peer.serve(socket)));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => server.close(resolve)));
    defer(t, () => {
      for (const peer of peers) peer.close();
    });
    const started = Date.now();
    const socket = new WebSocket(`ws://${HOST}:${portOf(server.address())}/`, [], {
      http2: "always",
      handshakeTimeoutMs: 4000,
      headers: { cookie: `a=${"b".repeat(70_000)}` },
    });
    defer(t, () => socket.terminate());
    const { events } = await within(outcomeOf(socket, started), 5000, "the socket's outcome");
    // Before the fix: the stream, closed by the client's own nghttp2 with REFUSED_STREAM, was retried on a
    // second session and reported as the server's refusal ("the server refused the HTTP/2 stream twice").
    assert.deepEqual(events, [`error SJ_ERR_NETWORK: ${OVER_SEND_LIMIT}`, "close"]);
    assert.equal(peers.length, 1, "no retry: no second session");
    const sent = peers[0].frames.filter((f) => f.type === FRAME.headers || f.type === 9 /* CONTINUATION */);
    assert.deepEqual(sent, [], "nothing of the request reached the server");
    assert.ok(Date.now() - started < 3000, "no waiting for a timeout");
  });
});
