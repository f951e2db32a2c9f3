// What waits to be sent, with permessage-deflate (defects an outside reviewer reproduced after issues 14 and
// 21; repros in /work/review/core/): messages wait for the encoder before their frames reach the socket, and
// bufferedAmount, the slow-consumer rule and a publish's allowance must count them where they are. A raw
// peer offers permessage-deflate and reads only when told; real sockets on 127.0.0.1, ports from the OS.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net, { type Socket } from "node:net";
import { describe, type TestContext, test } from "node:test";
import { Opcode } from "../../src/protocol/constants.js";
import type { CloseEvent, ErrorEvent } from "../../src/web/events.js";
import { parseFrames, type WireFrame } from "../deflate/helpers.js";
import {
  HOST,
  nextConnection,
  nextEvent,
  onMessage,
  openClient,
  sleep,
  startServer,
  waitFor,
} from "../server/helpers.js";

const KIB = 1024;
const MIB = 1024 * KIB;

/** A raw client that offers `extensions` and keeps what it reads as chunks (parsed once, at the end). */
class SilentPeer {
  readonly socket: Socket;
  private readonly chunks: Buffer[] = [];
  bytesRead = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("error", () => {});
  }

  /** Connects, completes the handshake, and stops reading until read() is called. */
  static async open(t: TestContext, port: number, extensions: string): Promise<SilentPeer> {
    const socket = net.connect(port, HOST);
    const peer = new SilentPeer(socket);
    t.after(() => socket.destroy());
    socket.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        `Sec-WebSocket-Extensions: ${extensions}\r\n\r\n`,
    );
    let head = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.pause();
        const status = head.subarray(0, head.indexOf("\r\n")).toString("latin1");
        if (!/^HTTP\/1\.1 101/.test(status) || !head.includes("permessage-deflate")) {
          reject(new Error(`no permessage-deflate: ${head.subarray(0, end).toString("latin1")}`));
        }
        peer.keep(head.subarray(end + 4));
        resolve();
      };
      socket.on("data", onData);
      socket.once("error", reject);
    });
    return peer;
  }

  private keep(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytesRead += chunk.length;
  }

  read(): void {
    this.socket.on("data", (chunk: Buffer) => this.keep(chunk));
    this.socket.resume();
  }

  frames(): WireFrame[] {
    return parseFrames(Buffer.concat(this.chunks)).frames;
  }
}

/** The server side of the next connection: its WebSocket and TCP socket. */
async function accepted(connection: ReturnType<typeof nextConnection>) {
  const [ws, request] = await connection;
  return { ws, socket: request.socket as Socket };
}

/** Polls until `value()` has not changed for `quietMs` (the encoder and the kernel have done what they can). */
async function settled(value: () => number, quietMs = 300, ms = 10_000): Promise<number> {
  let last = value();
  let since = Date.now();
  await waitFor(
    () => {
      const now = value();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    ms,
    "a steady value",
  );
  return last;
}

describe("WHATWG bufferedAmount with permessage-deflate", () => {
  test("regression: it stays at least what still waits in the socket while the peer does not read (was 0 once the first compressed frame was written)", async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: true, maxBufferedBytes: 64 * MIB });
    const connection = nextConnection(server);
    const peer = await SilentPeer.open(t, port, "permessage-deflate");
    const { ws, socket } = await accepted(connection);
    const payload = randomBytes(512 * KIB); // incompressible: as large on the wire
    const messages = 32;
    for (let i = 0; i < messages; i++) ws.send(payload);
    assert.equal(ws.bufferedAmount, messages * payload.length, "every byte counted at send()");
    // The kernel cannot take it all: once the encoder is done, megabytes wait in the socket.
    await waitFor(() => socket.writableLength > 4 * MIB, 10_000, "compressed frames in the socket");
    await waitFor(() => ws.bufferedAmount < messages * payload.length, 10_000, "some bytes to leave");
    // Not yet handed to the kernel: what Node holds, less what libuv has written of the write under way (the
    // kernel's part is transmitted, for bufferedAmount: sent-estimate.ts).
    const internals = socket as unknown as {
      _handle: { writeQueueSize: number };
      _writableState: { writelen: number };
    };
    const unsent = await settled(
      () =>
        socket.writableLength -
        Math.max(0, internals._writableState.writelen - internals._handle.writeQueueSize),
    );
    // A frame is larger than its payload by its header and the stored blocks' 5 bytes each (RFC 1951
    // §3.2.4), a block per 16 KiB or more: well under 1/1000 + 64 bytes.
    const overhead = messages * (payload.length / 1000 + 64);
    assert.ok(
      ws.bufferedAmount >= unsent - overhead,
      `bufferedAmount ${ws.bufferedAmount} < ${unsent} bytes waiting in the socket`,
    );
    peer.read();
    await waitFor(() => ws.bufferedAmount === 0, 20_000, "bufferedAmount to fall to 0 as the peer reads");
    await waitFor(() => peer.bytesRead >= messages * payload.length, 5000, "the peer to read it all");
    assert.equal(peer.frames().length, messages);
  });
});

