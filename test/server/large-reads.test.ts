import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, it } from "node:test";
import { LARGE_READ_SIZE, ownReadBuffers } from "../../src/connection/large-reads.js";
import type { MessageEvent } from "../../src/index.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { WebSocket } from "../../src/web/websocket.js";
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
import {
  assertOwnBytes,
  burstInto,
  mixedPayloads,
  NODE_READ_SIZE,
  sha256,
  upgraded,
} from "./large-read-helpers.js";

// A server's connections read up to LARGE_READ_SIZE bytes per system call through one buffer shared by every
// socket (src/connection/large-reads.ts), where Node's own reads of the sockets it accepts stop at 64 KiB.
// Node offers no option for that on accepted sockets, so large-reads.ts sets what `net.connect({ onread })`
// sets; these tests fail if a Node version no longer honours it (the reads would stay at 64 KiB) and if a
// message handed on shares bytes with a later read.

/** A burst into the server: more than Node's 64 KiB arrives in one read, and every message keeps its bytes. */
async function assertLargeReadsKeepBytes(client: RawClient, socket: WebSocket, serverSocket: Socket) {
  const payloads = mixedPayloads();
  const { largestRead, received, hashesOnArrival } = await burstInto(client, socket, serverSocket, payloads);
  assert.ok(largestRead > NODE_READ_SIZE, `the largest read was ${largestRead} bytes (Node's own: 64 KiB)`);
  assert.ok(largestRead <= LARGE_READ_SIZE, `a read of ${largestRead} bytes`);
  assertOwnBytes(payloads, received, hashesOnArrival);
}

describe("a server reads through the shared large read buffer", () => {
  it("a socket it accepted reads more than 64 KiB at once, and each message keeps its own bytes", async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: false });
    const { client, accepted } = await upgraded(t, port, nextConnection(server));
    const [socket, request] = accepted;
    await assertLargeReadsKeepBytes(client, socket, request.socket);
  });

  it("so does a socket handed over by an http server of the application's (noServer, handleUpgrade)", async (t) => {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const http = createServer();
    defer(t, () => new Promise((resolve) => http.close(resolve)));
    defer(t, () => {
      for (const ws of wss.clients) ws.terminate();
    });
    const handedOver = new Promise<[WebSocket, IncomingMessage]>((resolve) => {
      http.on("upgrade", (request, socket, head) => {
        wss.handleUpgrade(request, socket, head, (ws) => resolve([ws, request]));
      });
    });
    http.listen(0, HOST);
    await once(http, "listening");
    const { client, accepted } = await upgraded(t, (http.address() as AddressInfo).port, handedOver);
    const [socket, request] = accepted;
    await assertLargeReadsKeepBytes(client, socket, request.socket);
  });

  it("a small message kept by the application keeps only its read alive, not a shared pool", async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: false });
    const { client, accepted } = await upgraded(t, port, nextConnection(server));
    const [socket] = accepted;
    socket.binaryType = "nodebuffer";
    const kept: Buffer[] = [];
    socket.addEventListener("message", (event) => kept.push((event as MessageEvent).data as Buffer));
    for (let i = 0; i < 3; i++) {
      client.write(clientFrame(OP.binary, Buffer.from(`message ${i}`)));
      await waitFor(() => kept.length === i + 1, 5000, `message ${i}`);
    }
    for (const [i, data] of kept.entries()) {
      assert.equal(data.toString(), `message ${i}`);
      // Its read alone: a 6-byte header and 9 bytes (Node's Buffer pool is 8 KiB).
      assert.ok(data.buffer.byteLength <= 64, `message ${i} keeps ${data.buffer.byteLength} bytes alive`);
    }
  });

  it("a socket paused by backpressure holds one small read, resumes, and the echoes come back whole, in order", async (t) => {
    // The server echoes into a peer that does not read: its input pauses (slowConsumer "pause"), and reading
    // starts again once the peer reads.
    const { server, port } = await startServer(t, {
      perMessageDeflate: false,
      maxBufferedBytes: 256 * 1024,
      slowConsumer: "pause",
    });
    let serverSocket: Socket | null = null;
    server.on("connection", (ws, request) => {
      serverSocket = request.socket as Socket;
      ws.binaryType = "nodebuffer";
      ws.addEventListener("message", (event) => ws.send((event as MessageEvent).data as Buffer));
    });
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest());
    assert.equal((await client.readHead()).status, 101);
    client.socket.pause();
    const payloads = Array.from({ length: 200 }, (_, i) => randomBytes(i % 2 === 0 ? 100_000 : 33));
    client.write(Buffer.concat(payloads.map((p) => clientFrame(OP.binary, p))));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Paused, Node reads once more into the socket's own buffer: 16 KiB then, not a whole 256 KiB read.
    assert.ok(serverSocket !== null && (serverSocket as Socket).isPaused(), "the server stopped reading");
    const waiting = (serverSocket as unknown as Socket).readableLength;
    assert.ok(waiting <= 16 * 1024, `${waiting} bytes wait in the paused socket`);
    // Its large reads had it read into a buffer of its own: paused, it gives that back.
    assert.equal(ownReadBuffers(), 0, "the paused socket holds a read buffer of its own");
    client.socket.resume();
    for (let i = 0; i < payloads.length; i++) {
      const frame = await client.readFrame(20_000);
      assert.equal(frame.opcode, OP.binary, `echo ${i}: opcode`);
      assert.equal(sha256(frame.payload), sha256(payloads[i]), `echo ${i}: bytes`);
    }
  });
});
