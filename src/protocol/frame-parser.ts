import { applyMaskWord } from "./mask.js";

// RFC 6455 §5.2 base framing, the receiving side. The parser only decodes headers and hands out payload
// pieces, unmasked in place; the rules about what a frame may be live in Protocol. It works on any chunking:
// a header split across chunks is gathered in a 14-byte scratch, a payload split across chunks is handed out
// piece by piece (so text can be validated while it arrives) without concatenation.

export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /**
   * Payload length in bytes, or a length §5.2 forbids: LENGTH_TOP_BIT_SET (a 64-bit length whose most
   * significant bit is 1) or LENGTH_NOT_MINIMAL (an extended length that a shorter form could carry).
   */
  length: number;
}

/** FrameHeader.length of a 64-bit length with its most significant bit set (§5.2: "MUST be 0"). */
export const LENGTH_TOP_BIT_SET = -1;
/** FrameHeader.length of a length not in its shortest form (§5.2: "the minimal number of bytes MUST be used"). */
export const LENGTH_NOT_MINIMAL = -2;

export interface FrameSink {
  /**
   * A header was decoded. Return false to stop parsing (the connection is being failed). The header object
   * is reused for the next frame: read it, don't keep it.
   */
  onFrameHeader(header: FrameHeader): boolean;
  /** Part of the payload, unmasked; `last` on the final piece (also called once, empty, for a 0-length frame). */
  onFramePayload(piece: Buffer, last: boolean): void;
  /**
   * Optional: a masked piece of at least UNMASK_WHILE_COPYING_MIN bytes, still masked, for a sink that will
   * copy it anyway (into a message of several pieces) and can unmask it as it copies: one pass over the bytes
   * instead of two. `maskWord` is the key as the little-endian word of its 4 bytes, `keyOffset` where in the
   * key the piece starts. Returns false to get it unmasked in place through onFramePayload instead.
   */
  onMaskedPayload?(piece: Buffer, last: boolean, maskWord: number, keyOffset: number): boolean;
}

/** Pieces from this size are offered to FrameSink.onMaskedPayload (below it, an extra call costs more). */
export const UNMASK_WHILE_COPYING_MIN = 1024;

const EMPTY = Buffer.alloc(0);

// Shared by every parser (a connection keeps no per-frame scratch objects while idle): the header is read
// by the sink during onFrameHeader only.
const sharedHeader: FrameHeader = {
  fin: false,
  rsv1: false,
  rsv2: false,
  rsv3: false,
  opcode: 0,
  masked: false,
  length: 0,
};
const MAX_HEADER = 14;

/**
 * Why parsing is paused: each reason is lifted on its own (a decoder finishing must not undo a hold). `reader`:
 * the application's queue of received messages is full (WebSocketStream's receive backpressure).
 */
export const PauseReason = { decoding: 1, held: 2, reader: 4 } as const;

export class FrameParser {
  private readonly sink: FrameSink;
  /** Header bytes gathered across chunks. */
  /** Made on first use: most connections never see a header split across reads. */
  private scratch: Buffer | null = null;
  private scratchLength = 0;
  private inPayload = false;
  private remaining = 0;
  private masked = false;
  /** The frame's masking key, as the 32-bit little-endian word of its 4 bytes (a number, not a buffer). */
  private maskWord = 0;
  private maskOffset = 0;
  private stopped = false;
  /** PauseReason bits; parsing goes on when none is set. */
  private paused = 0;
  /** Pause (held) once the current frame's payload has been handed out: see pauseAfterFrame(). */
  private pauseAtFrameEnd = false;
  private backlog: Buffer[] | null = null;
  private backlogBytes = 0;
  /** True while parse() is on the stack (see resume()). */
  private parsing = false;

  constructor(sink: FrameSink) {
    this.sink = sink;
  }

  /** Bytes received while paused, waiting to be parsed. */
  get pendingBytes(): number {
    return this.backlogBytes;
  }

  /** Parses `data`. The parser takes ownership: masked payloads are unmasked in place. */
  push(data: Buffer): void {
    if (this.stopped) return;
    if (this.paused) {
      (this.backlog ??= []).push(data);
      this.backlogBytes += data.length;
      return;
    }
    this.parse(data);
  }

  /** Stops delivering until resume(reason); bytes pushed meanwhile are kept in order. */
  pause(reason: number = PauseReason.decoding): void {
    this.paused |= reason;
  }

  /**
   * Pauses (held) once the frame whose header is being delivered has been handed out whole, so that its
   * payload is not held up behind the pause. Called from the sink's onFrameHeader.
   */
  pauseAfterFrame(): void {
    this.pauseAtFrameEnd = true;
  }

