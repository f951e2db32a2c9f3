// The frame writer building frames in a sink's room (reserve/commit, as the connection's shared output slab
// does) must produce exactly the frames it builds in buffers of its own: same header, same payload bytes.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type ChunkSink, writeFrame, writeTextFrame } from "../../src/protocol/frame-writer.js";
import { MaskKeyPool } from "../../src/protocol/mask.js";
import { frameLength } from "./helpers.js";

/** A sink with room: one buffer full of garbage, frames appended from a random start. */
class RoomSink implements ChunkSink {
  readonly room = Buffer.alloc(256 * 1024, 0xa5);
  reservedAt = 0;
  used: number;
  frames: Buffer[] = [];
  constructor(start: number) {
    this.used = start;
  }
  write(chunk: Buffer): void {
    this.frames.push(Buffer.from(chunk));
  }
  reserve(size: number): Buffer | null {
    if (this.used + size > this.room.length) return null;
    this.reservedAt = this.used;
    return this.room;
  }
  commit(size: number): void {
    this.frames.push(Buffer.from(this.room.subarray(this.reservedAt, this.reservedAt + size)));
    this.used = this.reservedAt + size;
  }
}

/** Decodes one frame: its first byte, the length field as sent, the mask bit, and the unmasked payload. */
function decode(frame: Buffer): { b0: number; masked: boolean; payload: Buffer } {
  const masked = (frame[1] & 0x80) !== 0;
  const { length, at: lengthEnd } = frameLength(frame);
  let at = lengthEnd;
  // §5.2: the shortest length encoding is used.
  if (at === 4) assert.ok(length >= 126);
  if (at === 10) assert.ok(length >= 65536);
  const key = masked ? frame.subarray(at, at + 4) : null;
  if (masked) at += 4;
  assert.equal(frame.length, at + length, "the frame is exactly header + payload");
  const payload = Buffer.from(frame.subarray(at));
  if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  return { b0: frame[0], masked, payload };
}

const strings = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 120 }).map((u) => String.fromCharCode(...u)),
  // Around the 126-byte and 65536-byte length boundaries, with 1-, 2- and 3-byte characters.
  fc
    .tuple(fc.integer({ min: 0, max: 200 }), fc.constantFrom("x", "é", "€", "😀"))
    .map(([n, c]) => c.repeat(n)),
  fc.integer({ min: 5400, max: 5500 }).map((n) => "y".repeat(n)),
  // From 1,024 units the string is measured first and ASCII copied as Latin-1: ASCII with one character that
  // is not (Latin-1, 3-byte, astral, a lone surrogate) anywhere, or none.
  fc
    .tuple(
      fc.integer({ min: 1000, max: 3000 }),
      fc.constantFrom("", "é", "ÿ", "€", "😀", "\ud800", "\udfff"),
      fc.nat(),
    )
    .map(([n, c, at]) => {
      const ascii = "q".repeat(n);
      return ascii.slice(0, at % n) + c + ascii.slice(at % n);
    }),
);

test("writeTextFrame in a sink's room = in its own buffer, masked or not, any string", () => {
  fc.assert(
    fc.property(strings, fc.boolean(), fc.integer({ min: 0, max: 9 }), (text, masked, start) => {
      const options = { fin: true, rsv1: false, maskKeys: masked ? new MaskKeyPool() : null };
      const room = new RoomSink(start);
      const own = new RoomSink(0);
      own.reserve = () => null;
      const n1 = writeTextFrame(text, options, room);
      const n2 = writeTextFrame(text, options, own);
      const expected = Buffer.from(text, "utf8");
      assert.equal(n1, expected.length);
      assert.equal(n2, expected.length);
      for (const sink of [room, own]) {
        assert.equal(sink.frames.length, 1);
        const frame = decode(sink.frames[0]);
        assert.equal(frame.b0, 0x81);
        assert.equal(frame.masked, masked);
        assert.ok(frame.payload.equals(expected));
      }
    }),
    { numRuns: 1500 },
  );
});

test("writeFrame in a sink's room = in its own buffer, for any payload placement", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1100 }), fc.boolean(), fc.boolean(), (bytes, masked, borrowed) => {
      const payload = Buffer.from(bytes);
      const copy = Buffer.from(payload);
      const options = { fin: true, rsv1: false, maskKeys: masked ? new MaskKeyPool() : null, borrowed };
      const room = new RoomSink(3);
      writeFrame(0x2, payload, options, room);
      assert.ok(payload.equals(copy), "the caller's bytes are left as they were");
      const frame = decode(Buffer.concat(room.frames));
      assert.equal(frame.b0, 0x82);
      assert.equal(frame.masked, masked);
      assert.ok(frame.payload.equals(copy));
    }),
    { numRuns: 1000 },
  );
});
