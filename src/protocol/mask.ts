import { randomFillSync } from "node:crypto";
import { loadSimdMasker } from "./mask-simd.js";

// RFC 6455 §5.3: masking is an XOR with a 4-byte key, byte i with key[i % 4].
// Done a word at a time on the aligned middle of the buffer; the key is rotated so that the word lanes line
// up with the buffer's alignment, and the typed-array views keep the platform's byte order on both sides of
// the XOR. Middle sizes use 32-bit words (Uint32Array); from LONG_MIN bytes up, 64-bit words
// (BigUint64Array, whose element XOR V8's optimizing compiler turns into plain 64-bit operations): on
// Node 20, 1.6-2× faster than the 32-bit loop from 4 KiB up, a tie at 512 B, slower below (setup).

const LONG_MIN = 1024;

// From these sizes on, the WebAssembly SIMD masker (mask-simd.ts) beats the JS loops (`node
// bench/micro/mask-simd.mjs`); null where it cannot load. In place (a received frame), once it stopped making
// a view per call: 57 vs 67 ns at 64 B, 68 vs 91 at 256 B, 89 vs 128 at 1 KiB (CPU time per call on a piece
// of a read chunk, Node 20 x64); below 64 B applyMaskWord's byte loop.
const simd = loadSimdMasker(globalThis.WebAssembly);
const SIMD_IN_PLACE_MIN = 64;
const SIMD_INTO_MIN = 256;

/** The key's 4 bytes as a little-endian word, rotated so that its byte 0 masks payload byte `keyOffset`. */
function rotatedWord(key: Uint8Array, keyOffset: number): number {
  return (
    key[keyOffset & 3] |
    (key[(keyOffset + 1) & 3] << 8) |
    (key[(keyOffset + 2) & 3] << 16) |
    (key[(keyOffset + 3) & 3] << 24)
  );
}

/** Whether large payloads are masked with WebAssembly SIMD in this process (for the benchmark's report). */
export const simdMasking = simd !== null;

const keyWord = new Uint32Array(1);
const keyBytes = new Uint8Array(keyWord.buffer);
const keyLong = new BigUint64Array(1);
const keyLongBytes = new Uint8Array(keyLong.buffer);

// A Uint32Array view costs an allocation; frames of one read share the read's ArrayBuffer, so the view of
// the last (not too large) ArrayBuffer is kept and reused.
const MAX_CACHED_VIEW_BYTES = 1024 * 1024;
let cachedBuffer: ArrayBufferLike | null = null;
let cachedView: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordView(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (buffer === cachedBuffer) return cachedView;
  const view = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  if (buffer.byteLength <= MAX_CACHED_VIEW_BYTES) {
    cachedBuffer = buffer;
    cachedView = view;
  }
  return view;
}

// maskInto reads one ArrayBuffer and writes another (Buffer.allocUnsafe's pool, below 4 KiB), so it keeps
// the views of the last two, apart from applyMask's.
let srcDstBufferA: ArrayBufferLike | null = null;
let srcDstViewA: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let srcDstBufferB: ArrayBufferLike | null = null;
let srcDstViewB: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function srcDstWordView(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (buffer === srcDstBufferA) return srcDstViewA;
  if (buffer === srcDstBufferB) return srcDstViewB;
  const view = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  if (buffer.byteLength <= MAX_CACHED_VIEW_BYTES) {
    srcDstBufferB = srcDstBufferA;
    srcDstViewB = srcDstViewA;
    srcDstBufferA = buffer;
    srcDstViewA = view;
  }
  return view;
}

/** The key as a 32-bit word whose lane j masks payload byte `at + j`. */
function maskWord(key: Uint8Array, at: number): number {
  for (let j = 0; j < 4; j++) keyBytes[j] = key[(at + j) & 3];
  return keyWord[0];
}

/** The key as a 64-bit word whose lane j masks payload byte `at + j`. */
function maskLong(key: Uint8Array, at: number): bigint {
  for (let j = 0; j < 8; j++) keyLongBytes[j] = key[(at + j) & 3];
  return keyLong[0];
}

const wordKey = Buffer.allocUnsafe(4);

/**
 * applyMask() with the key given as the little-endian 32-bit word of its 4 bytes (how the frame parser keeps
 * it: a number per connection, not a buffer). Small payloads are unmasked straight from the word.
 */
export function applyMaskWord(buf: Uint8Array, word: number, keyOffset: number): void {
  const len = buf.length;
  if (len < 64) {
    const shift = (keyOffset & 3) << 3;
    // Rotate so that byte 0 of buf takes key byte keyOffset.
    const w = shift === 0 ? word : (word >>> shift) | (word << (32 - shift));
    const k0 = w & 0xff;
    const k1 = (w >>> 8) & 0xff;
    const k2 = (w >>> 16) & 0xff;
    const k3 = w >>> 24;
    let i = 0;
    for (; i + 3 < len; i += 4) {
      buf[i] ^= k0;
      buf[i + 1] ^= k1;
      buf[i + 2] ^= k2;
      buf[i + 3] ^= k3;
    }
    if (i < len) buf[i] ^= k0;
    if (i + 1 < len) buf[i + 1] ^= k1;
    if (i + 2 < len) buf[i + 2] ^= k2;
    return;
  }
  if (len >= SIMD_IN_PLACE_MIN && simd !== null) {
    const shift = (keyOffset & 3) << 3;
    simd.maskInto(buf, buf, 0, shift === 0 ? word : (word >>> shift) | (word << (32 - shift)));
    return;
  }
  wordKey.writeInt32LE(word | 0, 0);
  applyMaskJs(buf, wordKey, keyOffset);
}