  resume(reason: number = PauseReason.decoding): void {
    this.pauseAtFrameEnd &&= reason !== PauseReason.held;
    if (this.paused === 0 || this.stopped) return;
    this.paused &= ~reason;
    if (this.paused !== 0) return;
    // Called from inside parse() (a decoder that answered synchronously): the chunk being parsed goes on
    // once we return, and the backlog is drained after it by whoever called parse(). Draining it here would
    // deliver later chunks before the rest of the current one.
    if (this.parsing) return;
    const backlog = this.backlog;
    while (backlog !== null && backlog.length > 0 && this.paused === 0 && !this.stopped) {
      const next = backlog.shift()!;
      this.backlogBytes -= next.length;
      this.parse(next);
    }
  }

  private holdAtFrameEnd(): void {
    this.pauseAtFrameEnd = false;
    this.pause(PauseReason.held);
  }

  /** Discards everything from now on (after a close or a failure). */
  stop(): void {
    this.stopped = true;
    this.backlog = null;
    this.backlogBytes = 0;
  }

  private parse(data: Buffer): void {
    const outer = this.parsing;
    this.parsing = true;
    try {
      this.parseChunk(data);
    } finally {
      this.parsing = outer;
    }
  }

  private parseChunk(data: Buffer): void {
    const end = data.length;
    let pos = 0;
    while (pos < end) {
      if (this.stopped) return;
      if (this.paused) {
        const rest = data.subarray(pos);
        (this.backlog ??= []).unshift(rest);
        this.backlogBytes += rest.length;
        return;
      }
      if (this.inPayload) {
        const take = Math.min(this.remaining, end - pos);
        const piece = data.subarray(pos, pos + take);
        pos += take;
        this.remaining -= take;
        const last = this.remaining === 0;
        if (last) this.inPayload = false;
        if (this.masked) {
          const keyOffset = this.maskOffset;
          this.maskOffset = (keyOffset + take) & 3;
          if (
            take < UNMASK_WHILE_COPYING_MIN ||
            this.sink.onMaskedPayload?.(piece, last, this.maskWord, keyOffset) !== true
          ) {
            applyMaskWord(piece, this.maskWord, keyOffset);
            this.sink.onFramePayload(piece, last);
          }
        } else {
          this.sink.onFramePayload(piece, last);
        }
        if (last && this.pauseAtFrameEnd) this.holdAtFrameEnd();
        continue;
      }
      // Header: straight from the chunk when it is all there, else gathered in the scratch.
      if (this.scratchLength === 0 && end - pos >= 2) {
        const size = headerSize(data[pos + 1]);
        if (end - pos >= size) {
          this.decodeHeader(data, pos);
          pos += size;
          continue;
        }
      }
      const scratch = (this.scratch ??= Buffer.allocUnsafe(MAX_HEADER));
      while (pos < end) {
        scratch[this.scratchLength++] = data[pos++];
        if (this.scratchLength >= 2 && this.scratchLength === headerSize(scratch[1])) break;
      }
      if (this.scratchLength >= 2 && this.scratchLength === headerSize(scratch[1])) {
        this.scratchLength = 0;
        this.decodeHeader(scratch, 0);
      }
    }
  }

  private decodeHeader(buf: Buffer, at: number): void {
    const b0 = buf[at];
    const b1 = buf[at + 1];
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = (buf[p] << 8) | buf[p + 1];
      // §5.2: "the minimal number of bytes MUST be used to encode the length" (as Chromium checks).
      if (length < 126) length = LENGTH_NOT_MINIMAL;
      p += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(p);
      const low = buf.readUInt32BE(p + 4);
      // §5.2: "the most significant bit MUST be 0", and the length needs more than 16 bits.
      if (high > 0x7fffffff) length = LENGTH_TOP_BIT_SET;
      else if (high === 0 && low < 0x10000) length = LENGTH_NOT_MINIMAL;
      else length = high * 0x100000000 + low;
      p += 8;
    }
    if (masked) {
      this.maskWord = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
    }
    // One header object for every parser, refilled for each frame: the sink reads it during the call only.
    const header = sharedHeader;
    header.fin = (b0 & 0x80) !== 0;
    header.rsv1 = (b0 & 0x40) !== 0;
    header.rsv2 = (b0 & 0x20) !== 0;
    header.rsv3 = (b0 & 0x10) !== 0;
    header.opcode = b0 & 0x0f;
    header.masked = masked;
    header.length = length;
    if (!this.sink.onFrameHeader(header)) {
      this.stop();
      return;
    }
    this.masked = masked;
    this.maskOffset = 0;
    if (length === 0) {
      this.sink.onFramePayload(EMPTY, true);
      if (this.pauseAtFrameEnd) this.holdAtFrameEnd();
    } else {
      this.inPayload = true;
      this.remaining = length;
    }
  }
}

/** Header size in bytes given the second header byte (mask bit and 7-bit length). */
function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  const base = len < 126 ? 2 : len === 126 ? 4 : 10;
  return b1 & 0x80 ? base + 4 : base;
}
