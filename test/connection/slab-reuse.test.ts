// The shared slab that small frames are built in is reused once full (issue 17), but never while bytes of it
// can still be read: by a write the kernel did not take at once (libuv keeps a pointer into the slab), or
// by another connection's batch that waits for its flush. Real TCP sockets on 127.0.0.1; every byte is
// checked at the receiving end.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { OutputBatcher } from "../../src/connection/output-batcher.js";

let server: Server;
/** What each peer received, by the client's port; the peer sockets, to pause and resume them. */
const received = new Map<number, Buffer[]>();
const peers = new Map<number, Socket>();

before(async () => {
  server = createServer((peer) => {
    const mine: Buffer[] = [];
    received.set(peer.remotePort!, mine);
    peers.set(peer.remotePort!, peer);
    peer.on("data", (chunk) => mine.push(chunk));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
});

after(() => {
  // A failed assertion leaves its sockets open: close them, or the file would never end.
  for (const peer of peers.values()) peer.destroy();
  server.close();
});

async function open(): Promise<Socket> {
  const { port } = server.address() as { port: number };
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  for (let i = 0; i < 100 && !peers.has(socket.localPort!); i++) await new Promise((r) => setTimeout(r, 5));
  return socket;
}

/** Frame bytes that tell where they belong: `tag`, then a running count. */
function frameBytes(tag: number, seq: number, size: number): Buffer {
  const bytes = Buffer.alloc(size, (tag * 37 + seq) & 0xff);
  bytes[0] = tag;
  bytes.writeUInt32BE(seq, 1);
  return bytes;
}

/** Builds `bytes` in the slab through reserve/commit, as the frame writer does. */
function sendInSlab(batcher: OutputBatcher, bytes: Buffer): void {
  const room = batcher.reserve(bytes.length);
  assert.ok(room !== null);
  bytes.copy(room, batcher.reservedAt);
  batcher.commit(bytes.length);
}

async function receivedAll(socket: Socket, want: Buffer): Promise<Buffer> {
  const chunks = received.get(socket.localPort!)!;
  for (let i = 0; i < 1000 && Buffer.concat(chunks).length < want.length; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return Buffer.concat(chunks);
}

/** Asserts that `socket`'s peer received exactly `frames`, in order. */
async function assertReceived(socket: Socket, frames: Buffer[], label: string): Promise<void> {
  const want = Buffer.concat(frames);
  const got = await receivedAll(socket, want);
  assert.equal(got.length, want.length, label);
  assert.ok(got.equals(want), label);
}

/**
 * One connection's bursts of `frames` frames each (frame i: `size(i)` bytes, built in the slab or pushed by
 * reference per `inSlab(i)`), the peer let read every few bursts as a real echo's peer does: every byte arrives.
 */
async function burstsArriveWhole(plan: {
  tag: number;
  bursts: number;
  frames: number;
  size: (i: number) => number;
  inSlab: (i: number) => boolean;
}): Promise<void> {
  const socket = await open();
  const batcher = new OutputBatcher(socket);
  const want: Buffer[] = [];
  let seq = 0;
  for (let burst = 0; burst < plan.bursts; burst++) {
    batcher.beginBurst();
    for (let i = 0; i < plan.frames; i++) {
      const bytes = frameBytes(plan.tag, seq++, plan.size(i));
      if (plan.inSlab(i)) sendInSlab(batcher, bytes);
      else batcher.push(bytes);
      want.push(bytes);
    }
    batcher.endBurst();
    if (burst % 8 === 7) await new Promise((r) => setImmediate(r));
  }
  await assertReceived(socket, want, "every byte, in order");
  socket.destroy();
}

/** Two connections, the peer of `stalled` not reading; a batcher each (`slow`, `fast`). */
async function stalledAndBusy() {
  const stalled = await open();
  const busy = await open();
  peers.get(stalled.localPort!)!.pause();
  return { stalled, busy, slow: new OutputBatcher(stalled), fast: new OutputBatcher(busy) };
}

describe("the shared slab of small frames", () => {
  test("bytes a stalled peer's socket still holds are not overwritten when the slab fills again", async () => {
    const { stalled, busy, slow, fast } = await stalledAndBusy();
    const wantSlow: Buffer[] = [];
    const wantFast: Buffer[] = [];
    // Bursts of 15 KiB to the stalled peer until the kernel stops taking them at once: the last write is
    // left (partly) to libuv, pointing into the slab. Bounded: loopback buffers are a few MiB.
    let seq = 0;
    for (let burst = 0; burst < 4000 && stalled.writableLength === 0; burst++) {
      slow.beginBurst();
      for (let i = 0; i < 15; i++) {
        const bytes = frameBytes(1, seq++, 1024);
        sendInSlab(slow, bytes);
        wantSlow.push(bytes);
      }
      slow.endBurst();
    }
    assert.ok(stalled.writableLength > 0, "the stalled socket has bytes waiting");
    // Another connection fills the slab several times over meanwhile.
    for (let burst = 0; burst < 40; burst++) {
      fast.beginBurst();
      for (let i = 0; i < 15; i++) {
        const bytes = frameBytes(2, burst * 15 + i, 1000);
        sendInSlab(fast, bytes);
        wantFast.push(bytes);
      }
      fast.endBurst();
    }
    peers.get(stalled.localPort!)!.resume();
    await assertReceived(stalled, wantSlow, "the stalled peer got every byte as sent");
    await assertReceived(busy, wantFast, "the busy peer got every byte as sent");
    stalled.destroy();
    busy.destroy();
  });

  test("frames another connection sent outside a burst, waiting for their flush, survive the slab's refill", async () => {
    const waiter = await open();
    const bursty = await open();
    const waiting = new OutputBatcher(waiter);
    const bursting = new OutputBatcher(bursty);
    const wantWaiting: Buffer[] = [];
    const wantBursting: Buffer[] = [];
    for (let round = 0; round < 8; round++) {
      // Sent outside a burst: joined until the end of the microtask queue.
      for (let i = 0; i < 4; i++) {
        const bytes = frameBytes(3, round * 4 + i, 700);
        sendInSlab(waiting, bytes);
        wantWaiting.push(bytes);
      }
      // Meanwhile (same task) a read burst of another connection fills more than a whole slab.
      bursting.beginBurst();
      for (let i = 0; i < 80; i++) {
        const bytes = frameBytes(4, round * 80 + i, 1000);
        sendInSlab(bursting, bytes);
        wantBursting.push(bytes);
      }
      bursting.endBurst();
      await new Promise((r) => setImmediate(r));
    }
    await assertReceived(waiter, wantWaiting, "the waiting batch's frames arrived intact");
    await assertReceived(bursty, wantBursting, "the bursting connection's frames arrived intact");
    waiter.destroy();
    bursty.destroy();
  });

  test("one connection's bursts reuse the slab: every byte arrives, in order, across many refills", async () => {
    // 16 frames of 1028 B: 16,448 B per burst, so runs straddle the slab's end.
    await burstsArriveWhole({ tag: 5, bursts: 200, frames: 16, size: () => 1028, inSlab: () => true });
  });
});

// A batch of several chunks (frames shared by a fan-out's subscribers, pushed by reference) is joined for its
// write in a slab that the next join starts over, unless a write left some of it queued.
describe("the slab that batches of several chunks are joined in", () => {
  /** A batch of `count` chunks of `size` pushed by reference, as a fan-out's shared frames are. */
  function pushBatch(
    batcher: OutputBatcher,
    tag: number,
    first: number,
    count: number,
    size: number,
  ): Buffer[] {
    const frames: Buffer[] = [];
    batcher.beginBurst();
    for (let i = 0; i < count; i++) {
      const bytes = frameBytes(tag, first + i, size);
      batcher.push(bytes);
      frames.push(bytes);
    }
    batcher.endBurst();
    return frames;
  }

  // 64 × 200 B: 12.8 KB, under the join limit; 48 × 1 KiB: 48 KiB, joined for its small chunks; 150 × 1 KiB:
  // larger than the join slab, joined a slab at a time while the kernel takes each.
  for (const [count, size] of [
    [64, 200],
    [48, 1024],
    [150, 1024],
  ]) {
    test(`a stalled peer's queued join is not overwritten by the joins of other connections (${count} × ${size} B)`, async () => {
      const { stalled, busy, slow, fast } = await stalledAndBusy();
      const wantSlow: Buffer[] = [];
      const wantFast: Buffer[] = [];
      let seq = 0;
      // Joins until the kernel stops taking them at once.
      for (let batch = 0; batch < 4000 && stalled.writableLength === 0; batch++) {
        wantSlow.push(...pushBatch(slow, 6, seq, count, size));
        seq += count;
      }
      assert.ok(stalled.writableLength > 0, "the stalled socket has bytes waiting");
      // More joins to the stalled peer (queued behind: joined apart) and many to another connection.
      wantSlow.push(...pushBatch(slow, 6, seq, count, size));
      for (let batch = 0; batch < 50; batch++)
        wantFast.push(...pushBatch(fast, 7, batch * count, count, size));
      peers.get(stalled.localPort!)!.resume();
      await assertReceived(stalled, wantSlow, "the stalled peer got every byte as sent");
      await assertReceived(busy, wantFast, "the busy peer got every byte as sent");
      stalled.destroy();
      busy.destroy();
    });
  }

  test("a batch mixing frames built in the small-frame slab and pushed ones arrives whole, batch after batch", async () => {
    await burstsArriveWhole({
      tag: 8,
      bursts: 300,
      frames: 12,
      size: (i) => 500 + i,
      inSlab: (i) => i % 3 === 0,
    });
  });
});