/** XORs `buf` in place with `key`, as if `buf` started `keyOffset` bytes into the masked payload. */
export function applyMask(buf: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  if (buf.length >= SIMD_IN_PLACE_MIN && simd !== null) {
    simd.maskInto(buf, buf, 0, rotatedWord(key, keyOffset));
    return;
  }
  applyMaskJs(buf, key, keyOffset);
}

/** applyMask in JavaScript alone: the fallback, and the reference the SIMD path is tested against. */
export function applyMaskJs(buf: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const len = buf.length;
  if (len < 64) {
    // Small payloads: a byte loop with the key in locals beats setting up a word view.
    const k0 = key[keyOffset & 3];
    const k1 = key[(keyOffset + 1) & 3];
    const k2 = key[(keyOffset + 2) & 3];
    const k3 = key[(keyOffset + 3) & 3];
    let i = 0;
    for (; i + 3 < len; i += 4) {
      buf[i] ^= k0;
      buf[i + 1] ^= k1;
      buf[i + 2] ^= k2;
      buf[i + 3] ^= k3;
    }
    for (; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
    return;
  }
  if (len >= LONG_MIN) {
    applyMaskLongs(buf, key, keyOffset);
    return;
  }
  let i = 0;
  const misalign = (4 - (buf.byteOffset & 3)) & 3;
  for (; i < misalign; i++) buf[i] ^= key[(i + keyOffset) & 3];
  // Lane j of the word at buffer index i (aligned) holds byte i + j, which needs key[(i + j + keyOffset) & 3].
  const mask = maskWord(key, i + keyOffset);
  const view = wordView(buf.buffer);
  const first = (buf.byteOffset + i) >>> 2;
  const words = (len - i) >>> 2;
  const last = first + words;
  // Unrolled by 8: measured 1.8× faster than the plain loop on 64 KiB (V8 does not vectorize it). By 16, or
  // through local variables: no faster below LONG_MIN.
  let w = first;
  for (const end8 = last - 7; w < end8; w += 8) {
    view[w] ^= mask;
    view[w + 1] ^= mask;
    view[w + 2] ^= mask;
    view[w + 3] ^= mask;
    view[w + 4] ^= mask;
    view[w + 5] ^= mask;
    view[w + 6] ^= mask;
    view[w + 7] ^= mask;
  }
  for (; w < last; w++) view[w] ^= mask;
  for (i += words << 2; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
}

/** applyMask from LONG_MIN bytes up: 64-bit words, on a view of exactly the aligned middle. */
function applyMaskLongs(buf: Uint8Array, key: Uint8Array, keyOffset: number): void {
  const len = buf.length;
  let i = 0;
  const misalign = (8 - (buf.byteOffset & 7)) & 7;
  for (; i < misalign; i++) buf[i] ^= key[(i + keyOffset) & 3];
  const mask = maskLong(key, i + keyOffset);
  const longs = (len - i) >>> 3;
  const view = new BigUint64Array(buf.buffer, buf.byteOffset + i, longs);
  // Unrolled by 16: 15-25% faster than by 8 on 64 KiB and 1 MiB.
  let w = 0;
  for (const end16 = longs - 15; w < end16; w += 16) {
    view[w] ^= mask;
    view[w + 1] ^= mask;
    view[w + 2] ^= mask;
    view[w + 3] ^= mask;
    view[w + 4] ^= mask;
    view[w + 5] ^= mask;
    view[w + 6] ^= mask;
    view[w + 7] ^= mask;
    view[w + 8] ^= mask;
    view[w + 9] ^= mask;
    view[w + 10] ^= mask;
    view[w + 11] ^= mask;
    view[w + 12] ^= mask;
    view[w + 13] ^= mask;
    view[w + 14] ^= mask;
    view[w + 15] ^= mask;
  }
  for (; w < longs; w++) view[w] ^= mask;
  for (i += longs << 3; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
}

/**
 * Writes `src` XOR `key` into `dst` at `dstOffset` (the client's send path: the caller's data stays intact).
 * One pass, a word at a time, when `src` and its destination have the same alignment mod 4 (64-bit words
 * when also mod 8; writeFrame arranges both); otherwise a copy, then the mask in place. `src` and `dst` must
 * not overlap.
 */
export function maskInto(src: Uint8Array, dst: Uint8Array, dstOffset: number, key: Uint8Array): void {
  if (src.length >= SIMD_INTO_MIN && simd !== null) {
    if (dstOffset < 0 || dstOffset + src.length > dst.length)
      throw new RangeError("maskInto: dst is too short");
    simd.maskInto(src, dst, dstOffset, rotatedWord(key, 0));
    return;
  }
  maskIntoJs(src, dst, dstOffset, key);
}

/** maskInto in JavaScript alone: the fallback, and the reference the SIMD path is tested against. */
export function maskIntoJs(src: Uint8Array, dst: Uint8Array, dstOffset: number, key: Uint8Array): void {
  const len = src.length;
  if (dstOffset < 0 || dstOffset + len > dst.length) throw new RangeError("maskInto: dst is too short");
  if (len < 64) {
    const k0 = key[0];
    const k1 = key[1];
    const k2 = key[2];
    const k3 = key[3];
    let i = 0;
    for (; i + 3 < len; i += 4) {
      const d = dstOffset + i;
      dst[d] = src[i] ^ k0;
      dst[d + 1] = src[i + 1] ^ k1;
      dst[d + 2] = src[i + 2] ^ k2;
      dst[d + 3] = src[i + 3] ^ k3;
    }
    for (; i < len; i++) dst[dstOffset + i] = src[i] ^ key[i & 3];
    return;
  }
  const srcStart = src.byteOffset;
  const dstStart = dst.byteOffset + dstOffset;
  const skew = (srcStart ^ dstStart) & 7;
  if (skew === 0 && len >= LONG_MIN) {
    maskIntoLongs(src, dst, dstOffset, key);
    return;
  }
  if ((skew & 3) !== 0) {
    dst.set(src, dstOffset);
    applyMaskJs(new Uint8Array(dst.buffer, dstStart, len), key);
    return;
  }
  let i = 0;
  const misalign = (4 - (srcStart & 3)) & 3;
  for (; i < misalign; i++) dst[dstOffset + i] = src[i] ^ key[i];
  const mask = maskWord(key, i);
  const srcView = srcDstWordView(src.buffer);
  const dstView = srcDstWordView(dst.buffer);
  let w = (srcStart + i) >>> 2;
  let d = (dstStart + i) >>> 2;
  const words = (len - i) >>> 2;
  const last = w + words;
  for (const end8 = last - 7; w < end8; w += 8, d += 8) {
    dstView[d] = srcView[w] ^ mask;
    dstView[d + 1] = srcView[w + 1] ^ mask;
    dstView[d + 2] = srcView[w + 2] ^ mask;
    dstView[d + 3] = srcView[w + 3] ^ mask;
    dstView[d + 4] = srcView[w + 4] ^ mask;
    dstView[d + 5] = srcView[w + 5] ^ mask;
    dstView[d + 6] = srcView[w + 6] ^ mask;
    dstView[d + 7] = srcView[w + 7] ^ mask;
  }
  for (; w < last; w++, d++) dstView[d] = srcView[w] ^ mask;
  for (i += words << 2; i < len; i++) dst[dstOffset + i] = src[i] ^ key[i & 3];
}

/** maskInto from LONG_MIN bytes up, src and destination aligned alike mod 8: 64-bit words. */
function maskIntoLongs(src: Uint8Array, dst: Uint8Array, dstOffset: number, key: Uint8Array): void {
  const len = src.length;
  const srcStart = src.byteOffset;
  let i = 0;
  const misalign = (8 - (srcStart & 7)) & 7;
  for (; i < misalign; i++) dst[dstOffset + i] = src[i] ^ key[i & 3];
  const mask = maskLong(key, i);
  const longs = (len - i) >>> 3;
  const from = new BigUint64Array(src.buffer, srcStart + i, longs);
  const to = new BigUint64Array(dst.buffer, dst.byteOffset + dstOffset + i, longs);
  let w = 0;
  for (const end16 = longs - 15; w < end16; w += 16) {
    to[w] = from[w] ^ mask;
    to[w + 1] = from[w + 1] ^ mask;
    to[w + 2] = from[w + 2] ^ mask;
    to[w + 3] = from[w + 3] ^ mask;
    to[w + 4] = from[w + 4] ^ mask;
    to[w + 5] = from[w + 5] ^ mask;
    to[w + 6] = from[w + 6] ^ mask;
    to[w + 7] = from[w + 7] ^ mask;
    to[w + 8] = from[w + 8] ^ mask;
    to[w + 9] = from[w + 9] ^ mask;
    to[w + 10] = from[w + 10] ^ mask;
    to[w + 11] = from[w + 11] ^ mask;
    to[w + 12] = from[w + 12] ^ mask;
    to[w + 13] = from[w + 13] ^ mask;
    to[w + 14] = from[w + 14] ^ mask;
    to[w + 15] = from[w + 15] ^ mask;
  }
  for (; w < longs; w++) to[w] = from[w] ^ mask;
  for (i += longs << 3; i < len; i++) dst[dstOffset + i] = src[i] ^ key[i & 3];
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
