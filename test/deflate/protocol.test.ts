import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CodecConfig } from "../../src/protocol/permessage-deflate/codec.js";
import { Protocol } from "../../src/protocol/protocol.js";
import type { Role } from "../../src/protocol/protocol-options.js";
import {
  binary,
  bytes,
  closeFrameHex,
  createPeer,
  type Event,
  failed,
  frameTo,
  type Peer,
  pinged,
  ROLES,
  sentBy,
  text,
  write,
} from "../protocol/helpers.js";
import {
  codec,
  jsonMessage,
  mixedPayload,
  parseFrames,
  referenceCompress,
  referenceDecompress,
  until,
} from "./helpers.js";

// The Protocol state machine with the real permessage-deflate codec: frames built by hand (compressed with
// zlib directly) go in, events and exact bytes come out. RFC 7692 §6: RSV1 marks a compressed message on its
// first frame only; control frames are never compressed.

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

function deflatePeer(role: Role, config: Partial<CodecConfig> = {}, maxPayloadBytes?: number): Peer {
  return createPeer(role, { extension: codec(config), maxPayloadBytes });
}

/** Waits until the peer has recorded `n` events (decoding is asynchronous). */
async function events(peer: Peer, n: number): Promise<Event[]> {
  await until(() => peer.events.length >= n, 5000, `${n} events`);
  return peer.events;
}

