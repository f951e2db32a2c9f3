import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProtocolError } from "../../src/protocol/errors.js";
import type { CloseEvent, ErrorEvent } from "../../src/web/events.js";
import { connectionOf } from "../../src/web/websocket.js";
import { killAll, type Served, serve } from "../cli/helpers.js";
import { OP } from "../conformance/peers.js";
import { StreamPeer } from "../conformance/stream-peer.js";
import { defer, nextConnection, nextEvent, onMessage, openClient, startServer, waitFor } from "./helpers.js";

// Telling a peer that reads slowly from one that stopped reading (issue 14 item 4), and resuming a paused
// one (issue 21 item 4).

describe('slowConsumer "pause"', () => {
  test("regression: maxBufferedBytes below 16 KiB: 8 × 1,000-byte sends in one tick pause input, and it resumes (drain never fired)", async (t) => {
    const { server, url } = await startServer(t, { maxBufferedBytes: 4096, slowConsumer: "pause" });
    const connection = nextConnection(server);
    const client = await openClient(t, url);
    const [ws] = await connection;
    const received: string[] = [];
    onMessage(ws, (data) => {
      received.push(String(data));
      if (data === "burst") for (let i = 0; i < 8; i++) ws.send(Buffer.alloc(1000, i));
      else ws.send(`echo ${data}`);
    });
    let burst = 0;
    const after = new Promise<string>((resolve) => {
      onMessage(client, (data) => {
        if (typeof data !== "string") burst++;
        else resolve(data);
      });
    });
    client.send("burst");
    await nextEvent(client, "message");
    client.send("after the burst");
    assert.equal(
      await Promise.race([after, nextEvent(client, "close").then(() => "closed")]),
      "echo after the burst",
    );
    assert.equal(burst, 8);
    assert.deepEqual(received, ["burst", "after the burst"]);
  });
});

const MIB = 1024 * 1024;

describe("Autobahn 9.1/9.2 shapes and a steady slow reader, against sockjet serve --max-payload 16m", () => {
  let served: Served;
  const peers: StreamPeer[] = [];
  before(async () => {
    served = await serve(["--max-payload", "16m"]);
  });
  after(() => {
    for (const peer of peers) peer.destroy();
    killAll();
  });
  async function open(): Promise<StreamPeer> {
    const peer = await StreamPeer.open(served.port);
    peers.push(peer);
    return peer;
  }

  for (const [opcode, name] of [
    [OP.text, "text (9.1)"],
    [OP.binary, "binary (9.2)"],
  ] as const) {
    for (const size of [8 * MIB, 16 * MIB]) {
      test(`regression: a ${size / MIB} MiB ${name} echo arrives whole (the server's buffer holds more than maxBufferedBytes, 8 MiB)`, async () => {
        const peer = await open();
        const payload = Buffer.alloc(size, opcode === OP.text ? "sockjet " : "\x00\x01\x02\x03");
        peer.sendMessage(opcode, payload);
        const echo = await peer.readMessage(30_000);
        assert.equal(echo.opcode, opcode);
        assert.ok(echo.payload.equals(payload), "the echo differs");
        peer.destroy();
      });
    }
  }

  test("regression: a client reading steadily at 2 MiB/s receives a 16 MiB echo whole (was dropped after ~4 MB)", async () => {
    const peer = await open();
    const payload = Buffer.alloc(16 * MIB);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32BE(i, i);
    peer.readAt(2 * MIB);
    peer.sendMessage(OP.binary, payload);
    const echo = await peer.readMessage(30_000);
    assert.equal(echo.opcode, OP.binary);
    assert.equal(echo.payload.length, payload.length);
    assert.ok(echo.payload.equals(payload), "the echo differs");
    assert.equal(peer.closed, false, "still connected");
    peer.destroy();
  });
});

describe('slowConsumer "close": a peer that stopped reading', () => {
  const LIMIT = 256 * 1024;
  const CHUNK = 64 * 1024;

  /** A server connection to a peer that does not read, and a loop sending CHUNKs to it until it closes. */
  async function floodStalledPeer(t: Parameters<typeof startServer>[0]) {
    const { server, port } = await startServer(t, { maxBufferedBytes: LIMIT, slowConsumer: "close" });
    const connection = nextConnection(server);
    const peer = await StreamPeer.open(port);
    defer(t, () => peer.destroy());
    peer.socket.pause();
    const [ws] = await connection;
    // What Node holds for the peer (a peek at the server's internals).
    const held = connectionOf(ws)!.socket;
    const failure = nextEvent<ErrorEvent>(ws, "error", 10_000);
    const closed = nextEvent<CloseEvent>(ws, "close", 10_000);
    let maxHeld = 0;
    let sent = 0;
    const chunk = Buffer.alloc(CHUNK, 0x61);
    // Until the server gives up on the peer (that is, until the failure: sends after it are refused).
    const sending = (async () => {
      while (!held.destroyed && sent < 256 * MIB) {
        ws.send(chunk);
        sent += CHUNK;
        maxHeld = Math.max(maxHeld, held.writableLength);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    return { peer, ws, held, failure, closed, sending, maxHeld: () => maxHeld };
  }

  test("is failed with 1008 and a reason; memory stays within maxBufferedBytes + one message; the Close arrives if it reads again", async (t) => {
    const flood = await floodStalledPeer(t);
    // The failure ends our side of the socket (the error event comes later, with close).
    await waitFor(() => flood.held.writableEnded, 10_000, "the server to fail the peer");
    // It reads again within the grace period: everything sent before the failure, then our Close.
    flood.peer.socket.resume();
    let frame = await flood.peer.readFrame(5000);
    while (frame.opcode !== OP.close) frame = await flood.peer.readFrame(5000);
    const error = (await flood.failure).error as ProtocolError;
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1008);
    assert.equal(error.code, "SJ_ERR_SLOW_CONSUMER");
    assert.match(error.message, /^slow consumer/);
    assert.equal(frame.payload.readUInt16BE(0), 1008);
    assert.equal(frame.payload.subarray(2).toString(), error.message);
    await flood.closed;
    await flood.sending;
    assert.ok(flood.maxHeld() <= LIMIT + 2 * CHUNK, `Node held ${flood.maxHeld()} bytes`);
  });

  test("that never reads again is dropped after the grace period (1 s), memory bounded meanwhile", async (t) => {
    const flood = await floodStalledPeer(t);
    await waitFor(() => flood.held.writableEnded, 10_000, "the server to fail the peer");
    const failedAt = Date.now();
    const event = await flood.closed;
    const graceMs = Date.now() - failedAt;
    assert.equal(event.code, 1006);
    assert.ok(graceMs < 3000, `dropped ${graceMs} ms after the failure`);
    assert.equal(((await flood.failure).error as ProtocolError).closeCode, 1008);
    await flood.sending;
    assert.ok(flood.maxHeld() <= LIMIT + 2 * CHUNK, `Node held ${flood.maxHeld()} bytes`);
  });
});
