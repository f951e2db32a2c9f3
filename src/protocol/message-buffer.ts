// Collects the payload pieces of one message. The common case, a message that arrives as one piece, is
// handed out without a copy. Otherwise pieces are copied into one buffer that is sized exactly when the total
// is known (the final frame's length is in its header) and doubled otherwise, so a flood of tiny fragments
// costs memory in proportion to its bytes, not one Buffer object per fragment.

import { constants } from "node:buffer";
import { maskInto } from "./mask.js";

const EMPTY = Buffer.alloc(0);
/** The most allocated for a message on the word of its frame header alone. */
const SIZED_UP_FRONT_MAX = 64 * 1024 * 1024;
const maskKey = Buffer.alloc(4);

export class MessageBuffer {
  private first: Buffer | null = null;
  private joined: Buffer | null = null;
  private length = 0;

  get byteLength(): number {
    return this.length;
  }

  /** Adds a piece; `expectedTotal` is the message size if already known, else 0. */
  append(piece: Buffer, expectedTotal: number): void {
    if (piece.length === 0) return;
    if (this.first === null && this.joined === null) {
      this.first = piece;
      this.length = piece.length;
      return;
    }
    const joined = this.room(piece.length, expectedTotal);
    piece.copy(joined, this.length);
    this.length += piece.length;
  }

  /**
   * Adds a piece that is still masked (RFC 6455 §5.3), unmasking it as it is copied in (one pass instead of
   * an unmasking pass and a copy); `maskWord` is the key's little-endian word, `keyOffset` where in the key
   * the piece starts. Returns the unmasked bytes (a view into the message, valid until take()).
   */
  appendUnmasking(piece: Buffer, expectedTotal: number, maskWord: number, keyOffset: number): Buffer {
    const at = this.length;
    const joined = this.room(piece.length, expectedTotal);
    const shift = (keyOffset & 3) << 3;
    maskKey.writeInt32LE(shift === 0 ? maskWord : (maskWord >>> shift) | (maskWord << (32 - shift)), 0);
    maskInto(piece, joined, at, maskKey);
    this.length = at + piece.length;
    return joined.subarray(at, this.length);
  }

  /** The joined buffer with room for `more` bytes after the current ones: made, or grown, as needed. */
  private room(more: number, expectedTotal: number): Buffer {
    const needed = this.length + more;
    if (this.joined === null || this.joined.length < needed) {
      // The size the frame header announced is trusted while it is at most SIZED_UP_FRONT_MAX, or once that
      // much has arrived: a header may announce up to the limit, which may be huge (Infinity), and the bytes
      // may never come. Until then a large message gets SIZED_UP_FRONT_MAX, then its size: one copy. A
      // message of unknown size (fragments before the last) doubles; never past a size once it is known.
      const known = expectedTotal > 0;
      const trusted = expectedTotal <= SIZED_UP_FRONT_MAX || needed >= SIZED_UP_FRONT_MAX;
      const announced = !known ? 0 : trusted ? expectedTotal : SIZED_UP_FRONT_MAX;
      const doubled = this.joined === null ? 0 : this.joined.length * 2;
      let capacity = Math.max(announced, doubled);
      if (known) capacity = Math.min(capacity, expectedTotal);
      // (needed itself is within MAX_LENGTH: the parser refuses larger messages from their header.)
      capacity = Math.max(needed, Math.min(capacity, constants.MAX_LENGTH));
      const grown = Buffer.allocUnsafe(capacity);
      if (this.joined !== null) this.joined.copy(grown, 0, 0, this.length);
      else if (this.first !== null) this.first.copy(grown, 0);
      this.joined = grown;
      this.first = null;
    }
    return this.joined;
  }

  /** Returns the whole message and resets. */
  take(): Buffer {
    const out = this.joined !== null ? this.joined.subarray(0, this.length) : (this.first ?? EMPTY);
    this.first = null;
    this.joined = null;
    this.length = 0;
    return out;
  }

  /** The pieces as they stand, for the extension decoder; resets. */
  takeParts(): Buffer[] {
    const out = this.take();
    return out.length === 0 ? [] : [out];
  }
}
