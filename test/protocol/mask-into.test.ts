import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { writeFrame } from "../../src/protocol/frame-writer.js";
import { applyMask, MaskKeyPool, maskInto } from "../../src/protocol/mask.js";
import { frameLength } from "./helpers.js";

/** The reference: byte i of a payload is XORed with key[(i + keyOffset) % 4] (§5.3), one byte at a time. */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ key[(i + keyOffset) % 4];
  return out;
}

/** `length` random bytes at `byteOffset` (mod 8) into a fresh ArrayBuffer, `slack` random bytes after. */
function placed(length: number, byteOffset: number, slack = 0): Uint8Array {
  const backing = new Uint8Array(byteOffset + length + slack);
  backing.set(randomBytes(backing.length));
  return new Uint8Array(backing.buffer, byteOffset, length);
}

/** The byte-by-byte check of maskInto for one case; also that src and dst outside the target are intact. */
function checkMaskInto(length: number, srcOffset: number, dstAlign: number, key: Uint8Array): void {
  const src = placed(length, srcOffset, 5);
  const srcBacking = Buffer.from(new Uint8Array(src.buffer));
  const dst = placed(dstAlign + length + 9, 0);
  const dstBefore = Buffer.from(dst);
  const dstOffset = dstAlign + 1; // dst's view starts at 0: the target is at dstOffset in the ArrayBuffer too
  maskInto(src, dst, dstOffset, key);
  const where = `length ${length}, src at ${srcOffset}, dst at ${dstOffset}, key ${Buffer.from(key).toString("hex")}`;
  if (!Buffer.from(dst.subarray(dstOffset, dstOffset + length)).equals(referenceMask(src, key))) {
    assert.fail(`${where}: masked bytes differ from the byte-wise XOR`);
  }
  if (!Buffer.from(new Uint8Array(src.buffer)).equals(srcBacking)) assert.fail(`${where}: src changed`);
  if (
    !Buffer.from(dst.subarray(0, dstOffset)).equals(dstBefore.subarray(0, dstOffset)) ||
    !Buffer.from(dst.subarray(dstOffset + length)).equals(dstBefore.subarray(dstOffset + length))
  ) {
    assert.fail(`${where}: dst changed outside the target`);
  }
}

/** Reads a masked frame: header fields, the key, and the unmasked payload. */
function decodeMasked(frame: Buffer): { fin: boolean; opcode: number; payloadAt: number; payload: Buffer } {
  assert.equal(frame[1] & 0x80, 0x80, "mask bit set");
  const { length, at } = frameLength(frame);
  const key = frame.subarray(at, at + 4);
  assert.equal(frame.length, at + 4 + length, "frame length = header + key + payload");
  return {
    fin: (frame[0] & 0x80) !== 0,
    opcode: frame[0] & 0x0f,
    payloadAt: at + 4,
    payload: referenceMask(frame.subarray(at + 4), key),
  };
}

