import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net, { type AddressInfo, type Socket } from "node:net";
import { describe, it } from "node:test";
import {
  LARGE_READ_SIZE,
  OWN_READ_BUFFERS,
  OWN_READ_MIN,
  ownReadBuffers,
} from "../../src/connection/large-reads.js";
import type { MessageEvent } from "../../src/index.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  clientFrame,
  defer,
  HOST,
  nextConnection,
  OP,
  RawClient,
  startServer,
  upgradeRequest,
  waitFor,
} from "./helpers.js";
import { assertOwnBytes, burstInto, sha256, upgraded } from "./large-read-helpers.js";

// A socket whose read filled OWN_READ_MIN bytes or more reads next into a buffer of its own, and a read of
// that size is handed on in it without a copy (src/connection/large-reads.ts). These tests fail if a buffer
// handed on is read into again (a message's bytes change), if a read handed on leaves more than half of its
// buffer spare, if more than OWN_READ_BUFFERS sockets hold one, and if one is not given back by a short read or
// a close (a pause: test/server/large-reads.test.ts).

/** 3 MiB in 100,000-byte messages: every read of a burst fills the 256 KiB read buffer. */
const streamPayloads = () => Array.from({ length: 30 }, () => randomBytes(100_000));

describe("a socket reading large bursts reads into a buffer of its own", () => {
  it("holds it while it streams, keeps every message's bytes, and gives the buffer back", async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: false });
    const { client, accepted } = await upgraded(t, port, nextConnection(server));
    const [socket, request] = accepted;
    const serverSocket = request.socket as Socket;
    // A read handed on in its own read buffer shorter than that buffer is a view of it (a copy has exactly its
    // size): never one shorter than OWN_READ_MIN, so at most half of the buffer is spare.
    const views: number[] = [];
    serverSocket.on("data", (chunk: Buffer) => {
      if (chunk.buffer.byteLength !== chunk.length) views.push(chunk.length);
    });
    let mostHeld = 0;
    socket.addEventListener("message", () => {
      mostHeld = Math.max(mostHeld, ownReadBuffers());
    });
    const payloads = streamPayloads();
    const { received, hashesOnArrival } = await burstInto(client, socket, serverSocket, payloads);
    assertOwnBytes(payloads, received, hashesOnArrival);
    for (const size of views) {
      assert.ok(
        size >= OWN_READ_MIN,
        `a read of ${size} bytes was handed on in a ${LARGE_READ_SIZE}-byte buffer`,
      );
    }
    assert.equal(mostHeld, 1, "while it streamed, the socket held a read buffer of its own");
    // A short read sends the socket back to the shared buffer: idle, it holds none of its own.
    client.write(clientFrame(OP.binary, Buffer.from("short")));
    await waitFor(() => received.length === payloads.length + 1, 5000, "the short message");
    assert.equal(ownReadBuffers(), 0);
  });

  it("two sockets streaming at once each keep their own bytes", async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: false });
    const first = await upgraded(t, port, nextConnection(server));
    const second = await upgraded(t, port, nextConnection(server));
    const a = streamPayloads();
    const b = streamPayloads();
    const [resultA, resultB] = await Promise.all([
      burstInto(first.client, first.accepted[0], first.accepted[1].socket as Socket, a),
      burstInto(second.client, second.accepted[0], second.accepted[1].socket as Socket, b),
    ]);
    assertOwnBytes(a, resultA.received, resultA.hashesOnArrival);
    assertOwnBytes(b, resultB.received, resultB.hashesOnArrival);
  });

  it(`at most ${OWN_READ_BUFFERS} sockets hold one, and a closed socket's is given back`, async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: false });
    const count = OWN_READ_BUFFERS * 1.5;
    let delivered = 0;
    let mostHeld = 0;
    const hashes = new Map<string, number>();
    server.on("connection", (ws) => {
      ws.binaryType = "nodebuffer";
      ws.addEventListener("message", (event) => {
        delivered++;
        mostHeld = Math.max(mostHeld, ownReadBuffers());
        const digest = sha256((event as MessageEvent).data as Buffer);
        hashes.set(digest, (hashes.get(digest) ?? 0) + 1);
      });
    });
    const clients: RawClient[] = [];
    for (let i = 0; i < count; i++) {
      const client = await RawClient.connect(t, port);
      client.write(upgradeRequest());
      assert.equal((await client.readHead()).status, 101);
      clients.push(client);
    }
    // One 500 KB message from each, all at once while the server's loop is held: each socket's last read is
    // a large one (measured: 256 KiB, then the rest), after which it would go on holding a buffer of its own.
    const payload = randomBytes(500_000);
    const frame = clientFrame(OP.binary, payload);
    for (const client of clients) client.write(frame);
    const until = Date.now() + 300;
    while (Date.now() < until);
    await waitFor(() => delivered === count, 30_000, "every message");
    assert.deepEqual([...hashes], [[sha256(payload), count]], "every message kept its bytes");
    assert.ok(
      mostHeld >= 1 && mostHeld <= OWN_READ_BUFFERS,
      `${mostHeld} sockets held a read buffer of their own`,
    );
    for (const client of clients) client.socket.destroy();
    await waitFor(() => server.clients.size === 0, 10_000, "every connection to close");
    assert.equal(ownReadBuffers(), 0);
  });

  it("a client socket made after another socket's large read starts on the shared buffer", async (t) => {
    // An outside review: Node asks for a new client socket's first read buffer when it sets the socket up, and
    // it got the buffer chosen for the server socket that had read last (its own), so both read into it.
    const { server, port } = await startServer(t, { perMessageDeflate: false });
    const { client, accepted } = await upgraded(t, port, nextConnection(server));
    const [socket] = accepted;
    socket.binaryType = "nodebuffer";
    const kept: Buffer[] = [];
    const hashes: string[] = [];
    socket.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data as Buffer;
      kept.push(data);
      hashes.push(sha256(data));
    });
    const hold = (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until);
    };
    // One frame of exactly two full reads (a 14-byte header): the second goes into the socket's own buffer, and
    // the socket is left holding a fresh one for its next read. On a loaded machine the frame can arrive in
    // smaller pieces, whose last read leaves the socket on the shared buffer: sent again then (at most 5 times).
    for (let attempt = 1; ; attempt++) {
      client.write(clientFrame(OP.binary, randomBytes(2 * LARGE_READ_SIZE - 14)));
      hold(150);
      await waitFor(() => kept.length === attempt, 10_000, "the first message");
      if (ownReadBuffers() === 1 || attempt === 5) break;
    }
    assert.equal(ownReadBuffers(), 1, "the server's socket holds a read buffer of its own");
    // Now a client connects to a plain TCP server of the test's.
    const peers: net.Socket[] = [];
    const tcp = net.createServer((peer) => {
      peer.on("error", () => {});
      peers.push(peer);
    });
    defer(t, () => {
      for (const peer of peers) peer.destroy();
      tcp.close();
    });
    await new Promise<void>((resolve) => tcp.listen(0, HOST, resolve));
    const ws = new WebSocket(`ws://${HOST}:${(tcp.address() as AddressInfo).port}/`);
    ws.addEventListener("error", () => {});
    defer(t, () => ws.terminate());
    await waitFor(() => peers.length === 1, 5000, "the client to connect");
    // The server's socket reads a burst into its own buffer: messages handed on in it, not copied.
    const burst = streamPayloads();
    const before = kept.length;
    client.write(Buffer.concat(burst.map((p) => clientFrame(OP.binary, p))));
    hold(150);
    await waitFor(() => kept.length === before + burst.length, 10_000, "the burst");
    // The client's first read: 200 KiB, which must not land in the server socket's buffer.
    peers[0].write(Buffer.alloc(200 * 1024, 0xee));
    await waitFor(() => peers[0].destroyed || ws.readyState === WebSocket.CLOSED, 5000, "the client to fail");
    for (let i = 0; i < kept.length; i++) assert.equal(sha256(kept[i]), hashes[i], `message ${i} changed`);
    client.socket.destroy();
    await waitFor(() => server.clients.size === 0, 5000, "the server's connection to close");
    assert.equal(ownReadBuffers(), 0);
  });
});
