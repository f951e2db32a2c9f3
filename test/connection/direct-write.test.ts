// A large borrowed payload (a server's send() of a caller's buffer) is written to the kernel at once when the
// socket has nothing queued, and only what the kernel does not take is copied (direct-write.ts). The caller
// may change its buffer as soon as send() returns: the peer must still get the bytes of the call, whether the
// kernel took them whole, in part or not at all. Real TCP sockets; the reader is paused so that the kernel's
// buffers fill and every case happens.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { OutputBatcher } from "../../src/connection/output-batcher.js";
import { WebSocketServer } from "../../src/index.js";
import { RawClient, upgradeRequest } from "../server/helpers.js";

let server: Server;
let peer: Socket | null = null;
let received: Buffer[] = [];

before(async () => {
  server = createServer((socket) => {
    peer = socket;
    socket.pause();
    socket.on("data", (chunk) => received.push(chunk));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
});

after(() => server.close());

async function connectedPair(): Promise<Socket> {
  received = [];
  peer = null;
  const socket = connect((server.address() as { port: number }).port, "127.0.0.1");
  await once(socket, "connect");
  for (let i = 0; i < 200 && peer === null; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(peer !== null, "the server side accepted");
  return socket;
}

/** Bytes of message i: a pattern of its own (a byte from another message, or shifted, is caught). */
function fill(bytes: Uint8Array, i: number): void {
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j) & 0xff;
}

async function readAll(bytes: number): Promise<Buffer> {
  peer!.resume();
  for (let i = 0; i < 1000 && Buffer.concat(received).length < bytes; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Buffer.concat(received);
}

describe("Borrowed payloads written at once (direct-write.ts)", () => {
  test("the caller's buffer changed after each write: every message arrives with the bytes of its call", async () => {
    const socket = await connectedPair();
    const batcher = new OutputBatcher(socket);
    const SIZE = 256 * 1024;
    const COUNT = 48; // 12 MiB: more than the loopback's buffers take while the reader is paused
    const scratch = new Uint8Array(SIZE);
    const header = Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 4, 0, 0]);
    let whole = 0;
    let inPart = 0;
    let refused = 0;
    for (let i = 0; i < COUNT; i++) {
      fill(scratch, i);
      const queuedBefore = batcher.queuedBytes;
      if (!batcher.writeBorrowed(header, scratch)) {
        // What a refusal means to the frame writer: the frame is copied and queued.
        refused++;
        batcher.push(Buffer.concat([header, scratch]));
      } else if (batcher.queuedBytes > queuedBefore) inPart++;
      else whole++;
      scratch.fill(0xee); // the caller reuses its buffer at once
      batcher.flush();
    }
    assert.ok(whole > 0, "the kernel took some frames whole (no copy)");
    assert.ok(inPart + refused > 0, `the kernel's buffer filled: ${inPart} in part, ${refused} refused`);
    const frame = header.length + SIZE;
    const bytes = await readAll(COUNT * frame);
    socket.destroy();
    assert.equal(bytes.length, COUNT * frame);
    const expected = new Uint8Array(SIZE);
    for (let i = 0; i < COUNT; i++) {
      const at = i * frame;
      assert.deepEqual(bytes.subarray(at, at + header.length), header, `message ${i}: header`);
      fill(expected, i);
      if (!bytes.subarray(at + header.length, at + frame).equals(expected))
        assert.fail(
          `message ${i} (of ${whole} whole, ${inPart} in part, ${refused} refused) has other bytes`,
        );
    }
  });

  test("not written at once behind queued bytes, or below 64 KiB: frames keep their order", async () => {
    const socket = await connectedPair();
    const batcher = new OutputBatcher(socket);
    const small = new Uint8Array(60 * 1024).fill(1);
    const large = new Uint8Array(64 * 1024).fill(2);
    const header = Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert.equal(batcher.writeBorrowed(header, small), false, "below 64 KiB: copied and batched");
    batcher.push(Buffer.from("queued first"));
    assert.equal(batcher.writeBorrowed(header, large), false, "a batch is waiting: it would overtake it");
    batcher.flush();
    assert.equal(batcher.writeBorrowed(header, large), socket.writableLength === 0);
    socket.destroy();
  });
});

describe("A server's send() of a large buffer", () => {
  test("bufferedAmount counts it until after the call, then drops to 0; the peer gets the bytes of the call", async (t) => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    t.after(() => wss.close());
    await once(wss, "listening");
    const port = (wss.address() as { port: number }).port;
    const SIZE = 100_000;
    const seen: { sameTask: number; later: number } = { sameTask: -1, later: -1 };
    const measured = new Promise<void>((resolve) => {
      wss.on("connection", (socket) => {
        const bytes = new Uint8Array(SIZE);
        fill(bytes, 7);
        socket.send(bytes);
        // WHATWG: bufferedAmount is the bytes not yet transmitted "as of the last time the event loop
        // reached step 1": still counted in the task that sent them, however fast the kernel took them.
        seen.sameTask = socket.bufferedAmount;
        bytes.fill(0);
        setTimeout(() => {
          seen.later = socket.bufferedAmount;
          resolve();
        }, 100);
      });
    });
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest());
    assert.equal((await client.readHead()).status, 101);
    const frame = await client.readFrame(5000);
    await measured;
    assert.equal(seen.sameTask, SIZE);
    assert.equal(seen.later, 0);
    const expected = new Uint8Array(SIZE);
    fill(expected, 7);
    assert.ok(Buffer.from(frame.payload).equals(expected), "the bytes at the call, not the zeros after it");
  });
});
