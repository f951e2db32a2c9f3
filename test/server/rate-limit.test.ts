import assert from "node:assert/strict";
import { describe, test } from "node:test";
import zlib from "node:zlib";
import { resolveRateLimit } from "../../src/connection/rate-limit.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import {
  clientFrame,
  nextConnection,
  OP,
  onMessage,
  openClient,
  parseFrame,
  RawClient,
  type ServerFrame,
  startServer,
  waitFor,
} from "./helpers.js";

// Per-connection rate limits (issue 18): every frame but Close counts — messages, fragments, pings, pongs,
// empty frames — from its header; past a limit the connection is closed with 1008 and a reason, or its input
// is paused (TCP slows the peer) until the token bucket refills. Floods are real bytes on real sockets.

/** Reads server frames until a Close (or EOF); returns them all. */
async function readUntilClose(raw: RawClient, ms = 5000): Promise<ServerFrame[]> {
  const frames: ServerFrame[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const frame = await raw.readFrame(Math.max(1, deadline - Date.now()));
    frames.push(frame);
    if (frame.opcode === OP.close) return frames;
  }
}

/** `count` copies of `frame`, as one buffer (a flood written with one write). */
function flood(frame: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

/** The close code and reason of a server Close frame. */
function closeOf(frame: ServerFrame): { code: number; reason: string } {
  assert.equal(frame.opcode, OP.close, "expected a Close frame");
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString("utf8") };
}

async function connectRaw(t: Parameters<typeof startServer>[0], port: number): Promise<RawClient> {
  const raw = await RawClient.connect(t, port);
  await raw.handshake();
  return raw;
}