describe("RFC 6455 §5.3 Masking: maskInto (one pass, src → dst)", () => {
  const lengths = [
    ...Array.from({ length: 71 }, (_, i) => i),
    127,
    1016,
    1023,
    1024,
    1025,
    1031,
    4099,
    65537,
  ];

  for (let srcOffset = 0; srcOffset < 8; srcOffset++) {
    test(`src at byteOffset ${srcOffset}, dst at every offset 1..8, lengths 0..70 and large, random keys → matches the byte-wise XOR`, () => {
      for (let dstAlign = 0; dstAlign < 8; dstAlign++) {
        for (const length of lengths) checkMaskInto(length, srcOffset, dstAlign, randomBytes(4));
      }
    });
  }

  test("large payloads (1 MiB + 5) at every src/dst alignment mod 8 → match the byte-wise XOR", () => {
    for (let srcOffset = 0; srcOffset < 8; srcOffset++) {
      for (const dstAlign of [srcOffset, srcOffset ^ 4, srcOffset ^ 1]) {
        checkMaskInto(1024 * 1024 + 5, srcOffset, (dstAlign + 7) & 7, randomBytes(4));
      }
    }
  });

  test("src and dst in the same ArrayBuffer (Buffer.allocUnsafe's pool), not overlapping → correct", () => {
    const key = randomBytes(4);
    for (let length = 60; length < 200; length++) {
      const src = Buffer.allocUnsafe(length);
      src.set(randomBytes(length));
      const dst = Buffer.allocUnsafe(length + 12);
      for (let dstOffset = 0; dstOffset < 8; dstOffset++) {
        maskInto(src, dst, dstOffset, key);
        assert.ok(dst.subarray(dstOffset, dstOffset + length).equals(referenceMask(src, key)), `${length}`);
      }
    }
  });

  test("property: any bytes, any src and dst offsets, any key → the byte-wise XOR, src intact", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 15 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (data, srcOffset, dstOffset, key) => {
          const src = new Uint8Array(new ArrayBuffer(srcOffset + data.length), srcOffset, data.length);
          src.set(data);
          const dst = new Uint8Array(dstOffset + data.length);
          maskInto(src, dst, dstOffset, key);
          assert.deepEqual(Buffer.from(dst.subarray(dstOffset)), referenceMask(data, key));
          assert.deepEqual(src, data);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("dst too short for src → RangeError, nothing written past dst", () => {
    const backing = Buffer.alloc(300, 0xee);
    const dst = backing.subarray(0, 200);
    assert.throws(() => maskInto(randomBytes(150), dst, 51, randomBytes(4)), RangeError);
    assert.throws(() => maskInto(randomBytes(10), dst, -1, randomBytes(4)), RangeError);
    assert.ok(backing.subarray(200).every((b) => b === 0xee));
  });
});

describe("RFC 6455 §5.3 Masking: applyMask around the 64-bit word threshold", () => {
  test("lengths 1000..1100 at byteOffset 0..7, keyOffset 0..3 → matches the byte-wise XOR, nothing else changed", () => {
    const key = randomBytes(4);
    for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
      for (let length = 1000; length <= 1100; length++) {
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const view = placed(length, byteOffset, 8);
          const before = Buffer.from(new Uint8Array(view.buffer));
          applyMask(view, key, keyOffset);
          const after = Buffer.from(new Uint8Array(view.buffer));
          const expected = Buffer.from(before);
          expected.set(
            referenceMask(before.subarray(byteOffset, byteOffset + length), key, keyOffset),
            byteOffset,
          );
          if (!after.equals(expected)) {
            assert.fail(`byteOffset ${byteOffset}, length ${length}, keyOffset ${keyOffset}: wrong bytes`);
          }
        }
      }
    }
  });
});

describe("RFC 6455 §5.2/§5.3 writeFrame, masked: the payload copy aligned like the payload", () => {
  const sizes = [
    0, 1, 63, 64, 65, 124, 125, 126, 127, 1023, 1024, 1025, 4093, 65534, 65535, 65536, 65537, 70001,
  ];
  const keys = new MaskKeyPool();

  for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
    test(`payload at byteOffset ${byteOffset}, sizes 0..70001 (around 125/126/65535/65536) → one chunk that unmasks to the payload, payload intact`, () => {
      for (const size of sizes) {
        const payload = placed(size, byteOffset, 3);
        const backingBefore = Buffer.from(new Uint8Array(payload.buffer));
        const chunks: Buffer[] = [];
        writeFrame(
          0x2,
          payload,
          { fin: true, rsv1: false, maskKeys: keys },
          { write: (chunk) => chunks.push(chunk) },
        );
        assert.equal(chunks.length, 1, `size ${size}: one chunk`);
        const decoded = decodeMasked(chunks[0]);
        assert.equal(decoded.opcode, 0x2);
        assert.equal(decoded.fin, true);
        if (!decoded.payload.equals(payload)) assert.fail(`size ${size}: does not unmask to the payload`);
        if (size >= 64) {
          // The copy is aligned like the payload (maskInto's word path), mod 8.
          assert.equal((chunks[0].byteOffset + decoded.payloadAt) & 7, byteOffset, `size ${size}: alignment`);
        }
        if (!Buffer.from(new Uint8Array(payload.buffer)).equals(backingBefore)) {
          assert.fail(`size ${size}: the caller's buffer changed`);
        }
      }
    });
  }

  test("pooled Buffer payloads (arbitrary offsets in Buffer.allocUnsafe's pool), fin false and rsv1 → header bits kept", () => {
    for (let size = 60; size < 300; size += 7) {
      const payload = Buffer.allocUnsafe(size);
      payload.set(randomBytes(size));
      const chunks: Buffer[] = [];
      writeFrame(
        0x1,
        payload,
        { fin: false, rsv1: true, maskKeys: keys },
        { write: (chunk) => chunks.push(chunk) },
      );
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0][0], 0x41, "fin 0, rsv1 1, opcode 1");
      const decoded = decodeMasked(chunks[0]);
      assert.ok(decoded.payload.equals(payload), `size ${size}`);
    }
  });
});
