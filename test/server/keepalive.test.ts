import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CloseEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  clientFrame,
  hex,
  nextConnection,
  nextEvent,
  OP,
  openClient,
  RawClient,
  sleep,
  startServer,
  waitFor,
} from "./helpers.js";

// Keepalive (RFC 6455 §5.5.2: a Ping "may serve as a keepalive or as a means to verify that the remote
// endpoint is still responsive"): the server pings every pingIntervalMs and terminates a peer that has sent
// nothing since the previous ping. The idle timeout closes (1001) a connection that sends no message.

const INTERVAL = 80;

describe("keepalive pings", () => {
  test("a raw client that answers every Ping with its Pong survives 5 of them, each an empty Ping (89 00)", async (t) => {
    const { server, port } = await startServer(t, { pingIntervalMs: INTERVAL });
    const connection = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    const [ws] = await connection;
    // Each Ping within 12 intervals, not 3: a loaded CI machine once held a timer back past 240 ms.
    for (let pings = 0; pings < 5; pings++) {
      const frame = await raw.readFrame(INTERVAL * 12);
      assert.equal(hex(frame.bytes), "89 00");
      raw.write(clientFrame(OP.pong, frame.payload));
    }
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(raw.eof, false);
  });

  test("a raw client that stops answering is terminated: close 1006 on the server side, EOF at the client", async (t) => {
    const { server, port } = await startServer(t, { pingIntervalMs: INTERVAL });
    const connection = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    const [ws] = await connection;
    const closed = nextEvent<CloseEvent>(ws, "close", INTERVAL * 10);
    const started = Date.now();
    const event = await closed;
    const elapsed = Date.now() - started;
    assert.equal(event.code, 1006);
    assert.equal(event.wasClean, false);
    // Dead after the second sweep at the latest (the first pings, the second finds no answer).
    assert.ok(elapsed <= INTERVAL * 2 + 200, `terminated after ${elapsed} ms`);
    await raw.expectEof();
    // It saw the Ping it never answered.
    assert.equal(hex((await raw.readFrame()).bytes), "89 00");
    assert.equal(server.clients.size, 0);
  });

  test("our client answers pings on its own: it stays open for 6 intervals while a silent raw peer is dropped", async (t) => {
    const { server, url, port } = await startServer(t, { pingIntervalMs: INTERVAL });
    const client = await openClient(t, url);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    await waitFor(() => server.clients.size === 2, 1000, "two connections");
    await sleep(INTERVAL * 6);
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.equal(raw.eof, true, "the raw peer never answered and was terminated");
    assert.equal(server.clients.size, 1);
  });

  test("pingIntervalMs: 0 turns keepalive off: a silent peer gets no Ping", async (t) => {
    const { port } = await startServer(t, { pingIntervalMs: 0 });
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    await sleep(200);
    assert.equal(raw.buffer.length, 0);
    assert.equal(raw.eof, false);
  });
});

describe("idle timeout", () => {
  test("a connection that sends no message for idleTimeoutMs is closed with 1001 on both sides", async (t) => {
    const { server, url } = await startServer(t, { idleTimeoutMs: 100, pingIntervalMs: 0 });
    const connection = nextConnection(server);
    const client = await openClient(t, url);
    const [ws] = await connection;
    const serverClose = nextEvent<CloseEvent>(ws, "close", 2000);
    const event = await nextEvent<CloseEvent>(client, "close", 2000);
    assert.equal(event.code, 1001);
    assert.equal(event.wasClean, true);
    assert.equal((await serverClose).code, 1001);
  });

  test("the raw peer sees the Close frame 1001 'idle timeout' on the wire", async (t) => {
    const { port } = await startServer(t, { idleTimeoutMs: 100, pingIntervalMs: 0 });
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    const frame = await raw.readFrame(2000);
    assert.equal(frame.opcode, OP.close);
    assert.equal(frame.closeCode, 1001);
    assert.equal(frame.payload.subarray(2).toString(), "idle timeout");
  });

  test("a connection sending a message every 30 ms outlives 5 idle periods of 100 ms", async (t) => {
    const { url } = await startServer(t, { idleTimeoutMs: 100, pingIntervalMs: 0 });
    const client = await openClient(t, url);
    for (let i = 0; i < 17; i++) {
      client.send(`tick ${i}`);
      await sleep(30);
    }
    assert.equal(client.readyState, WebSocket.OPEN);
  });
});