describe('rateLimit, onExceeded "close"', () => {
  test("a flood of messages is cut after the burst: 1008 with a reason, the burst delivered, nothing after", async (t) => {
    const { server, port } = await startServer(t, {
      rateLimit: { framesPerSecond: 10, frameBurst: 20 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await connectRaw(t, port);
    const [socket] = await accepted;
    const received: string[] = [];
    onMessage(socket, (data) => received.push(data));
    raw.write(flood(clientFrame(OP.text, "hello"), 1000));
    const frames = await readUntilClose(raw);
    const { code, reason } = closeOf(frames.at(-1)!);
    assert.equal(code, 1008);
    assert.match(reason, /^rate limit exceeded \(10 frames\/s\)$/);
    await raw.expectEof();
    // The burst (plus what refilled while the test ran, at 10/s) got through; the rest was never read.
    assert.ok(received.length >= 20 && received.length <= 25, `${received.length} messages delivered`);
  });

  test("0-byte frames count: a flood of empty binary messages is refused with 1008", async (t) => {
    const { server, port } = await startServer(t, {
      rateLimit: { framesPerSecond: 100, frameBurst: 100 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await connectRaw(t, port);
    const [socket] = await accepted;
    let received = 0;
    onMessage(socket, () => received++);
    raw.write(flood(clientFrame(OP.binary, ""), 100_000));
    const frames = await readUntilClose(raw);
    assert.equal(closeOf(frames.at(-1)!).code, 1008);
    assert.ok(received >= 100 && received < 200, `${received} empty messages delivered`);
  });

  test("0-byte continuation frames count: a message split into empty fragments is refused with 1008", async (t) => {
    const { port } = await startServer(t, {
      rateLimit: { framesPerSecond: 50 },
      maxFragmentsPerMessage: 1_000_000,
      pingIntervalMs: 0,
    });
    const raw = await connectRaw(t, port);
    raw.write(clientFrame(OP.text, "", { fin: false }));
    raw.write(flood(clientFrame(OP.continuation, "", { fin: false }), 20_000));
    const frames = await readUntilClose(raw);
    assert.equal(closeOf(frames.at(-1)!).code, 1008);
  });

  test("pings count: a ping flood gets at most the burst of pongs, then 1008", async (t) => {
    const { port } = await startServer(t, {
      rateLimit: { framesPerSecond: 50, frameBurst: 50 },
      pingIntervalMs: 0,
    });
    const raw = await connectRaw(t, port);
    raw.write(flood(clientFrame(OP.ping, "p"), 100_000));
    const frames = await readUntilClose(raw);
    const pongs = frames.filter((f) => f.opcode === OP.pong).length;
    assert.equal(closeOf(frames.at(-1)!).code, 1008);
    assert.ok(pongs >= 50 && pongs < 60, `${pongs} pongs`);
  });

  test("pongs count too", async (t) => {
    const { port } = await startServer(t, { rateLimit: { framesPerSecond: 30 }, pingIntervalMs: 0 });
    const raw = await connectRaw(t, port);
    raw.write(flood(clientFrame(OP.pong, ""), 10_000));
    const frames = await readUntilClose(raw);
    assert.equal(frames.length, 1, "nothing but the Close");
    assert.equal(closeOf(frames[0]).code, 1008);
  });

  test("a byte rate: payload past the byte burst is refused with 1008 before it is read", async (t) => {
    const { server, port } = await startServer(t, {
      rateLimit: { bytesPerSecond: 1000, byteBurst: 10_000 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await connectRaw(t, port);
    const [socket] = await accepted;
    const sizes: number[] = [];
    socket.binaryType = "nodebuffer";
    onMessage(socket, (data: Buffer) => sizes.push(data.length));
    // 8,000 bytes pass; the next 8,000 do not fit in what is left (2,000 + a little refill).
    raw.write(clientFrame(OP.binary, Buffer.alloc(8000, 1)));
    raw.write(clientFrame(OP.binary, Buffer.alloc(8000, 2)));
    const frames = await readUntilClose(raw);
    const { code, reason } = closeOf(frames.at(-1)!);
    assert.equal(code, 1008);
    assert.equal(reason, "rate limit exceeded (1000 bytes/s)");
    assert.deepEqual(sizes, [8000]);
  });

  test("one frame larger than the byte burst passes on a full bucket (not refused forever)", async (t) => {
    const { server, port } = await startServer(t, {
      rateLimit: { bytesPerSecond: 1000, byteBurst: 1000 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await connectRaw(t, port);
    const [socket] = await accepted;
    const sizes: number[] = [];
    socket.binaryType = "nodebuffer";
    onMessage(socket, (data: Buffer) => sizes.push(data.length));
    raw.write(clientFrame(OP.binary, Buffer.alloc(5000)));
    await waitFor(() => sizes.length === 1, 3000, "the large message");
    // The bucket is 4,000 bytes in debt: the next frame, even empty, waits for it to be paid back.
    raw.write(clientFrame(OP.binary, ""));
    const frames = await readUntilClose(raw);
    assert.equal(closeOf(frames.at(-1)!).code, 1008);
    assert.deepEqual(sizes, [5000]);
  });

  test("a Close from the peer is never refused: the closing handshake completes past the limit", async (t) => {
    const { port } = await startServer(t, {
      rateLimit: { framesPerSecond: 1, frameBurst: 1 },
      pingIntervalMs: 0,
    });
    const raw = await connectRaw(t, port);
    raw.write(clientFrame(OP.text, "one"));
    const close = Buffer.alloc(2);
    close.writeUInt16BE(1000);
    raw.write(clientFrame(OP.close, close));
    const frames = await readUntilClose(raw);
    assert.equal(closeOf(frames.at(-1)!).code, 1000);
  });

  test("a peer within the limits is never refused", async (t) => {
    const { server, url } = await startServer(t, {
      rateLimit: { framesPerSecond: 1000, bytesPerSecond: 1_000_000 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const client = await openClient(t, url);
    const [socket] = await accepted;
    let received = 0;
    onMessage(socket, () => received++);
    for (let i = 0; i < 500; i++) client.send(`message ${i}`);
    await waitFor(() => received === 500, 5000, "500 messages");
    assert.equal(client.readyState, client.OPEN);
  });
});

describe('rateLimit, onExceeded "pause"', () => {
  test("a message flood is slowed, not lost: every message arrives, in order, at most burst + rate × time", async (t) => {
    const rate = 400;
    const burst = 50;
    const { server, port } = await startServer(t, {
      rateLimit: { framesPerSecond: rate, frameBurst: burst, onExceeded: "pause" },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await connectRaw(t, port);
    const [socket] = await accepted;
    const received: number[] = [];
    let overLimit = "";
    const started = performance.now();
    onMessage(socket, (data: string) => {
      received.push(Number(data));
      // Token bucket: in any run of t ms from a full bucket, at most burst + rate·t frames (+1: the frame
      // that empties the bucket is read whole before the input is held).
      const allowed = burst + (rate * (performance.now() - started)) / 1000 + 1;
      if (received.length > allowed && overLimit === "")
        overLimit = `${received.length} messages after ${(performance.now() - started).toFixed(0)} ms`;
    });
    const total = 300;
    raw.write(Buffer.concat(Array.from({ length: total }, (_, i) => clientFrame(OP.text, String(i)))));
    await waitFor(() => received.length === total, 10_000, `${total} messages`);
    assert.equal(overLimit, "", "delivered faster than the limit");
    assert.deepEqual(
      received,
      Array.from({ length: total }, (_, i) => i),
    );
    assert.equal(socket.readyState, socket.OPEN);
  });

  test("a ping flood is slowed by TCP: pongs stay within the limit and the peer's writes back up", async (t) => {
    const rate = 1000;
    const burst = 100;
    const { port } = await startServer(t, {
      rateLimit: { framesPerSecond: rate, frameBurst: burst, onExceeded: "pause" },
      pingIntervalMs: 0,
    });
    const raw = await connectRaw(t, port);
    const ping = clientFrame(OP.ping, "");
    const started = performance.now();
    // 8 MB of 6-byte pings: far more than the socket buffers on both sides hold.
    const pings = 1_400_000;
    raw.write(flood(ping, pings));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const elapsed = performance.now() - started;
    let pongs = 0;
    for (let frame = parseFrame(raw.buffer); frame !== null; frame = parseFrame(raw.buffer)) {
      raw.buffer = raw.buffer.subarray(frame.size);
      assert.equal(frame.opcode, OP.pong);
      pongs++;
    }
    assert.ok(pongs > 0, "no pong at all");
    assert.ok(pongs <= burst + (rate * elapsed) / 1000 + 1, `${pongs} pongs in ${elapsed.toFixed(0)} ms`);
    // The server does not read what it may not yet parse: most of the flood still waits on our side.
    assert.ok(
      raw.socket.writableLength > ping.length * (pings / 2),
      `only ${raw.socket.writableLength} bytes wait in our socket`,
    );
  });

  test("compressed messages held by the limit keep their order and pace (the decoder's pause and the hold are separate)", async (t) => {
    const rate = 200;
    const burst = 5;
    const { server, port } = await startServer(t, {
      perMessageDeflate: true,
      rateLimit: { framesPerSecond: rate, frameBurst: burst, onExceeded: "pause" },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    const head = await raw.handshake("/", { "Sec-WebSocket-Extensions": "permessage-deflate" });
    assert.match(head.header("sec-websocket-extensions") ?? "", /permessage-deflate/);
    const [socket] = await accepted;
    const received: string[] = [];
    let overLimit = "";
    const started = performance.now();
    onMessage(socket, (data: string) => {
      received.push(data);
      const elapsed = performance.now() - started;
      if (received.length > burst + (rate * elapsed) / 1000 + 1 && overLimit === "")
        overLimit = `${received.length} messages after ${elapsed.toFixed(0)} ms`;
    });
    // Every message compressed (RSV1, RFC 7692 §7.2.1), all in one write: the parser holds most of them
    // while the decoder runs and while the limit holds the input.
    const sent = Array.from({ length: 60 }, (_, i) => `message ${i} ${"x".repeat(i * 20)}`);
    raw.write(Buffer.concat(sent.map((text) => compressedTextFrame(text))));
    await waitFor(() => received.length === sent.length, 10_000, "every compressed message");
    assert.deepEqual(received, sent);
    assert.equal(overLimit, "", "the decoder's resume lifted the hold");
  });

  test("a held connection is not terminated by the keepalive for its silence", async (t) => {
    const { server, port } = await startServer(t, {
      // One frame per 2 s after the first: the input stays held across several keepalive sweeps.
      rateLimit: { framesPerSecond: 0.5, frameBurst: 1, onExceeded: "pause" },
      pingIntervalMs: 100,
    });
    const accepted = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    const [socket] = await accepted;
    let closed = false;
    socket.addEventListener("close", () => {
      closed = true;
    });
    raw.write(clientFrame(OP.text, "a"));
    raw.write(clientFrame(OP.text, "b"));
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(closed, false, "terminated while its input was held");
    assert.equal(socket.readyState, socket.OPEN);
  });
});

describe("rateLimit option", () => {
  test("off by default (as ws): a flood of 10,000 pings is answered in full", async (t) => {
    const { port } = await startServer(t, { pingIntervalMs: 0 });
    const raw = await connectRaw(t, port);
    raw.write(flood(clientFrame(OP.ping, ""), 10_000));
    await raw.until(() => raw.buffer.length >= 10_000 * 2, 5000, "10,000 pongs");
    assert.equal(raw.buffer.length, 20_000);
  });

  test("bad values are TypeErrors at construction", () => {
    for (const rateLimit of [
      { framesPerSecond: 0 },
      { framesPerSecond: -1 },
      { bytesPerSecond: Number.NaN },
      { framesPerSecond: 10, frameBurst: 0.5 },
      { framesPerSecond: 10, onExceeded: "drop" },
      "fast",
    ]) {
      assert.throws(
        () => new WebSocketServer({ noServer: true, rateLimit: rateLimit as never }),
        TypeError,
        JSON.stringify(rateLimit),
      );
    }
  });

  test("defaults: bursts of one second's worth; no rate means no limiter", () => {
    assert.deepEqual(resolveRateLimit({ framesPerSecond: 20, bytesPerSecond: 5000 }), {
      framesPerSecond: 20,
      frameBurst: 20,
      bytesPerSecond: 5000,
      byteBurst: 5000,
      onExceeded: "close",
    });
    assert.equal(resolveRateLimit({}), null);
    assert.equal(resolveRateLimit(null), null);
  });
});

/** A masked text frame with a permessage-deflate payload (RSV1 set, the 00 00 ff ff tail removed). */
function compressedTextFrame(text: string): Buffer {
  const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const frame = clientFrame(OP.text, deflated.subarray(0, deflated.length - 4));
  frame[0] |= 0x40;
  return frame;
}
