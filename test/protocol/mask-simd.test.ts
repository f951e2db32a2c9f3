import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { applyMask, applyMaskJs, applyMaskWord, maskInto, maskIntoJs } from "../../src/protocol/mask.js";
import { loadSimdMasker, maskModuleBytes } from "../../src/protocol/mask-simd.js";

const simd = loadSimdMasker(globalThis.WebAssembly);

/** The key as the little-endian word rotated so that its byte 0 masks payload byte `keyOffset`. */
function rotated(key: Uint8Array, keyOffset: number): number {
  let word = 0;
  for (let j = 0; j < 4; j++) word |= key[(keyOffset + j) & 3] << (8 * j);
  return word;
}

/** `length` random bytes at `byteOffset` into a fresh ArrayBuffer with random bytes around them. */
function placed(length: number, byteOffset: number): Uint8Array {
  const backing = randomBytes(byteOffset + length + 11);
  return new Uint8Array(backing.buffer, backing.byteOffset + byteOffset, length);
}

describe("RFC 6455 §5.3 Masking: the WebAssembly SIMD masker", () => {
  test("the module validates and loads on Node 20 (SIMD is on by default)", () => {
    assert.ok(WebAssembly.validate(maskModuleBytes()));
    assert.notEqual(simd, null);
  });

  test("without WebAssembly, or where the module does not validate, the loader gives null (JS fallback)", () => {
    assert.equal(loadSimdMasker(undefined), null);
    const noSimd = { ...WebAssembly, validate: () => false } as unknown as typeof WebAssembly;
    assert.equal(loadSimdMasker(noSimd), null);
  });

  test("src → dst: the same bytes as the JS loop for every length 0..300, random offsets and keys", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 15 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, srcOffset, dstOffset, key) => {
          const src = placed(length, srcOffset);
          const before = Buffer.from(src);
          const viaSimd = Buffer.from(randomBytes(dstOffset + length + 7));
          const viaJs = Buffer.from(viaSimd);
          simd!.maskInto(src, viaSimd, dstOffset, rotated(key, 0));
          maskIntoJs(src, viaJs, dstOffset, key);
          assert.deepEqual(viaSimd, viaJs);
          assert.deepEqual(Buffer.from(src), before, "src intact");
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("in place: the same bytes as the JS loop for every length 0..300, random offsets, keys and key offsets", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 7 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, offset, keyOffset, key) => {
          const viaSimd = placed(length, offset);
          const viaJs = Uint8Array.from(viaSimd);
          simd!.maskInto(viaSimd, viaSimd, 0, rotated(key, keyOffset));
          applyMaskJs(viaJs, key, keyOffset);
          assert.deepEqual(Buffer.from(viaSimd), Buffer.from(viaJs));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("lengths across the 32 KiB blocks and up to 1 MiB + 3: the same bytes as the JS loop", () => {
    const key = Uint8Array.of(0x9e, 0x01, 0xff, 0x42);
    for (const length of [32767, 32768, 32769, 65536 + 14, 3 * 32768 + 63, (1 << 20) + 3]) {
      for (const offset of [0, 1, 3, 6]) {
        const src = placed(length, offset);
        const viaSimd = Buffer.alloc(length + 9);
        const viaJs = Buffer.alloc(length + 9);
        simd!.maskInto(src, viaSimd, 5, rotated(key, 0));
        maskIntoJs(src, viaJs, 5, key);
        assert.ok(viaSimd.equals(viaJs), `src → dst, length ${length}, offset ${offset}`);
        const inPlace = Uint8Array.from(src);
        applyMaskWord(inPlace, rotated(key, 0), offset);
        applyMaskJs(src, key, offset);
        assert.ok(
          Buffer.from(inPlace).equals(Buffer.from(src)),
          `in place, length ${length}, key offset ${offset}`,
        );
      }
    }
  });

  test("applyMask, applyMaskWord and maskInto (which pick the SIMD path from a size on) agree with the JS loops", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (length, offset, keyOffset, key) => {
          const data = placed(length, offset);
          const a = Uint8Array.from(data);
          const b = Uint8Array.from(data);
          const c = Uint8Array.from(data);
          applyMask(a, key, keyOffset);
          applyMaskWord(b, Buffer.from(key).readInt32LE(0), keyOffset);
          applyMaskJs(c, key, keyOffset);
          assert.deepEqual(Buffer.from(a), Buffer.from(c));
          assert.deepEqual(Buffer.from(b), Buffer.from(c));
          const into = Buffer.alloc(length + 8);
          const intoJs = Buffer.alloc(length + 8);
          maskInto(data, into, offset, key);
          maskIntoJs(data, intoJs, offset, key);
          assert.deepEqual(into, intoJs);
        },
      ),
      { numRuns: 500 },
    );
  });
});
