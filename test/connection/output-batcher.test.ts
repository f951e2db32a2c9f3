// OutputBatcher on a real TCP socket: which frames leave in which write() call, and that every byte arrives
// in order. The socket's write is observed (and still performed) to see the batching.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { OutputBatcher } from "../../src/connection/output-batcher.js";

let server: Server;
let received: Buffer[] = [];
/** Bytes received per client port, for tests with several sockets. */
const byPort = new Map<number, Buffer[]>();
const peerSockets = new Map<number, Socket>();

before(async () => {
  server = createServer((peer) => {
    const mine: Buffer[] = [];
    byPort.set(peer.remotePort!, mine);
    peerSockets.set(peer.remotePort!, peer);
    peer.on("data", (chunk) => {
      received.push(chunk);
      mine.push(chunk);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
});

after(() => server.close());

async function openSocket(): Promise<{ socket: Socket; writes: Buffer[] }> {
  received = [];
  const { port } = server.address() as { port: number };
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const writes: Buffer[] = [];
  const write = socket.write.bind(socket) as (chunk: Buffer, cb?: () => void) => boolean;
  socket.write = ((chunk: Buffer, cb?: () => void) => {
    writes.push(Buffer.from(chunk));
    return write(chunk, cb);
  }) as typeof socket.write;
  return { socket, writes };
}

async function allReceived(socket: Socket, bytes: number): Promise<Buffer> {
  for (let i = 0; i < 200 && Buffer.concat(received).length < bytes; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  socket.destroy();
  return Buffer.concat(received);
}

const frames = [Buffer.from("first"), Buffer.from("second"), Buffer.from("third")];

describe("OutputBatcher", () => {
  test("a burst leaves in one write (server connections)", async () => {
    const { socket, writes } = await openSocket();
    const batcher = new OutputBatcher(socket);
    batcher.beginBurst();
    for (const frame of frames) batcher.push(frame);
    assert.equal(writes.length, 0, "nothing is written before the burst ends");
    batcher.endBurst();
    assert.deepEqual(writes.map(String), ["firstsecondthird"]);
    assert.equal(String(await allReceived(socket, 16)), "firstsecondthird");
  });

  const five = ["1", "2", "3", "4", "5"].map((digit) => Buffer.from(digit));
  /** What a connection's send does: the frame, then its bytes counted (and an early write, if one is due). */
  const sendFrame = (batcher: OutputBatcher, frame: Buffer) => {
    batcher.push(frame);
    batcher.addAppBytes(frame.length);
  };

  test("eagerFirstWrite, the loop has waited for I/O: the first frame of a burst leaves at once, the rest two by two (clients)", async () => {
    const { socket, writes } = await openSocket();
    const batcher = new OutputBatcher(socket, true);
    for (let burst = 0; burst < 2; burst++) {
      await new Promise((resolve) => setTimeout(resolve, 2)); // the loop waits in its poll phase
      batcher.beginBurst();
      for (const frame of five) sendFrame(batcher, frame);
      batcher.endBurst();
    }
    assert.deepEqual(writes.map(String), ["1", "23", "45", "1", "23", "45"]);
    // Each frame's bytes were counted before its early write, so that write's callback released them.
    for (let i = 0; i < 20 && batcher.pendingAppBytes !== 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(batcher.pendingAppBytes, 0, "bufferedAmount back to 0");
    assert.equal(String(await allReceived(socket, 10)), "12345".repeat(2));
  });

  test("eagerFirstWrite, the loop busy for 64 bursts: the first frame at once, the rest together; an odd frame out waits for the burst's end", async () => {
    const { socket, writes } = await openSocket();
    const batcher = new OutputBatcher(socket, true);
    await new Promise((resolve) => setTimeout(resolve, 2));
    const burst = (frames: Buffer[]) => {
      batcher.beginBurst();
      for (const frame of frames) sendFrame(batcher, frame);
      batcher.endBurst();
    };
    burst(five.slice(0, 4)); // still in pairs: 1, 23, then 4 alone at the end of the burst
    assert.deepEqual(writes.splice(0).map(String), ["1", "23", "4"]);
    // No await: the loop never gets to wait. The 64 bursts after its last wait are written in pairs, then
    // each burst is one write after its first frame.
    for (let i = 1; i < 64; i++) burst(five);
    assert.deepEqual(writes.splice(0).slice(-3).map(String), ["1", "23", "45"]);
    burst(five);
    assert.deepEqual(writes.map(String), ["1", "2345"]);
    assert.equal(String(await allReceived(socket, 4 + 64 * 5)), `1234${"12345".repeat(64)}`);
  });

  test("sends outside a burst are joined until the end of the microtask queue, eager or not", async () => {
    for (const eager of [false, true]) {
      const { socket, writes } = await openSocket();
      const batcher = new OutputBatcher(socket, eager);
      for (const frame of frames) batcher.push(frame);
      assert.equal(writes.length, 0);
      await Promise.resolve();
      assert.deepEqual(writes.map(String), ["firstsecondthird"]);
      assert.equal(String(await allReceived(socket, 16)), "firstsecondthird");
    }
  });

  test("sends to a connection while others handle reads wait for the end of the I/O phase: one write for all the reads", async () => {
    const reader = await openSocket();
    const { socket, writes } = await openSocket();
    const readerBatcher = new OutputBatcher(reader.socket);
    const batcher = new OutputBatcher(socket);
    // Three reads (of one connection or several) each send a frame to `socket`, as a publish would.
    for (const frame of frames) {
      readerBatcher.beginBurst();
      batcher.push(frame);
      readerBatcher.endBurst();
      await Promise.resolve();
      assert.equal(writes.length, 0, "not flushed at the end of the read's microtasks");
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes.map(String), ["firstsecondthird"]);
    assert.equal(reader.writes.length, 0);
    reader.socket.destroy();
    assert.equal(String(await allReceived(socket, 16)), "firstsecondthird");
  });

  test("a connection's own read flushes what others' reads sent it before, in order, in one write", async () => {
    const reader = await openSocket();
    const { socket, writes } = await openSocket();
    const readerBatcher = new OutputBatcher(reader.socket);
    const batcher = new OutputBatcher(socket);
    readerBatcher.beginBurst();
    batcher.push(frames[0]);
    readerBatcher.endBurst();
    batcher.beginBurst();
    batcher.push(frames[1]);
    batcher.push(frames[2]);
    batcher.endBurst();
    assert.deepEqual(writes.map(String), ["firstsecondthird"]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writes.length, 1, "nothing left for the end of the I/O phase");
    reader.socket.destroy();
    assert.equal(String(await allReceived(socket, 16)), "firstsecondthird");
  });

  test("a batch of small frames larger than the join slab leaves in slab-sized joins, not a write per frame", async () => {
    const { socket, writes } = await openSocket();
    const batcher = new OutputBatcher(socket);
    const sent: Buffer[] = [];
    batcher.beginBurst();
    // 100 frames of 1 KiB: 100 KiB, over the 64 KiB join slab; each frame a chunk of its own.
    for (let i = 0; i < 100; i++) {
      const frame = Buffer.alloc(1024, i & 0xff);
      frame.writeUInt16BE(i, 0);
      batcher.push(frame);
      sent.push(frame);
    }
    batcher.endBurst();
    assert.ok((await allReceived(socket, 100 * 1024)).equals(Buffer.concat(sent)), "every byte, in order");
    // A flowing loopback socket takes each join at once: 64 + 36 KiB. (Were one left queued, the rest would
    // go as a writev, a write per chunk.)
    assert.deepEqual(
      writes.map((w) => w.length),
      [64 * 1024, 36 * 1024],
    );
  });

  test("frames built in place in the shared slab: several connections interleaved, across slab refills", async () => {
    const a = await openSocket();
    const b = await openSocket();
    const batchers = [new OutputBatcher(a.socket), new OutputBatcher(b.socket)];
    const expected: Buffer[][] = [[], []];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (const batcher of batchers) batcher.beginBurst();
    // 400 frames of 1 B – 16 KiB, alternating between the two connections: ~3 MiB, so the 64 KiB slab is
    // replaced many times while earlier runs of it are still waiting to be written.
    for (let i = 0; i < 400; i++) {
      const which = random() % 2;
      const size = 1 + (random() % (16 * 1024));
      const frame = Buffer.alloc(size, i & 0xff);
      if (size >= 2) frame.writeUInt16BE(i, 0);
      const room = batchers[which].reserve(size);
      assert.ok(room !== null);
      frame.copy(room, batchers[which].reservedAt);
      batchers[which].commit(size);
      expected[which].push(frame);
      // Now and then a chunk of its own (a large payload by reference) between slab frames.
      if (i % 50 === 0) {
        const own = Buffer.alloc(20_000, 0xee);
        batchers[which].push(own);
        expected[which].push(own);
      }
      if (i === 200) {
        for (const batcher of batchers) {
          batcher.endBurst();
          batcher.beginBurst();
        }
      }
    }
    for (const batcher of batchers) batcher.endBurst();
    const want = expected.map((frames) => Buffer.concat(frames));
    const ports = [a.socket.localPort!, b.socket.localPort!];
    for (let k = 0; k < 2; k++) {
      for (let i = 0; i < 400 && Buffer.concat(byPort.get(ports[k]) ?? []).length < want[k].length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.ok(
        Buffer.concat(byPort.get(ports[k]) ?? []).equals(want[k]),
        `connection ${k} got its bytes in order`,
      );
    }
    // Large frames are not put in the slab.
    assert.equal(batchers[0].reserve(16 * 1024 + 1), null);
    a.socket.destroy();
    b.socket.destroy();
  });

  test("a peer that stalls gets copies, not views of the shared slab (which they would keep alive)", async () => {
    const { socket } = await openSocket();
    const written: Buffer[] = [];
    const write = socket.write.bind(socket) as (chunk: Buffer, cb?: () => void) => boolean;
    socket.write = ((chunk: Buffer, cb?: () => void) => {
      written.push(chunk);
      return write(chunk, cb);
    }) as typeof socket.write;
    const batcher = new OutputBatcher(socket);
    const frame = (text: string) => {
      const room = batcher.reserve(text.length)!;
      room.write(text, batcher.reservedAt);
      batcher.commit(text.length);
    };
    batcher.beginBurst();
    frame("flowing");
    batcher.endBurst();
    const slabBuffer = written[0].buffer;
    assert.equal(slabBuffer.byteLength, 64 * 1024, "an uncongested write is a view of the slab");
    // Stall: the peer stops reading; fill the kernel's buffers until the socket queues (bounded).
    for (let i = 0; i < 100 && peerSockets.get(socket.localPort!) === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const peer = peerSockets.get(socket.localPort!)!;
    peer.pause();
    const filler = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 256 && socket.writableLength === 0; i++) {
      socket.write(filler);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(socket.writableLength > 0, "the socket is queueing");
    batcher.beginBurst();
    frame("stalled");
    batcher.endBurst();
    const last = written.at(-1)!;
    assert.equal(String(last), "stalled");
    assert.notEqual(last.buffer, slabBuffer, "a queued write is a copy");
    socket.destroy();
  });

  test("frames that can no longer be written are counted as dropped, not lost silently", async () => {
    const { socket, writes } = await openSocket();
    const batcher = new OutputBatcher(socket);
    batcher.beginBurst();
    batcher.push(Buffer.from("sent"));
    batcher.addAppBytes(4);
    batcher.endBurst();
    socket.end();
    batcher.beginBurst();
    batcher.push(Buffer.from("after end"));
    batcher.addAppBytes(9);
    batcher.endBurst();
    assert.deepEqual(writes.map(String), ["sent"], "nothing is written after the socket ended");
    assert.equal(batcher.droppedBytes, 9);
    await once(socket, "finish");
    // WHATWG bufferedAmount: the dropped message was never transmitted, so it stays counted.
    assert.equal(batcher.pendingAppBytes, 9);
    socket.destroy();
  });
});