describe("slow consumers with permessage-deflate", () => {
  test('regression: "close": a peer that never reads is failed with 1008 when a burst waits for the encoder (was never cut off)', async (t) => {
    const { server, port } = await startServer(t, { perMessageDeflate: true, maxBufferedBytes: 1 * MIB });
    const connection = nextConnection(server);
    const peer = await SilentPeer.open(t, port, "permessage-deflate");
    const { ws, socket } = await accepted(connection);
    const events: string[] = [];
    ws.addEventListener("error", (event) => events.push(`error ${(event as ErrorEvent).error?.code}`));
    const closed = nextEvent<CloseEvent>(ws, "close", 10_000);
    const payload = randomBytes(256 * KIB);
    for (let i = 0; i < 64; i++) if (ws.readyState === ws.OPEN) ws.send(payload);
    const event = await closed;
    assert.equal(event.code, 1006, "failed, not closed cleanly");
    assert.deepEqual(events, ["error SJ_ERR_SLOW_CONSUMER"]);
    // Memory stayed within maxBufferedBytes + one message: the rest of the burst was refused.
    assert.ok(socket.writableLength <= 1 * MIB + 2 * payload.length, `${socket.writableLength} bytes waited`);
    peer.read();
    await waitFor(
      () => peer.frames().some((f) => f.opcode === Opcode.Close) || socket.destroyed,
      5000,
      "the end",
    );
  });

  test('"pause": a burst that waits for the encoder pauses input, and input resumes once it is written (no stall)', async (t) => {
    const { server, url } = await startServer(t, {
      perMessageDeflate: true,
      slowConsumer: "pause",
      maxBufferedBytes: 256 * KIB,
    });
    const connection = nextConnection(server);
    const client = await openClient(t, url);
    assert.match(client.extensions, /permessage-deflate/);
    const { ws } = await accepted(connection);
    const payload = randomBytes(256 * KIB);
    onMessage(ws, (data) => {
      if (data === "burst") for (let i = 0; i < 16; i++) ws.send(payload);
      else ws.send(`echo ${data}`);
    });
    let burst = 0;
    const echo = new Promise<string>((resolve) =>
      onMessage(client, (data) => {
        if (typeof data === "string") resolve(data);
        else burst++;
      }),
    );
    client.send("burst");
    // Sent once the burst is under way, so that it arrives while input is paused.
    await nextEvent(client, "message", 10_000);
    client.send("after the burst");
    const closedFirst = nextEvent(client, "close", 20_000).then(() => "closed");
    assert.equal(await Promise.race([echo, closedFirst]), "echo after the burst");
    assert.equal(burst, 16);
  });
});

describe("the allowance beyond the largest message, for a topic publish with permessage-deflate", () => {
  test("regression: a 2-byte publish while most of a 12 MiB message waits does not reset it (was 1008 to a healthy reader)", async (t) => {
    const { server, port } = await startServer(t, {
      perMessageDeflate: true,
      maxBufferedBytes: 4 * MIB,
      maxPayloadBytes: 16 * MIB,
    });
    const connection = nextConnection(server);
    const peer = await SilentPeer.open(t, port, "permessage-deflate; client_no_context_takeover");
    const { ws, socket } = await accepted(connection);
    const events: string[] = [];
    ws.addEventListener("error", (event) => events.push(`error ${(event as ErrorEvent).error?.code}`));
    ws.addEventListener("close", (event) => events.push(`close ${(event as CloseEvent).code}`));
    ws.subscribe("t");
    const message = randomBytes(12 * MIB); // incompressible: ~12 MiB on the wire
    ws.send(message);
    // Compressed and in the socket, most of it unread.
    await waitFor(() => socket.writableLength > 4 * MIB, 10_000, "the compressed message in the socket");
    await settled(() => socket.writableLength);
    server.publish("t", "hi");
    await sleep(50);
    peer.read();
    await waitFor(() => peer.bytesRead >= message.length + 2, 20_000, "the peer to read both messages");
    await waitFor(() => peer.frames().length >= 2, 5000, "both frames");
    const frames = peer.frames();
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [Opcode.Binary, Opcode.Text],
    );
    assert.deepEqual(events, []);
  });
});
