import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { LARGE_READ_SIZE } from "../../src/connection/large-reads.js";
import type { CloseEvent } from "../../src/web/events.js";
import { connectionOf, WebSocket } from "../../src/web/websocket.js";
import {
  clientFrame,
  nextConnection,
  nextEvent,
  OP,
  onMessage,
  openClient,
  RawClient,
  selfSignedCert,
  sleep,
  startServer,
  upgradeRequest,
  waitFor,
} from "./helpers.js";

// The limits that keep one peer from taking the server down: the handshake timeout (slowloris), the
// connection cap, and the cap on bytes buffered for a peer that does not read (slow consumer).

describe("handshakeTimeoutMs (slowloris)", () => {
  test("regression: half a request head is cut within the timeout (Node checked headersTimeout only every 30 s)", async (t) => {
    const { port } = await startServer(t, { handshakeTimeoutMs: 300 });
    const raw = await RawClient.connect(t, port);
    const started = Date.now();
    raw.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
    await raw.expectEof(3000);
    const elapsed = Date.now() - started;
    assert.equal(raw.text(), "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    assert.ok(elapsed >= 250, `closed too early, after ${elapsed} ms`);
    assert.ok(elapsed <= 1300, `closed after ${elapsed} ms; the timeout is 300 ms`);
  });

  test("a client that connects and sends nothing is disconnected within the timeout", async (t) => {
    const { port } = await startServer(t, { handshakeTimeoutMs: 300 });
    const raw = await RawClient.connect(t, port);
    const started = Date.now();
    await raw.expectEof(3000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed <= 1300, `closed after ${elapsed} ms; the timeout is 300 ms`);
  });

  test("regression: a verify hook that never settles → 503 with Retry-After after handshakeTimeoutMs (the server was slow, not the client: no 408), then EOF", async (t) => {
    const { port } = await startServer(t, {
      handshakeTimeoutMs: 200,
      verify: () => new Promise(() => {}),
    });
    const raw = await RawClient.connect(t, port);
    const started = Date.now();
    raw.write(upgradeRequest());
    const head = await raw.readHead(2000);
    assert.equal(head.statusLine, "HTTP/1.1 503 Service Unavailable");
    assert.equal(head.header("retry-after"), "5");
    assert.ok(Date.now() - started >= 180);
    await raw.expectEof();
  });

  test("regression: with tls (HTTP/1.1), a TLS handshake that stalls is cut within the timeout (it was kept 120 s)", async (t) => {
    const cert = await selfSignedCert();
    if (cert === null) return t.skip("openssl is not installed");
    const { port } = await startServer(t, { tls: cert, handshakeTimeoutMs: 300 });
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.resume();
    t.after(() => socket.destroy());
    const started = Date.now();
    // A TLS record header announcing a 512-byte ClientHello, one byte of it, then silence.
    socket.on("connect", () => socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
    const closed = await Promise.race([
      new Promise((resolve) => socket.once("close", () => resolve(true))),
      sleep(3000).then(() => false),
    ]);
    assert.ok(closed, "the stalled TLS handshake is still open after 3 s");
    assert.ok(Date.now() - started >= 250, "not cut before the timeout");
  });

  test("an open connection outlives handshakeTimeoutMs: the timeout only covers the handshake", async (t) => {
    const { url } = await startServer(t, { handshakeTimeoutMs: 150 });
    const client = await openClient(t, url);
    await sleep(400);
    assert.equal(client.readyState, WebSocket.OPEN);
    const echo = nextEvent(client, "close", 200).catch(() => "still open");
    assert.equal(await echo, "still open");
  });
});

describe("maxConnections", () => {
  test("the connection past maxConnections gets 503 with Retry-After; after one leaves, a new one is accepted", async (t) => {
    const { server, url, port } = await startServer(t, { maxConnections: 2 });
    const a = await openClient(t, url);
    await openClient(t, url);
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest());
    const head = await raw.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 503 Service Unavailable");
    assert.equal(head.header("retry-after"), "5");
    await raw.expectEof();
    a.close();
    await nextEvent(a, "close");
    await waitFor(() => server.clients.size === 1, 2000, "the server to forget the closed connection");
    await openClient(t, url);
  });

  test("handshakes still waiting on verify count against maxConnections", async (t) => {
    let release: () => void = () => {};
    const gate = new Promise<boolean>((resolve) => (release = () => resolve(true)));
    const { port } = await startServer(t, { maxConnections: 1, verify: () => gate });
    const first = await RawClient.connect(t, port);
    first.write(upgradeRequest());
    await sleep(30);
    const second = await RawClient.connect(t, port);
    second.write(upgradeRequest());
    assert.equal((await second.readHead()).status, 503);
    release();
    assert.equal((await first.readHead()).status, 101);
  });
});

describe("maxBufferedBytes: a peer that does not read", () => {
  test('slowConsumer "close": the connection is dropped once more than maxBufferedBytes wait, memory stays bounded', async (t) => {
    const LIMIT = 256 * 1024;
    const CHUNK = 64 * 1024;
    const { server, port } = await startServer(t, { maxBufferedBytes: LIMIT, slowConsumer: "close" });
    const connection = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    raw.socket.pause(); // never reads again
    const [ws] = await connection;
    const closed = nextEvent<CloseEvent>(ws, "close", 10_000);
    let closedYet = false;
    void closed.then(() => (closedYet = true));
    // What Node holds for the peer (a peek at the server's internals): sends after the failure are refused.
    const held = connectionOf(ws)!.socket;
    let sent = 0;
    let maxHeld = 0;
    const chunk = Buffer.alloc(CHUNK, 0x61);
    // Send one chunk per turn of the event loop until the connection is gone (at most 256 MiB).
    while (!closedYet && sent < 256 * 1024 * 1024) {
      ws.send(chunk);
      sent += CHUNK;
      maxHeld = Math.max(maxHeld, held.writableLength);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const event = await closed;
    assert.equal(event.code, 1006, "failed: the peer cannot read our Close frame, so no closing handshake");
    assert.equal(event.wasClean, false);
    // What waited never grew far past the limit (the largest message may wait on top of it, and one more).
    assert.ok(maxHeld <= LIMIT + 2 * CHUNK, `Node held ${maxHeld} bytes`);
    assert.equal(server.clients.size, 0);
  });

  test('slowConsumer "pause": input from the peer stops while it does not read; when it reads, every echo arrives in order', async (t) => {
    const LIMIT = 64 * 1024;
    const SIZE = 16 * 1024;
    const COUNT = 1024; // 16 MiB each way: far more than the kernel buffers hold
    const { server, port } = await startServer(t, { maxBufferedBytes: LIMIT, slowConsumer: "pause" });
    let maxBuffered = 0;
    let echoed = 0;
    server.on("connection", (ws) => {
      ws.binaryType = "arraybuffer";
      onMessage(ws, (data) => {
        ws.send(data);
        echoed++;
        maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
      });
    });
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    raw.socket.pause();
    for (let i = 0; i < COUNT; i++) {
      const payload = Buffer.alloc(SIZE, i & 0xff);
      payload.writeUInt32BE(i, 0);
      raw.write(clientFrame(OP.binary, payload));
    }
    // Let the server read until it stops: its input is paused, so the echoes stop short of all messages.
    await sleep(300);
    const echoedWhilePaused = echoed;
    assert.ok(
      echoedWhilePaused < COUNT,
      `the server echoed all ${COUNT} messages to a peer that does not read`,
    );
    // One read (≤ LARGE_READ_SIZE of input → as many bytes of echoes) may land on top of the limit before
    // input pauses.
    assert.ok(maxBuffered <= LIMIT + LARGE_READ_SIZE + SIZE, `bufferedAmount peaked at ${maxBuffered}`);

    // Now read: the server drains, resumes, and every echo arrives in order.
    raw.socket.resume();
    for (let i = 0; i < COUNT; i++) {
      const frame = await raw.readFrame(5000);
      assert.equal(frame.opcode, OP.binary);
      assert.equal(frame.payload.length, SIZE);
      assert.equal(frame.payload.readUInt32BE(0), i, `echo ${i} out of order`);
    }
    assert.equal(echoed, COUNT);
    assert.equal(server.clients.size, 1, "the paused connection was never dropped");
  });
});

describe("maxBufferedBytes: sends in one synchronous burst", () => {
  test("regression: sends batched in one tick count against maxBufferedBytes (64 MiB to a peer that never reads used to sit in the socket, never checked again)", async (t) => {
    const LIMIT = 256 * 1024;
    const CHUNK = 64 * 1024;
    const { server, port } = await startServer(t, { maxBufferedBytes: LIMIT, slowConsumer: "close" });
    const connection = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    raw.socket.pause();
    const [ws, request] = await connection;
    const closed = nextEvent<CloseEvent>(ws, "close", 5000);
    // 64 MiB in one loop, each message its own buffer, as an application replaying a backlog would.
    let maxHeld = 0;
    for (let i = 0; i < 1024; i++) {
      ws.send(Buffer.alloc(CHUNK, i & 0xff));
      maxHeld = Math.max(maxHeld, request.socket.writableLength);
    }
    // The batch is written at the end of the microtask queue: what the socket holds then counts too.
    await new Promise((resolve) => setImmediate(resolve));
    maxHeld = Math.max(maxHeld, request.socket.writableLength);
    const event = await closed;
    assert.equal(event.code, 1006);
    assert.ok(maxHeld <= LIMIT + 2 * CHUNK, `the socket held up to ${maxHeld} bytes`);
    assert.equal(request.socket.writableLength, 0, "nothing is held for the dropped peer");
    // WHATWG send(): every send is counted in bufferedAmount, those refused after the failure too; only bytes
    // the socket really transmitted (at most what the peer's kernel took before the drop) are subtracted.
    const beforeReading = raw.total;
    raw.socket.resume();
    await waitFor(() => raw.eof, 5000, "the dropped peer's socket to close");
    const transmitted = raw.total - beforeReading;
    assert.ok(ws.bufferedAmount <= 1024 * CHUNK, `bufferedAmount ${ws.bufferedAmount}`);
    assert.ok(
      ws.bufferedAmount >= 1024 * CHUNK - transmitted,
      `bufferedAmount ${ws.bufferedAmount}, transmitted ${transmitted}`,
    );
  });

  test("one message larger than maxBufferedBytes to a peer that reads is delivered, not treated as a slow consumer", async (t) => {
    const { server, url } = await startServer(t, { maxBufferedBytes: 64 * 1024 });
    const payload = Buffer.alloc(1024 * 1024, 0x42);
    server.on("connection", (ws) => ws.send(payload));
    const client = await openClient(t, url);
    client.binaryType = "arraybuffer";
    const message = await nextEvent<MessageEvent>(client, "message");
    assert.equal((message.data as ArrayBuffer).byteLength, payload.length);
    assert.equal(client.readyState, WebSocket.OPEN);
  });
});

describe("maxBufferedBytes: a peer that reads is never a slow consumer", () => {
  for (const slowConsumer of ["close", "pause"] as const) {
    test(`slowConsumer "${slowConsumer}", limit 1500: two 1000-byte messages in one packet are both echoed, then a third`, async (t) => {
      const { server, port } = await startServer(t, { maxBufferedBytes: 1500, slowConsumer });
      server.on("connection", (ws) => {
        ws.binaryType = "arraybuffer";
        onMessage(ws, (data) => ws.send(data));
      });
      const raw = await RawClient.connect(t, port);
      await raw.handshake();
      const payload = Buffer.alloc(1000, 0x62);
      raw.write(Buffer.concat([clientFrame(OP.binary, payload), clientFrame(OP.binary, payload)]));
      for (let i = 0; i < 2; i++) assert.equal((await raw.readFrame()).payload.length, 1000);
      await sleep(20);
      raw.write(clientFrame(OP.binary, payload));
      assert.equal(
        (await raw.readFrame()).payload.length,
        1000,
        "the third message was not read or not echoed",
      );
      assert.equal(raw.eof, false);
    });
  }
});
