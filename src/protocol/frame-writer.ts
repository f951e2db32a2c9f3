import { applyMask, type MaskKeyPool, maskInto } from "./mask.js";
import { deliveredAsciiBytes } from "./utf8.js";

// RFC 6455 §5.2 base framing, the sending side.

/** Payloads up to this size are copied next to their header: one buffer beats a two-entry writev. */
const COPY_THRESHOLD = 1024;

/** From this payload size on, maskInto takes its word path, for which writeFrame aligns the copy. */
const MASK_ALIGN_MIN = 64;

/**
 * Borrowed payloads from this size on are offered to the sink's writeBorrowed() (a server's socket writes
 * them at once, copying only what the kernel does not take); smaller ones are copied without asking. Below it
 * the copy costs less than writing at once: a system call per message instead of per read (smaller ones come
 * several to a 64 KiB read; a 20 KiB echo lost 25%) and fs.writevSync's own work. Measured with the echo
 * server against the copy, interleaved (issue 17): 64 KiB no faster (−3% to +5%), 256 KiB +6%, 1 MiB +9%.
 */
export const BORROWED_WRITE_MIN = 128 * 1024;

/** Where frames go, in order (the protocol's handler: an object, so no bound function per connection). */
export interface ChunkSink {
  write(chunk: Buffer): void;
  /**
   * Optional, for small frames: a buffer with `size` free bytes from `reservedAt`, to build the frame in
   * place instead of in a buffer of its own; the writer then calls commit(size). Null: use write().
   */
  reserve?(size: number): Buffer | null;
  readonly reservedAt?: number;
  commit?(size: number): void;
  /**
   * Optional, for large frames the writer builds by copying: a buffer of exactly `size` bytes that the sink
   * reuses once it has been written, for the frame the writer then passes to write() at once. Null: allocate.
   */
  lease?(size: number): Buffer | null;
  /**
   * Optional, for a large unmasked frame whose payload is borrowed: writes the header and the payload now
   * where that spares copying the payload, and returns true; false: nothing written, the writer copies.
   */
  writeBorrowed?(header: Buffer, payload: Uint8Array): boolean;
}

export interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  /** Clients mask every frame (§5.3); servers never do. */
  maskKeys: MaskKeyPool | null;
  /**
   * The payload belongs to the caller, who may change it after the call (WHATWG send() sends the bytes
   * as they were at the call): a large payload is then copied instead of written by reference.
   */
  borrowed?: boolean;
}

/**
 * Buffer's own UTF-8 encoder, which buf.write(text, offset, length, "utf8") calls after checking and
 * normalizing its arguments (measured: that wrapper cost more than the encoding of a 1 KiB text frame).
 */
type Utf8Writable = Buffer & {
  utf8Write(text: string, offset: number, length: number): number;
  latin1Write(text: string, offset: number, length: number): number;
};

/** Strings from this length are measured before they are written into the frame (see writeTextFrame). */
const MEASURE_TEXT_MIN = 1024;

function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

function writeHeader(
  out: Buffer,
  start: number,
  opcode: number,
  payloadLength: number,
  fin: boolean,
  rsv1: boolean,
  masked: boolean,
): number {
  out[start] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (payloadLength < 126) {
    out[start + 1] = maskBit | payloadLength;
    return 2;
  }
  if (payloadLength < 65536) {
    out[start + 1] = maskBit | 126;
    out[start + 2] = payloadLength >>> 8;
    out[start + 3] = payloadLength & 0xff;
    return 4;
  }
  // §5.2: 64-bit length, most significant bit 0. Lengths above 2^53 cannot occur in JS buffers.
  out[start + 1] = maskBit | 127;
  out.writeUInt32BE(Math.floor(payloadLength / 0x100000000), start + 2);
  out.writeUInt32BE(payloadLength >>> 0, start + 6);
  return 10;
}

/**
 * Frames `payload` and passes the bytes to `write`: one buffer for small or masked frames, the header and
 * the caller's payload (not copied) for large unmasked ones.
 */