describe("RFC 7692 §6 receiving compressed messages", () => {
  for (const role of ROLES) {
    test(`${role} receives §7.2.3.1 'Hello' (RSV1, f2 48 cd c9 c9 07 00) → text "Hello"`, async () => {
      const peer = deflatePeer(role);
      peer.feed(frameTo(role, { opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00") }));
      assert.deepEqual(await events(peer, 1), [text("Hello")]);
      peer.protocol.dispose();
    });

    test(`${role} receives §7.2.3.1 fragmented: RSV1 only on the first frame (41 03 f2 48 cd, 80 04 c9 c9 07 00) → "Hello"`, async () => {
      const peer = deflatePeer(role);
      peer.feed(
        frameTo(role, { opcode: 0x1, fin: false, rsv1: true, payload: hex("f2 48 cd") }),
        frameTo(role, { opcode: 0x0, payload: hex("c9 c9 07 00") }),
      );
      assert.deepEqual(await events(peer, 1), [text("Hello")]);
      peer.protocol.dispose();
    });

    test(`${role} receives a 100 KiB JSON message compressed with zlib, in 7 frames, fed one byte at a time → identical text`, async () => {
      const message = jsonMessage(5, 100_000);
      const compressed = referenceCompress(message);
      const size = Math.ceil(compressed.length / 7);
      const frames: Buffer[] = [];
      for (let i = 0; i < 7; i++) {
        frames.push(
          frameTo(role, {
            opcode: i === 0 ? 0x1 : 0x0,
            fin: i === 6,
            rsv1: i === 0,
            payload: compressed.subarray(i * size, (i + 1) * size),
          }),
        );
      }
      const all = Buffer.concat(frames);
      const peer = deflatePeer(role);
      for (let i = 0; i < all.length; i++) peer.protocol.receive(all.subarray(i, i + 1));
      assert.deepEqual(await events(peer, 1), [text(message.toString())]);
      peer.protocol.dispose();
    });

    test(`${role} receives compressed, plain, ping, compressed binary, plain in one chunk → events in wire order`, async () => {
      const peer = deflatePeer(role);
      peer.feed(
        Buffer.concat([
          frameTo(role, { opcode: 0x1, rsv1: true, payload: referenceCompress(Buffer.from("first")) }),
          frameTo(role, { opcode: 0x1, payload: "second" }),
          frameTo(role, { opcode: 0x9, payload: "p" }),
          frameTo(role, { opcode: 0x2, rsv1: true, payload: referenceCompress(Buffer.from([1, 2, 3])) }),
          frameTo(role, { opcode: 0x2, payload: bytes("04 05") }),
        ]),
      );
      const got = (await events(peer, 6)).filter((e) => e.type !== "write");
      assert.deepEqual(got, [
        text("first"),
        text("second"),
        pinged("p"),
        binary("01 02 03"),
        binary("04 05"),
      ]);
      peer.protocol.dispose();
    });

    test(`${role} receives a ping between the fragments of a compressed message → ping first, then the message`, async () => {
      const peer = deflatePeer(role);
      const compressed = referenceCompress(Buffer.from("fragmented around a ping"));
      peer.feed(
        frameTo(role, { opcode: 0x1, fin: false, rsv1: true, payload: compressed.subarray(0, 5) }),
        frameTo(role, { opcode: 0x9, payload: "x" }),
        frameTo(role, { opcode: 0x0, payload: compressed.subarray(5) }),
      );
      const got = (await events(peer, 3)).filter((e) => e.type !== "write");
      assert.deepEqual(got, [pinged("x"), text("fragmented around a ping")]);
      peer.protocol.dispose();
    });

    test(`${role} receives RSV1 on a continuation frame of a compressed message → fails with 1002 (§6.1)`, async () => {
      const peer = deflatePeer(role);
      const compressed = referenceCompress(Buffer.from("Hello"));
      const got = peer.feed(
        frameTo(role, { opcode: 0x1, fin: false, rsv1: true, payload: compressed.subarray(0, 3) }),
        frameTo(role, { opcode: 0x0, rsv1: true, payload: compressed.subarray(3) }),
      );
      assert.deepEqual(got, [
        write(sentBy(role, closeFrameHex(1002))),
        failed(1002, "SJ_ERR_UNEXPECTED_RSV"),
      ]);
      peer.protocol.dispose();
    });

    test(`${role} receives RSV1 on a continuation of an uncompressed message → fails with 1002`, () => {
      const peer = deflatePeer(role);
      const got = peer.feed(
        frameTo(role, { opcode: 0x1, fin: false, payload: "He" }),
        frameTo(role, { opcode: 0x0, rsv1: true, payload: "llo" }),
      );
      assert.deepEqual(got, [
        write(sentBy(role, closeFrameHex(1002))),
        failed(1002, "SJ_ERR_UNEXPECTED_RSV"),
      ]);
      peer.protocol.dispose();
    });

    for (const [name, opcode] of [
      ["ping", 0x9],
      ["pong", 0xa],
      ["close", 0x8],
    ] as const) {
      test(`${role} with deflate receives a ${name} with RSV1 → fails with 1002 (§6.1: control frames are never compressed)`, () => {
        const peer = deflatePeer(role);
        const got = peer.feed(
          frameTo(role, { opcode, rsv1: true, payload: opcode === 0x8 ? bytes("03 e8") : "" }),
        );
        assert.deepEqual(got, [
          write(sentBy(role, closeFrameHex(1002))),
          failed(1002, "SJ_ERR_UNEXPECTED_RSV"),
        ]);
        peer.protocol.dispose();
      });
    }

    test(`${role} without deflate negotiated receives a compressed 'Hello' with RSV1 → fails with 1002 (RFC 6455 §5.2)`, () => {
      const peer = createPeer(role);
      const got = peer.feed(frameTo(role, { opcode: 0x1, rsv1: true, payload: hex("f2 48 cd c9 c9 07 00") }));
      assert.deepEqual(got, [
        write(sentBy(role, closeFrameHex(1002))),
        failed(1002, "SJ_ERR_UNEXPECTED_RSV"),
      ]);
    });

    test(`${role} receives invalid compressed data (ff ff ff ff) → Close 1007, failure SJ_ERR_INVALID_COMPRESSED_DATA`, async () => {
      const peer = deflatePeer(role);
      peer.feed(frameTo(role, { opcode: 0x2, rsv1: true, payload: hex("ff ff ff ff") }));
      assert.deepEqual(await events(peer, 2), [
        write(sentBy(role, closeFrameHex(1007))),
        failed(1007, "SJ_ERR_INVALID_COMPRESSED_DATA"),
      ]);
      peer.protocol.dispose();
    });

    test(`${role} receives compressed text that inflates to invalid UTF-8 → Close 1007 (RFC 6455 §8.1)`, async () => {
      const peer = deflatePeer(role);
      peer.feed(frameTo(role, { opcode: 0x1, rsv1: true, payload: referenceCompress(hex("48 65 ff 6c")) }));
      assert.deepEqual(await events(peer, 2), [
        write(sentBy(role, closeFrameHex(1007))),
        failed(1007, "SJ_ERR_INVALID_UTF8"),
      ]);
      peer.protocol.dispose();
    });

    test(`${role} with maxPayloadBytes 64 KiB receives 200 bytes that inflate to 10 MiB → Close 1009, nothing delivered`, async () => {
      const peer = deflatePeer(role, {}, 64 * 1024);
      const bomb = referenceCompress(Buffer.alloc(10 * 1024 * 1024));
      assert.ok(bomb.length < 12_000);
      peer.feed(
        frameTo(role, { opcode: 0x2, rsv1: true, payload: bomb }),
        frameTo(role, { opcode: 0x1, payload: "never delivered" }),
      );
      assert.deepEqual(await events(peer, 2), [
        write(sentBy(role, closeFrameHex(1009))),
        failed(1009, "SJ_ERR_MESSAGE_TOO_BIG"),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(peer.events.length, 2);
      peer.protocol.dispose();
    });

    test(`${role} receives a message that inflates to exactly maxPayloadBytes → delivered`, async () => {
      const message = Buffer.alloc(64 * 1024, 0x61);
      const peer = deflatePeer(role, {}, message.length);
      peer.feed(frameTo(role, { opcode: 0x1, rsv1: true, payload: referenceCompress(message) }));
      assert.deepEqual(await events(peer, 1), [text(message.toString())]);
      peer.protocol.dispose();
    });
  }
});

describe("RFC 7692 §6 sending compressed messages", () => {
  for (const role of ROLES) {
    /** Frames the peer wrote so far, parsed (and unmasked for a client). */
    const written = (peer: Peer) =>
      parseFrames(
        Buffer.concat(
          peer.events.filter((e) => e.type === "write").map((e) => bytes((e as { bytes: string }).bytes)),
        ),
      ).frames;

    test(`${role} sends a 2 KiB message → one frame, RSV1 set, whose payload inflates (zlib) to the message`, async () => {
      const peer = deflatePeer(role);
      const message = jsonMessage(7, 2048);
      peer.protocol.send(message, true);
      await until(() => written(peer).length === 1, 5000, "the frame");
      const [f] = written(peer);
      assert.deepEqual([f.fin, f.rsv1, f.opcode], [true, true, 0x1]);
      assert.ok(f.payload.length < message.length / 2, `compressed to ${f.payload.length} bytes`);
      assert.ok(referenceDecompress(f.payload).equals(message));
      peer.protocol.dispose();
    });

    test(`${role} sends a message below thresholdBytes → RSV1 clear, payload as is; compress=true forces RSV1`, async () => {
      const peer = deflatePeer(role, { thresholdBytes: 100 });
      peer.protocol.send(Buffer.from("short"), true);
      peer.protocol.send(Buffer.from("short"), true, true);
      await until(() => written(peer).length === 2, 5000, "two frames");
      const [plain, forced] = written(peer);
      assert.deepEqual([plain.rsv1, plain.payload.toString()], [false, "short"]);
      assert.deepEqual([forced.rsv1, referenceDecompress(forced.payload).toString()], [true, "short"]);
      peer.protocol.dispose();
    });

    test(`${role} sends a large message with compress=false → RSV1 clear`, () => {
      const peer = deflatePeer(role);
      const message = jsonMessage(8, 5000);
      peer.protocol.send(message, true, false);
      const [f] = written(peer);
      assert.deepEqual([f.rsv1, f.payload.equals(message)], [false, true]);
      peer.protocol.dispose();
    });

    test(`${role} pings while a message is being compressed → the ping follows the message, never RSV1`, async () => {
      const peer = deflatePeer(role);
      peer.protocol.send(jsonMessage(1, 4000), true);
      peer.protocol.ping(Buffer.from("hb"));
      peer.protocol.close(1000, "bye");
      await until(() => written(peer).length === 3, 5000, "three frames");
      assert.deepEqual(
        written(peer).map((f) => [f.opcode, f.rsv1]),
        [
          [0x1, true],
          [0x9, false],
          [0x8, false],
        ],
      );
      peer.protocol.dispose();
    });
  }
});

describe("message order under load, both directions, with and without context takeover", () => {
  for (const noContext of [false, true]) {
    test(`600 messages of mixed size and type, client → server and server → client${noContext ? ", no context takeover" : ""}: same content, same order`, async () => {
      const config = {
        thresholdBytes: 512,
        compressNoContextTakeover: noContext,
        decompressNoContextTakeover: noContext,
      };
      const received: Record<Role, { data: Buffer; isText: boolean }[]> = { client: [], server: [] };
      const peers = {} as Record<Role, Protocol>;
      for (const role of ["client", "server"] as const) {
        const other: Role = role === "client" ? "server" : "client";
        peers[role] = new Protocol(
          { role, extension: codec(config) },
          {
            // Bytes written by one side are fed to the other, in chunks of whatever size the writer made.
            write: (chunk) => peers[other].receive(Buffer.from(chunk)),
            onMessage: (data, isText) => received[role].push({ data: Buffer.from(data), isText }),
            onPing: () => {},
            onPong: () => {},
            onCloseFrame: () => {},
            onFailure: (error) => {
              throw error;
            },
          },
        );
      }
      const sent = Array.from({ length: 600 }, (_, i) => ({ data: mixedPayload(i), isText: i % 6 !== 2 }));
      for (let i = 0; i < sent.length; i++) {
        peers.client.send(sent[i].data, sent[i].isText);
        peers.server.send(sent[(i + 300) % sent.length].data, sent[(i + 300) % sent.length].isText);
        if (i % 97 === 0) peers.client.ping(Buffer.from(String(i)));
      }
      await until(
        () => received.client.length === 600 && received.server.length === 600,
        20_000,
        "all messages",
      );
      for (let i = 0; i < sent.length; i++) {
        assert.ok(received.server[i].data.equals(sent[i].data), `client → server message ${i}`);
        assert.equal(received.server[i].isText, sent[i].isText);
        assert.ok(
          received.client[i].data.equals(sent[(i + 300) % sent.length].data),
          `server → client message ${i}`,
        );
      }
      peers.client.dispose();
      peers.server.dispose();
    });
  }
});
