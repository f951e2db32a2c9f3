import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  leaseFrameBuffer,
  POOLED_FRAME_MIN,
  pooledFreeBytes,
  releaseFrameBuffer,
} from "../../src/connection/frame-buffer-pool.js";
import { WebSocket, WebSocketServer } from "../../src/index.js";
import { RawClient, upgradeRequest } from "../server/helpers.js";

// Large frames built by copying (a server's copy of a borrowed payload, a client's masked frame) go out in
// pooled buffers that are reused once the socket's write has called back. A buffer reused too early would
// put the bytes of a later frame into an earlier one: every message below has its own bytes, checked whole.

const COUNT = 60;
const SIZE = 100_000;

/** Message i: SIZE bytes counting from i (so a byte from another message, or a shifted one, is caught). */
function messageBytes(i: number): Uint8Array {
  const bytes = new Uint8Array(SIZE);
  for (let j = 0; j < SIZE; j++) bytes[j] = (i * 7 + j) & 0xff;
  return bytes;
}

function assertMessage(data: ArrayBuffer | Buffer, i: number): void {
  const got = new Uint8Array(
    data instanceof ArrayBuffer ? data : data.buffer,
    data instanceof ArrayBuffer ? 0 : data.byteOffset,
    SIZE,
  );
  assert.equal(data.byteLength, SIZE, `message ${i}: length`);
  const expected = messageBytes(i);
  for (let j = 0; j < SIZE; j++) {
    if (got[j] !== expected[j]) assert.fail(`message ${i}: byte ${j} is ${got[j]}, expected ${expected[j]}`);
  }
}

async function listening(server: WebSocketServer): Promise<string> {
  await new Promise<void>((resolve) => server.once("listening", resolve));
  return `ws://127.0.0.1:${(server.address() as { port: number }).port}/`;
}

describe("Pooled buffers for large frames", () => {
  it("a released buffer is leased again for a frame of its size class; the pool keeps at most 8 MiB", () => {
    const first = leaseFrameBuffer(POOLED_FRAME_MIN + 100);
    assert.equal(first.length, POOLED_FRAME_MIN + 100);
    const before = pooledFreeBytes();
    releaseFrameBuffer(first);
    assert.ok(pooledFreeBytes() > before);
    const again = leaseFrameBuffer(POOLED_FRAME_MIN + 5);
    assert.equal(again.buffer, first.buffer, "the same backing store");
    assert.equal(again.length, POOLED_FRAME_MIN + 5);
    const many = Array.from({ length: 12 }, () => leaseFrameBuffer(1024 * 1024));
    for (const buffer of many) releaseFrameBuffer(buffer);
    assert.ok(pooledFreeBytes() <= 8 * 1024 * 1024, `${pooledFreeBytes()} bytes kept`);
    // Leave the pool empty for the tests below (which need room in it to reuse anything).
    for (let i = 0; i < 12; i++) leaseFrameBuffer(1024 * 1024);
    leaseFrameBuffer(POOLED_FRAME_MIN);
    assert.equal(pooledFreeBytes(), 0);
  });

  it("server sends 60 different 100 KB messages over 6 loop turns to a client that reads late → each arrives with its own bytes", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    t.after(() => server.close());
    const url = await listening(server);
    const port = Number(new URL(url).port);
    let sentAll!: () => void;
    const done = new Promise<void>((resolve) => {
      sentAll = resolve;
    });
    server.on("connection", (socket) => {
      // One buffer, changed after each send(): every frame must hold the bytes of its own call. Ten per turn,
      // so that later frames are built while earlier ones still wait in the socket (the client is not reading).
      const scratch = new Uint8Array(SIZE);
      let i = 0;
      const turn = () => {
        for (const end = i + 10; i < end; i++) {
          scratch.set(messageBytes(i));
          socket.send(scratch);
        }
        if (i < COUNT) setImmediate(turn);
        else sentAll();
      };
      turn();
    });
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest());
    assert.equal((await client.readHead()).status, 101);
    client.socket.pause();
    await done;
    client.socket.resume();
    for (let i = 0; i < COUNT; i++) {
      const frame = await client.readFrame(10_000);
      assert.equal(frame.opcode, 2);
      assertMessage(frame.payload, i);
    }
  });

  it("a connection destroyed with large frames still queued gives its buffers back; another connection's frames keep their bytes", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    t.after(() => server.close());
    const url = await listening(server);
    const port = Number(new URL(url).port);
    const sockets: WebSocket[] = [];
    server.on("connection", (socket) => sockets.push(socket));
    // A: a client that never reads, so that the server's frames to it wait in the socket.
    const stalled = await RawClient.connect(t, port);
    stalled.write(upgradeRequest());
    assert.equal((await stalled.readHead()).status, 101);
    stalled.socket.pause();
    // B: a client that reads.
    const reader = await RawClient.connect(t, port);
    reader.write(upgradeRequest());
    assert.equal((await reader.readHead()).status, 101);
    while (sockets.length < 2) await new Promise((resolve) => setImmediate(resolve));
    const [toStalled, toReader] = sockets;
    for (let i = 0; i < COUNT; i++) toStalled.send(messageBytes(i));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(toStalled.bufferedAmount > 0, "frames wait in the stalled socket");
    // Both ends go: the server's socket is destroyed with the frames still queued.
    const freeBefore = pooledFreeBytes();
    toStalled.terminate();
    stalled.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(pooledFreeBytes() > freeBefore, "the destroyed connection's buffers are back in the pool");
    // Now B's frames are built in whatever the pool got back.
    const scratch = new Uint8Array(SIZE);
    for (let i = 0; i < COUNT; i++) {
      scratch.set(messageBytes(COUNT - 1 - i));
      toReader.send(scratch);
    }
    for (let i = 0; i < COUNT; i++) {
      const frame = await reader.readFrame(10_000);
      assertMessage(frame.payload, COUNT - 1 - i);
    }
  });

  it("client sends 60 different masked 100 KB messages, some from the echo handler → the echoes have their own bytes", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    t.after(() => server.close());
    const url = await listening(server);
    server.on("connection", (socket) => {
      socket.binaryType = "nodebuffer";
      socket.onmessage = (event) => socket.send(event.data as Buffer);
    });
    const client = new WebSocket(url, [], { perMessageDeflate: false });
    client.binaryType = "nodebuffer";
    t.after(() => client.close());
    await new Promise<void>((resolve, reject) => {
      client.onopen = () => resolve();
      client.onerror = () => reject(new Error("connection failed"));
    });
    const scratch = new Uint8Array(SIZE);
    let sent = 0;
    const sendNext = () => {
      scratch.set(messageBytes(sent++));
      client.send(scratch);
    };
    // Half at once, the rest one per echo (sent while earlier frames' writes may still be in progress).
    for (let i = 0; i < COUNT / 2; i++) sendNext();
    const got: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} echoes`)), 20_000);
      client.onmessage = (event) => {
        got.push(event.data as Buffer);
        if (sent < COUNT) sendNext();
        if (got.length === COUNT) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    got.forEach(assertMessage);
  });
});
