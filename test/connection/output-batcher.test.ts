// OutputBatcher on a real TCP socket: which frames leave in which write() call, and that every byte arrives
// in order. The socket's write is observed (and still performed) to see the batching.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { OutputBatcher } from "../../src/connection/output-batcher.js";

let server: Server;
let received: Buffer[] = [];

before(async () => {
  server = createServer((peer) => peer.on("data", (chunk) => received.push(chunk)));
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

  test("eagerFirstWrite: the first frame of a burst leaves at once, the rest together (clients)", async () => {
    const { socket, writes } = await openSocket();
    const batcher = new OutputBatcher(socket, true);
    for (let burst = 0; burst < 2; burst++) {
      batcher.beginBurst();
      for (const frame of frames) batcher.push(frame);
      batcher.endBurst();
    }
    assert.deepEqual(writes.map(String), ["first", "secondthird", "first", "secondthird"]);
    assert.equal(String(await allReceived(socket, 32)), "firstsecondthird".repeat(2));
  });

  test("sends outside a burst are joined until the end of the microtask queue, eager or not", async () => {
    for (const eager of [false, true]) {
      const { socket, writes } = await openSocket();
      const batcher = new OutputBatcher(socket, eager);
      for (const frame of frames) batcher.push(frame);
      assert.equal(writes.length, 0);
      await Promise.resolve();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(writes.map(String), ["firstsecondthird"]);
      assert.equal(String(await allReceived(socket, 16)), "firstsecondthird");
    }
  });
});
