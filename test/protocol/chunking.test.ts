import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Role } from "../../src/protocol/protocol-options.js";
import {
  binary,
  closed,
  closeFrameHex,
  closePayload,
  counting,
  type Event,
  eventsFor,
  failure,
  frameTo,
  type PeerOptions,
  pinged,
  ponged,
  sentBy,
  splitAt,
  text,
  write,
} from "./helpers.js";

// TCP may cut the byte stream anywhere. Whatever the cuts, the events must be the same as for the whole
// stream in one chunk: same messages, same pongs and Close frames written, same failure at the same point.

interface Sequence {
  name: string;
  role: Role;
  wire: Buffer;
  expected: Event[];
  options?: PeerOptions;
}

function sequences(): Sequence[] {
  const s = (spec: Parameters<typeof frameTo>[1]) => frameTo("server", spec);
  const c = (spec: Parameters<typeof frameTo>[1]) => frameTo("client", spec);
  return [
    {
      name: "server: masked text, masked binary, Close 1000",
      role: "server",
      wire: Buffer.concat([
        s({ opcode: 0x1, payload: "Hello" }),
        s({ opcode: 0x2, payload: Buffer.from([0, 1, 2]) }),
        s({ opcode: 0x8, payload: closePayload(1000) }),
      ]),
      expected: [text("Hello"), binary("00 01 02"), write("88 02 03 e8"), closed(1000)],
    },
    {
      name: "server: text 'h€!' in 3 fragments cut inside €, a ping and a pong between them",
      role: "server",
      wire: Buffer.concat([
        s({ opcode: 0x1, payload: Buffer.from([0x68, 0xe2]), fin: false }),
        s({ opcode: 0x9, payload: "p" }),
        s({ opcode: 0x0, payload: Buffer.from([0x82, 0xac]), fin: false }),
        s({ opcode: 0xa, payload: "" }),
        s({ opcode: 0x0, payload: "!" }),
      ]),
      expected: [write("8a 01 70"), pinged("p"), ponged(""), text("h€!")],
    },
    {
      name: "client: binary in 3 fragments (one empty) with a ping between, then 👋, then Close 1001 'x'",
      role: "client",
      wire: Buffer.concat([
        c({ opcode: 0x2, payload: Buffer.from([9]), fin: false }),
        c({ opcode: 0x0, payload: "", fin: false }),
        c({ opcode: 0x9, payload: "abc" }),
        c({ opcode: 0x0, payload: Buffer.from([8, 7]) }),
        c({ opcode: 0x1, payload: "👋" }),
        c({ opcode: 0x8, payload: closePayload(1001, "x") }),
      ]),
      expected: [
        write(sentBy("client", "8a 03 61 62 63")),
        pinged("abc"),
        binary("09 08 07"),
        text("👋"),
        write(sentBy("client", closeFrameHex(1001, "x"))),
        closed(1001, "x"),
      ],
    },
    {
      name: "client: invalid UTF-8 (ED A0 80) in the second fragment, then more frames that must be ignored",
      role: "client",
      wire: Buffer.concat([
        c({ opcode: 0x1, payload: "ok" }),
        c({ opcode: 0x1, payload: "ab", fin: false }),
        c({ opcode: 0x0, payload: Buffer.from([0x63, 0xed, 0xa0, 0x80, 0x64]), fin: false }),
        c({ opcode: 0x0, payload: "end" }),
        c({ opcode: 0x9, payload: "" }),
      ]),
      expected: [text("ok"), ...failure("client", 1007, "SJ_ERR_INVALID_UTF8")],
    },
    {
      name: "server: with maxPayloadBytes 16, a text then a frame claiming 20 bytes",
      role: "server",
      options: { maxPayloadBytes: 16 },
      wire: Buffer.concat([s({ opcode: 0x1, payload: "fits" }), s({ opcode: 0x2, payload: counting(20) })]),
      expected: [text("fits"), ...failure("server", 1009, "SJ_ERR_MESSAGE_TOO_BIG")],
    },
    {
      name: "server: a pong, then a frame with RSV2 set, then a text that must be ignored",
      role: "server",
      wire: Buffer.concat([
        s({ opcode: 0xa, payload: "pp" }),
        s({ opcode: 0x2, payload: "x", rsv2: true }),
        s({ opcode: 0x1, payload: "late" }),
      ]),
      expected: [ponged("pp"), ...failure("server", 1002, "SJ_ERR_UNEXPECTED_RSV")],
    },
    {
      name: "client: empty Close, then garbage that must be ignored",
      role: "client",
      wire: Buffer.concat([
        c({ opcode: 0x1, payload: "" }),
        c({ opcode: 0x8, payload: "" }),
        Buffer.from("\xff\xff\x00"),
      ]),
      expected: [text(""), write(sentBy("client", "88 00")), closed(1005)],
    },
    {
      name: "client: a 130-byte text (16-bit length), then a 64-bit length of 65,536 over maxPayloadBytes",
      role: "client",
      wire: Buffer.concat([c({ opcode: 0x1, payload: "t".repeat(130) }), header64(65536)]),
      expected: [text("t".repeat(130)), ...failure("client", 1009, "SJ_ERR_MESSAGE_TOO_BIG")],
      options: { maxPayloadBytes: 1000 },
    },
    {
      name: "server: a 300-byte masked binary (word-wise unmasking) between two small texts",
      role: "server",
      wire: Buffer.concat([
        s({ opcode: 0x1, payload: "a" }),
        s({ opcode: 0x2, payload: counting(300) }),
        s({ opcode: 0x1, payload: "b" }),
      ]),
      expected: [text("a"), binary(counting(300)), text("b")],
    },
  ];
}

/** A server's binary frame header with a 64-bit length of `length` (its payload left out). */
function header64(length: number): Buffer {
  const header = frameTo("client", { opcode: 0x2, payload: "", lengthBits: 64 });
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

function allPairs(length: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < length; i++) for (let j = i + 1; j < length; j++) out.push([i, j]);
  return out;
}

describe("Every chunking gives the same events as one chunk", () => {
  for (const seq of sequences()) {
    describe(`${seq.name} (${seq.wire.length} bytes)`, () => {
      test("in one chunk → the expected events", () => {
        assert.deepEqual(eventsFor(seq.role, [seq.wire], seq.options), seq.expected);
      });

      test(`cut at every single boundary (${seq.wire.length - 1} ways) → the same events`, () => {
        for (let cut = 1; cut < seq.wire.length; cut++) {
          const events = eventsFor(seq.role, splitAt(seq.wire, [cut]), seq.options);
          assert.deepEqual(events, seq.expected, `cut at ${cut}`);
        }
      });

      test("byte by byte → the same events", () => {
        const chunks = [...seq.wire].map((b) => Buffer.from([b]));
        assert.deepEqual(eventsFor(seq.role, chunks, seq.options), seq.expected);
      });

      if (seq.wire.length <= 64) {
        const pairs = allPairs(seq.wire.length);
        test(`cut at every pair of boundaries (${pairs.length} ways) → the same events`, () => {
          for (const cuts of pairs) {
            const events = eventsFor(seq.role, splitAt(seq.wire, cuts), seq.options);
            assert.deepEqual(events, seq.expected, `cuts at ${cuts}`);
          }
        });
      }

      test("with empty chunks fed between every byte → the same events", () => {
        const chunks = [...seq.wire].flatMap((b) => [Buffer.alloc(0), Buffer.from([b])]);
        assert.deepEqual(eventsFor(seq.role, chunks, seq.options), seq.expected);
      });
    });
  }
});