export function writeFrame(
  opcode: number,
  payload: Uint8Array,
  options: FrameOptions,
  sink: ChunkSink,
): void {
  const length = payload.length;
  const masked = options.maskKeys !== null;
  const size = headerLength(length, masked);
  if (masked) {
    let out: Buffer;
    if (length < MASK_ALIGN_MIN) {
      const room = sink.reserve?.(size + length) ?? null;
      if (room !== null) {
        const start = sink.reservedAt!;
        const at = start + writeHeader(room, start, opcode, length, options.fin, options.rsv1, true);
        const key = options.maskKeys!.next();
        room[at] = key[0];
        room[at + 1] = key[1];
        room[at + 2] = key[2];
        room[at + 3] = key[3];
        maskInto(payload, room, start + size, key);
        sink.commit!(size + length);
        return;
      }
      out = Buffer.allocUnsafe(size + length);
    } else {
      // maskInto's one-pass word loop needs the payload's copy aligned like the payload (mod 8 for its
      // 64-bit loop): up to 7 spare bytes in front, left out of the subarray that is written. The offset of
      // an allocUnsafe buffer is arbitrary (below 4 KiB it is a slice of a shared pool).
      const spare = sink.lease?.(size + length + 7) ?? Buffer.allocUnsafe(size + length + 7);
      const pad = (payload.byteOffset - spare.byteOffset - size) & 7;
      out = spare.subarray(pad, pad + size + length);
    }
    const at = writeHeader(out, 0, opcode, length, options.fin, options.rsv1, true);
    const key = options.maskKeys!.next();
    out[at] = key[0];
    out[at + 1] = key[1];
    out[at + 2] = key[2];
    out[at + 3] = key[3];
    maskInto(payload, out, size, key);
    sink.write(out);
    return;
  }
  if (length >= BORROWED_WRITE_MIN && options.borrowed === true && sink.writeBorrowed !== undefined) {
    const header = Buffer.allocUnsafe(size);
    writeHeader(header, 0, opcode, length, options.fin, options.rsv1, false);
    if (sink.writeBorrowed(header, payload)) return;
  }
  if (length <= COPY_THRESHOLD || options.borrowed === true) {
    const room = sink.reserve?.(size + length) ?? null;
    if (room !== null) {
      const start = sink.reservedAt!;
      writeHeader(room, start, opcode, length, options.fin, options.rsv1, false);
      room.set(payload, start + size);
      sink.commit!(size + length);
      return;
    }
    const out = sink.lease?.(size + length) ?? Buffer.allocUnsafe(size + length);
    writeHeader(out, 0, opcode, length, options.fin, options.rsv1, false);
    out.set(payload, size);
    sink.write(out);
    return;
  }
  const header = Buffer.allocUnsafe(size);
  writeHeader(header, 0, opcode, length, options.fin, options.rsv1, false);
  sink.write(header);
  sink.write(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length));
}

/**
 * Frames a string without encoding it first: the UTF-8 bytes are written straight after the header, and
 * masked in place for clients. Returns the payload's length in bytes. In the sink's room the string is
 * encoded into space for its longest possible encoding (3 bytes per UTF-16 unit) behind the longest header
 * that length could need, and moved back by the difference if the header is shorter: below
 * MEASURE_TEXT_MIN cheaper than measuring the string first (Buffer.byteLength walks it as the encoder does).
 */
export function writeTextFrame(text: string, options: FrameOptions, sink: ChunkSink): number {
  const masked = options.maskKeys !== null;
  // The message being delivered, sent on: as long as its bytes (ASCII: one per character), not 3 per character.
  const delivered = sink.reserve !== undefined ? deliveredAsciiBytes(text) : null;
  const most = delivered !== null ? delivered.length : text.length * 3;
  const guess = headerLength(most, masked);
  const room = sink.reserve?.(guess + most) ?? null;
  let out: Buffer;
  let start: number;
  let byteLength: number;
  let size: number;
  if (delivered !== null && room !== null) {
    // Its bytes are copied as they came: no measuring, no encoding.
    out = room;
    start = sink.reservedAt!;
    byteLength = delivered.length;
    size = headerLength(byteLength, masked);
    out.set(delivered, start + size);
  } else if (room !== null && text.length >= MEASURE_TEXT_MIN) {
    // Long text is measured first: ASCII (as many bytes as UTF-16 units) is then copied as Latin-1, byte for
    // byte, which beats the UTF-8 encoder by more than the measuring costs (4 KiB: 94 vs 192 ns).
    out = room;
    start = sink.reservedAt!;
    byteLength = Buffer.byteLength(text);
    size = headerLength(byteLength, masked);
    if (byteLength === text.length) (room as Utf8Writable).latin1Write(text, start + size, byteLength);
    else (room as Utf8Writable).utf8Write(text, start + size, byteLength);
  } else if (room !== null) {
    out = room;
    start = sink.reservedAt!;
    byteLength = (room as Utf8Writable).utf8Write(text, start + guess, most);
    size = headerLength(byteLength, masked);
    if (size !== guess) room.copyWithin(start + size, start + guess, start + guess + byteLength);
  } else {
    byteLength = Buffer.byteLength(text);
    size = headerLength(byteLength, masked);
    out = Buffer.allocUnsafe(size + byteLength);
    start = 0;
    (out as Utf8Writable).utf8Write(text, size, byteLength);
  }
  const at = start + writeHeader(out, start, 0x1, byteLength, options.fin, options.rsv1, masked);
  if (masked) {
    const key = options.maskKeys!.next();
    out[at] = key[0];
    out[at + 1] = key[1];
    out[at + 2] = key[2];
    out[at + 3] = key[3];
    applyMask(out.subarray(start + size, start + size + byteLength), key);
  }
  if (room !== null) sink.commit!(size + byteLength);
  else sink.write(out);
  return byteLength;
}

/** The whole frame as one buffer (tests, and broadcasting the same bytes to many peers). */
export function encodeFrame(opcode: number, payload: Uint8Array, options: FrameOptions): Buffer {
  const parts: Buffer[] = [];
  writeFrame(opcode, payload, options, { write: (chunk) => parts.push(chunk) });
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
