import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConnectionLostError, type ErrorEvent, WebSocket } from "../../src/index.js";
import { startChildServer } from "../support/child-server.js";
import { acceptHandshake, connect, delay, frame, next, rawServer, record, within } from "./helpers.js";

// Issue 18, "Client heartbeat": with the Node-only `heartbeat` option the client pings a server that has
// been silent for intervalMs (RFC 6455 §5.5.2) and drops the connection when nothing, not even the Pong,
// arrives within timeoutMs: error (a ConnectionLostError, code SJ_ERR_HEARTBEAT_TIMEOUT) then close 1006.

const OPCODE_PING = 0x9;

describe("client heartbeat", () => {
  test("client pings a silent server, then fails with 1006 when no pong comes within timeoutMs", async (t) => {
    // Completes the handshake, then never answers (it reads, so the ping can be checked byte by byte).
    const raw = await rawServer(t);
    const ws = connect(t, raw.url, undefined, { heartbeat: { intervalMs: 50, timeoutMs: 150 } });
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    const recorder = record(ws);
    await next(ws, "open");
    const ping = await reader.readFrame(2000);
    assert.equal(ping.opcode, OPCODE_PING);
    assert.equal(ping.masked, true, "client frames are masked (§5.3)");
    assert.equal(ping.payload.length, 0);
    const opened = Date.now();
    const closed = await within(recorder.closed, 3000, "close after the missing pong");
    assert.ok(Date.now() - opened >= 100, "not failed before timeoutMs");
    assert.deepEqual(
      recorder.log.map((e) => [e.type, e.readyState]),
      [
        ["open", WebSocket.OPEN],
        ["error", WebSocket.CLOSED],
        ["close", WebSocket.CLOSED],
      ],
    );
    const error = (recorder.log[1].event as ErrorEvent).error;
    assert.ok(error instanceof ConnectionLostError);
    assert.equal(error.code, "SJ_ERR_HEARTBEAT_TIMEOUT");
    assert.equal(error.message, "connection lost: no pong (or any frame) within 150 ms of a ping");
    assert.equal(closed.code, 1006);
    assert.equal(closed.wasClean, false);
    await reader.waitEnd(2000);
  });

  test("client drops a frozen server process (SIGSTOP): the kernel still holds the TCP connection open", async (t) => {
    const server = await startChildServer(t);
    const ws = connect(t, server.url, undefined, { heartbeat: { intervalMs: 50, timeoutMs: 300 } });
    const recorder = record(ws);
    await next(ws, "open", 5000);
    // Alive: pings are answered, so the connection outlives several timeouts.
    await delay(600);
    assert.equal(ws.readyState, WebSocket.OPEN, "a server that answers pings is kept");
    server.child.kill("SIGSTOP");
    const closed = await within(recorder.closed, 5000, "close after the server froze");
    const error = (recorder.log.find((e) => e.type === "error")!.event as ErrorEvent).error;
    assert.equal(error.code, "SJ_ERR_HEARTBEAT_TIMEOUT");
    assert.equal(closed.code, 1006);
  });

  test("client does not ping while the server is sending: any frame counts as an answer", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url, undefined, { heartbeat: { intervalMs: 150, timeoutMs: 150 } });
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    await next(ws, "open");
    let messages = 0;
    ws.onmessage = () => messages++;
    // A text frame every 10 ms for 500 ms: the client never sees 150 ms of silence.
    for (let i = 0; i < 50; i++) {
      reader.socket.write(frame(0x1, `tick ${i}`));
      await delay(10);
    }
    assert.equal(reader.pending.length, 0, "no ping was sent while frames arrived");
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.ok(messages > 0);
    // Silence: now it pings.
    const ping = await reader.readFrame(2000);
    assert.equal(ping.opcode, OPCODE_PING);
  });

  test("a pong arriving late but within timeoutMs keeps the connection", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url, undefined, { heartbeat: { intervalMs: 40, timeoutMs: 300 } });
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    await next(ws, "open");
    for (let round = 0; round < 3; round++) {
      const ping = await reader.readFrame(2000);
      assert.equal(ping.opcode, OPCODE_PING);
      await delay(100);
      reader.socket.write(frame(0xa, ping.payload));
    }
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test("once the client's Close is out, the closing handshake's timer decides, not the heartbeat", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url, undefined, {
      heartbeat: { intervalMs: 30, timeoutMs: 60 },
      closeTimeoutMs: 400,
    });
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    const recorder = record(ws);
    await next(ws, "open");
    assert.equal((await reader.readFrame(2000)).opcode, OPCODE_PING);
    ws.close(1000); // while the ping waits for its answer, which never comes
    assert.equal((await reader.readFrame(2000)).opcode, 0x8);
    const started = Date.now();
    await within(recorder.closed, 3000, "close after closeTimeoutMs");
    assert.ok(Date.now() - started >= 300, "closeTimeoutMs, not the heartbeat's 60 ms");
    const error = (recorder.log.find((e) => e.type === "error")!.event as ErrorEvent).error;
    assert.equal(error.code, "SJ_ERR_CONNECTION_LOST");
    assert.equal(reader.pending.length, 0, "no ping after the Close");
  });

  test("the option is checked at construction", () => {
    const url = "ws://127.0.0.1:1/";
    assert.throws(() => new WebSocket(url, [], { heartbeat: { intervalMs: 0 } }), TypeError);
    assert.throws(() => new WebSocket(url, [], { heartbeat: { timeoutMs: Number.NaN } }), TypeError);
    assert.throws(() => new WebSocket(url, [], { heartbeat: { intervalMs: 2 ** 31 } }), TypeError);
    // @ts-expect-error: not a boolean or an object
    assert.throws(() => new WebSocket(url, [], { heartbeat: "on" }), TypeError);
  });
});
