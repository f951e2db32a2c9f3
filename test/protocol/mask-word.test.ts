import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { applyMaskWord } from "../../src/protocol/mask.js";

// applyMaskWord takes the key as the little-endian word of its 4 bytes, as the frame parser reads it.
test("applyMaskWord matches the byte-by-byte §5.3 reference for every length, offset and placement", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 7 }),
      (data, word, keyOffset, byteOffset) => {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(word);
        const backing = new Uint8Array(byteOffset + data.length + 3);
        const buf = new Uint8Array(backing.buffer, byteOffset, data.length);
        buf.set(data);
        applyMaskWord(buf, word | 0, keyOffset);
        for (let i = 0; i < data.length; i++) assert.equal(buf[i], data[i] ^ key[(i + keyOffset) % 4]);
        // Nothing around the payload is touched.
        for (let i = 0; i < byteOffset; i++) assert.equal(backing[i], 0);
        for (let i = byteOffset + data.length; i < backing.length; i++) assert.equal(backing[i], 0);
      },
    ),
    { numRuns: 2000 },
  );
});
