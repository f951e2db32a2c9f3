import { isUtf8 } from "node:buffer";

// RFC 6455 §8.1: text payloads are UTF-8, and an endpoint fails the connection as soon as the bytes it has
// received can no longer be the start of valid UTF-8 ("fail fast"), even in the middle of a fragmented
// message or of a frame still arriving. Well-formed sequences per Unicode Table 3-7 (no overlong forms, no
// surrogates, nothing above U+10FFFF).

/** True when `buf` is complete, valid UTF-8 (the native validator). */
export function isValidUtf8(buf: Uint8Array): boolean {
  return isUtf8(buf);
}

/** Validates UTF-8 fed in pieces, failing at the first byte that makes the sequence invalid. */
export class Utf8StreamValidator {
  /** Continuation bytes still expected for the current sequence. */
  private need = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** True when no multi-byte sequence is left open. */
  get complete(): boolean {
    return this.need === 0;
  }

  reset(): void {
    this.need = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** Feeds bytes; returns false as soon as they cannot be part of valid UTF-8. */
  feed(buf: Uint8Array): boolean {
    const end = buf.length;
    let i = 0;
    while (this.need > 0 && i < end) if (!this.step(buf[i++])) return false;
    if (i === end) return true;
    // The bulk goes to the native validator; only an incomplete sequence at the end is checked byte-wise.
    const tail = incompleteTailStart(buf, i, end);
    if (tail > i && !isUtf8(buf.subarray(i, tail))) return false;
    for (i = tail; i < end; i++) if (!this.step(buf[i])) return false;
    return true;
  }

  private step(b: number): boolean {
    if (this.need > 0) {
      if (b < this.lower || b > this.upper) return false;
      this.lower = 0x80;
      this.upper = 0xbf;
      this.need--;
      return true;
    }
    if (b < 0x80) return true;
    if (b >= 0xc2 && b <= 0xdf) {
      this.need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      this.need = 2;
      if (b === 0xe0)
        this.lower = 0xa0; // overlong
      else if (b === 0xed) this.upper = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.need = 3;
      if (b === 0xf0)
        this.lower = 0x90; // overlong
      else if (b === 0xf4) this.upper = 0x8f; // above U+10FFFF
    } else {
      return false;
    }
    return true;
  }
}

/** Index where a multi-byte sequence starts that `buf[start..end)` cuts short, or `end` if none. */
function incompleteTailStart(buf: Uint8Array, start: number, end: number): number {
  const stop = Math.max(start, end - 3);
  for (let j = end - 1; j >= stop; j--) {
    const b = buf[j];
    if (b < 0x80) return end;
    if (b >= 0xc0) {
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return j + length > end ? j : end;
    }
  }
  return end;
}
