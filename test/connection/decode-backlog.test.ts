// While a compressed message is being inflated, parsing waits (events keep the wire's order), and what
// arrives meanwhile waits in the parser. An outside reviewer found that the socket went on reading all the
// while: a peer could park any amount there (256 MiB seen) behind one message that is slow to inflate, out of
// the rate limiter's and the pong bound's sight (repros in /work/review/core/decode-backlog*.mjs). Now input
// pauses once MAX_DECODE_BACKLOG_BYTES wait, and resumes when the decoder settles. Both roles, real sockets.

import assert from "node:assert/strict";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { MAX_DECODE_BACKLOG_BYTES } from "../../src/connection/backpressure-limits.js";
import { Connection } from "../../src/connection/connection.js";
import { LARGE_READ_SIZE } from "../../src/connection/large-reads.js";
import { Opcode } from "../../src/protocol/constants.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { CloseEvent, MessageEvent } from "../../src/web/events.js";
import { codec, RawPeer, referenceCompress, until, wireFrame, within } from "../deflate/helpers.js";

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * What may wait unparsed when it is measured: the bound, plus the read that crossed it (at most
 * LARGE_READ_SIZE), plus the rest of the read being parsed when a message event fires (as much again).
 */
const ALLOWED_UNPARSED = MAX_DECODE_BACKLOG_BYTES + 2 * LARGE_READ_SIZE;

/** A compressed message of `inflated` zero bytes: a few KiB on the wire, slow to inflate. */
function bomb(inflated: number, masked: boolean): Buffer {
  return wireFrame({
    opcode: Opcode.Binary,
    payload: referenceCompress(Buffer.alloc(inflated)),
    rsv1: true,
    masked,
  });
}

describe("input pauses while a compressed message is inflated and too much waits behind it", () => {
  test("regression: server: a peer streaming plain messages behind compressed ones leaves at most the bound unparsed (was everything it sent meanwhile)", async (t) => {
    const server = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      perMessageDeflate: true,
      maxPayloadBytes: 64 * MIB,
    });
    await once(server, "listening");
    t.after(() => server.close());
    const bombs = 3;
    const inflated = 48 * MIB;
    const compressed = bomb(inflated, true);
    const junk = wireFrame({
      opcode: Opcode.Binary,
      payload: Buffer.alloc(64 * KIB - 14, 0x6a),
      masked: true,
    });
    const junkPerBomb = 128; // 8 MiB
    let largestUnparsed = 0;
    let messages = 0;
    const closed = new Promise<number>((resolve) => {
      server.on("connection", (ws, request) => {
        const socket = request.socket;
        // The request head was read before; from here on every byte read is a frame.
        const start = socket.bytesRead;
        let consumed = 0;
        ws.binaryType = "arraybuffer";
        ws.onmessage = (event: MessageEvent) => {
          messages++;
          const size = (event.data as ArrayBuffer).byteLength;
          consumed += size === inflated ? compressed.length : junk.length;
          largestUnparsed = Math.max(largestUnparsed, socket.bytesRead - start - consumed);
        };
        ws.onclose = (event: CloseEvent) => resolve(event.code);
      });
    });
    const peer = await RawPeer.connect((server.address() as AddressInfo).port, "permessage-deflate");
    t.after(() => peer.destroy());
    assert.match(peer.header("sec-websocket-extensions") ?? "", /permessage-deflate/);
    for (let i = 0; i < bombs; i++) {
      peer.socket.write(compressed);
      for (let j = 0; j < junkPerBomb; j++) peer.socket.write(junk);
    }
    peer.send({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) });
    assert.equal(await within(closed, 60_000, "the close event"), 1000);
    assert.equal(messages, bombs * (1 + junkPerBomb), "every message delivered");
    assert.ok(
      largestUnparsed <= ALLOWED_UNPARSED,
      `${largestUnparsed} bytes waited unparsed (bound ${ALLOWED_UNPARSED})`,
    );
  });

  test("regression: client: pongs streamed behind compressed messages leave at most the bound unparsed (was all of them)", async (t) => {
    const rounds = 40;
    const inflated = 4 * MIB;
    const compressed = bomb(inflated, false);
    // 125-byte unsolicited pongs (RFC 6455 §5.5.3), 1 MiB of them after each compressed message.
    const pong = wireFrame({ opcode: Opcode.Pong, payload: Buffer.alloc(125), masked: false });
    const pongs = Buffer.concat(Array.from({ length: Math.ceil(MIB / pong.length) }, () => pong));
    let serverSide: net.Socket | null = null;
    const sender = net.createServer((socket) => {
      serverSide = socket;
      socket.on("error", () => {});
      for (let i = 0; i < rounds; i++) {
        socket.write(compressed);
        socket.write(pongs);
      }
    });
    sender.listen(0, "127.0.0.1");
    await once(sender, "listening");
    const socket = net.connect((sender.address() as AddressInfo).port, "127.0.0.1");
    t.after(() => {
      socket.destroy();
      serverSide?.destroy();
      sender.close();
    });
    await once(socket, "connect");
    let messages = 0;
    let pongsSeen = 0;
    let largestUnparsed = 0;
    const connection = new Connection(
      socket,
      { role: "client", extension: codec(), maxPayloadBytes: 64 * MIB },
      {
        onMessage: (data) => {
          assert.equal(data.length, inflated);
          messages++;
        },
        onPing() {},
        onPong: () => pongsSeen++,
        onClosing() {},
        onClosed() {},
      },
    );
    const sample = () => {
      largestUnparsed = Math.max(largestUnparsed, connection.protocol.pendingReceiveBytes);
    };
    const sampler = setInterval(sample, 1);
    try {
      await until(
        () => {
          sample();
          return messages === rounds && pongsSeen === rounds * (pongs.length / pong.length);
        },
        60_000,
        "every message and pong",
      );
    } finally {
      clearInterval(sampler);
      connection.terminate();
    }
    assert.ok(
      largestUnparsed <= ALLOWED_UNPARSED,
      `${largestUnparsed} bytes waited unparsed (bound ${ALLOWED_UNPARSED})`,
    );
  });
});
