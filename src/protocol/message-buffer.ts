// Collects the payload pieces of one message. The common case, a message that arrives as one piece, is
// handed out without a copy. Otherwise pieces are copied into one buffer that is sized exactly when the total
// is known (the final frame's length is in its header) and doubled otherwise, so a flood of tiny fragments
// costs memory in proportion to its bytes, not one Buffer object per fragment.

const EMPTY = Buffer.alloc(0);

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
    const needed = this.length + piece.length;
    if (this.joined === null || this.joined.length < needed) {
      const capacity = Math.max(needed, expectedTotal, this.joined === null ? 0 : this.joined.length * 2);
      const grown = Buffer.allocUnsafe(capacity);
      if (this.joined !== null) this.joined.copy(grown, 0, 0, this.length);
      else this.first!.copy(grown, 0);
      this.joined = grown;
      this.first = null;
    }
    piece.copy(this.joined, this.length);
    this.length = needed;
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
