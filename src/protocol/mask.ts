import { randomFillSync } from "node:crypto";

// RFC 6455 §5.3: masking is an XOR with a 4-byte key, byte i with key[i % 4].
// Done a 32-bit word at a time on the aligned middle of the buffer; the key is rotated so that the word
// lanes line up with the buffer's alignment, and the Uint32Array view keeps the platform's byte order on
// both sides of the XOR.

const keyWord = new Uint32Array(1);
const keyBytes = new Uint8Array(keyWord.buffer);

/** XORs `buf` in place with `key`, as if `buf` started `keyOffset` bytes into the masked payload. */
export function applyMask(buf: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const len = buf.length;
  if (len < 32) {
    for (let i = 0; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
    return;
  }
  let i = 0;
  const misalign = (4 - (buf.byteOffset & 3)) & 3;
  for (; i < misalign; i++) buf[i] ^= key[(i + keyOffset) & 3];
  // Lane j of the word at buffer index i (aligned) holds byte i + j, which needs key[(i + j + keyOffset) & 3].
  for (let j = 0; j < 4; j++) keyBytes[j] = key[(i + j + keyOffset) & 3];
  const mask = keyWord[0];
  const words = (len - i) >>> 2;
  const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
  for (let w = 0; w < words; w++) view[w] ^= mask;
  for (i += words << 2; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
}

/** Writes `src` XOR `key` into `dst` at `dstOffset` (the client's send path: the caller's data stays intact). */
export function maskInto(src: Uint8Array, dst: Uint8Array, dstOffset: number, key: Uint8Array): void {
  dst.set(src, dstOffset);
  applyMask(dst.subarray(dstOffset, dstOffset + src.length), key);
}

const POOL_SIZE = 8192;

/**
 * Masking keys from a crypto-random pool (RFC 6455 §5.3 and §10.3: keys must be unpredictable), refilled a
 * pool at a time instead of one randomBytes call per frame.
 */
export class MaskKeyPool {
  private pool = Buffer.allocUnsafe(POOL_SIZE);
  private offset = POOL_SIZE;

  /** Returns 4 fresh random bytes. The view is only valid until the next call. */
  next(): Buffer {
    if (this.offset === POOL_SIZE) {
      this.pool = Buffer.allocUnsafe(POOL_SIZE);
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const key = this.pool.subarray(this.offset, this.offset + 4);
    this.offset += 4;
    return key;
  }
}

export const sharedMaskKeyPool = new MaskKeyPool();
