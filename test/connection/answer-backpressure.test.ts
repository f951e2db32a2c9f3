// Answers to the peer obey backpressure (issue 14, item 7): a peer that sends 100,000 pings and never reads
// the pongs must not grow our output without bound. While the pongs we owe exceed MAX_UNSENT_ANSWER_BYTES the
// connection stops reading from that socket, and it reads again once they drain. On real sockets, both roles:
// a raw TCP peer floods pings (125-byte payloads) without reading, our socket's unsent bytes are sampled, then
// the peer reads and must get every pong, in order.

import assert from "node:assert/strict";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { MAX_UNSENT_ANSWER_BYTES } from "../../src/connection/backpressure-limits.js";
import { Connection } from "../../src/connection/connection.js";
import { LARGE_READ_SIZE } from "../../src/connection/large-reads.js";
import { Opcode } from "../../src/protocol/constants.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { parseFrames, RawPeer, until, type WireFrame, wireFrame, within } from "../deflate/helpers.js";

const PINGS = 100_000;
const PAYLOAD_BYTES = 125;

/** 100,000 pings, each payload carrying its index, as one buffer. */
function pingFlood(masked: boolean): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < PINGS; i++) {
    const payload = Buffer.alloc(PAYLOAD_BYTES, 0x61);
    payload.writeUInt32BE(i, 0);
    frames.push(wireFrame({ opcode: Opcode.Ping, payload, masked }));
  }
  return Buffer.concat(frames);
}

/**
 * The most our unsent output may hold: the bound, plus the pongs that answer one read (a read hands over up
 * to LARGE_READ_SIZE: the check runs after each read), with their headers (a client's pong is masked: 6 bytes).
 */
const ALLOWED_UNSENT =
  MAX_UNSENT_ANSWER_BYTES + Math.ceil(LARGE_READ_SIZE / (2 + PAYLOAD_BYTES)) * (6 + PAYLOAD_BYTES);

/**
 * Samples `unsent()` until `progress()` stops increasing for 300 ms (reading is paused, or all has been
 * read); returns the largest sample and the progress by then.
 */
async function watchWhileFlooded(unsent: () => number, progress: () => number) {
  let largest = 0;
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    largest = Math.max(largest, unsent());
    const now = progress();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 300) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { largest, handledWhilePaused: last };
}

function assertPongsInOrder(frames: WireFrame[]): void {
  const pongs = frames.filter((f) => f.opcode === Opcode.Pong);
  assert.equal(pongs.length, PINGS);
  for (let i = 0; i < PINGS; i += 997) {
    assert.equal(pongs[i].payload.length, PAYLOAD_BYTES);
    assert.equal(pongs[i].payload.readUInt32BE(0), i, `pong ${i} answers ping ${i}`);
  }
}

describe("RFC 6455 §5.5.2 pongs obey backpressure: a peer that floods pings and never reads", () => {
  test("client: our unsent pongs stay within the bound; every pong goes out once the server reads", async (t) => {
    const frames: WireFrame[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let peer: net.Socket | null = null;
    const flooder = net.createServer((socket) => {
      peer = socket;
      socket.pause();
      socket.on("data", (chunk: Buffer) => {
        const parsed = parseFrames(Buffer.concat([pending, chunk]));
        frames.push(...parsed.frames);
        pending = parsed.rest;
      });
      socket.on("error", () => {});
      socket.write(pingFlood(false));
    });
    flooder.listen(0, "127.0.0.1");
    await once(flooder, "listening");
    const socket = net.connect((flooder.address() as AddressInfo).port, "127.0.0.1");
    t.after(() => {
      socket.destroy();
      peer?.destroy();
      flooder.close();
    });
    await once(socket, "connect");
    let pings = 0;
    const connection = new Connection(
      socket,
      { role: "client" },
      {
        onMessage() {},
        onPing: () => pings++,
        onPong() {},
        onClosing() {},
        onClosed() {},
      },
    );
    const { largest, handledWhilePaused } = await watchWhileFlooded(
      () => socket.writableLength,
      () => pings,
    );
    assert.ok(handledWhilePaused < PINGS, "reading stopped while the pongs could not leave");
    assert.ok(largest <= ALLOWED_UNSENT, `unsent bytes peaked at ${largest}, over ${ALLOWED_UNSENT}`);
    // The server reads at last: reading resumes and every ping is answered, in order.
    peer!.resume();
    await until(() => frames.length >= PINGS, 30_000, "every pong");
    assert.equal(pings, PINGS);
    assertPongsInOrder(frames);
    connection.terminate();
  });

  test("server: our unsent pongs stay within the bound; every pong goes out once the client reads", async (t) => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await once(server, "listening");
    t.after(() => server.close());
    let serverSocket: net.Socket | null = null;
    server.on("connection", (_socket: WebSocket, request) => {
      serverSocket = request.socket as net.Socket;
    });
    const peer = await RawPeer.connect((server.address() as AddressInfo).port, null);
    t.after(() => peer.destroy());
    await until(() => serverSocket !== null, 5000, "the server's socket");
    peer.socket.pause();
    peer.socket.write(pingFlood(true));
    // How far the server got, seen from outside: the bytes it has read off the socket.
    const flood = PINGS * (2 + 4 + PAYLOAD_BYTES);
    const { largest, handledWhilePaused } = await watchWhileFlooded(
      () => serverSocket!.writableLength,
      () => serverSocket!.bytesRead,
    );
    assert.ok(handledWhilePaused < flood, "reading stopped while the pongs could not leave");
    assert.ok(largest <= ALLOWED_UNSENT, `unsent bytes peaked at ${largest}, over ${ALLOWED_UNSENT}`);
    peer.socket.resume();
    await until(() => peer.frames.length >= PINGS, 30_000, "every pong");
    assertPongsInOrder(peer.frames);
    const closed = within(once(peer.socket, "close"), 5000, "close");
    peer.destroy();
    await closed;
  });
});
