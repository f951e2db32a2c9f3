// The scripted peers' side of permessage-deflate (RFC 7692), on node:zlib directly — independent of
// src/protocol/permessage-deflate — so the conformance cases check our codec against plain zlib: the peer
// compresses what it sends (with or without context takeover, with a given window) and decompresses what it
// reads, with a fresh decompressor per message when our side promised no context takeover, and with a window
// of the negotiated size (64-byte output chunks, so zlib really is limited to that window: a back-reference
// further than it fails with "invalid distance too far back").

import zlib from "node:zlib";

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC = zlib.constants.Z_SYNC_FLUSH;

export interface DirectionConfig {
  /** The sender keeps its LZ77 window between messages. */
  takeover: boolean;
  /** The window the sender is limited to (8–15). */
  windowBits: number;
}

/** Runs `data` through a streaming zlib object and returns what a sync flush produces. */
function flushThrough(stream: zlib.DeflateRaw | zlib.InflateRaw, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onError = (error: Error) => {
      stream.off("data", onData);
      reject(error);
    };
    stream.on("data", onData);
    stream.once("error", onError);
    stream.write(data);
    stream.flush(SYNC, () => {
      stream.off("data", onData);
      stream.off("error", onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** The peer's compressor (what it sends) and decompressor (what it reads from our side). */
export class PeerCodec {
  private readonly send: DirectionConfig;
  private readonly receive: DirectionConfig;
  private deflater: zlib.DeflateRaw | null = null;
  private inflater: zlib.InflateRaw | null = null;

  constructor(send: DirectionConfig, receive: DirectionConfig) {
    this.send = send;
    this.receive = receive;
  }

  /** RFC 7692 §7.2.1: compress, sync-flush, drop the trailing 00 00 FF FF. */
  async compress(data: Buffer): Promise<Buffer> {
    // zlib cannot run raw deflate with an 8-bit window; like everyone, compress with 9 (matches ≤ 250 back).
    const windowBits = Math.max(9, this.send.windowBits);
    let out: Buffer;
    if (this.send.takeover) {
      this.deflater ??= zlib.createDeflateRaw({ windowBits, level: 6 });
      out = await flushThrough(this.deflater, data);
    } else {
      out = zlib.deflateRawSync(data, { windowBits, level: 6, finishFlush: SYNC });
    }
    return out.subarray(-4).equals(TAIL) ? out.subarray(0, -4) : out;
  }

  /** RFC 7692 §7.2.2: append 00 00 FF FF and inflate, with the window our side may use. */
  async decompress(payload: Buffer): Promise<Buffer> {
    const input = Buffer.concat([payload, TAIL]);
    // Small output chunks make zlib hold only the window (a larger output buffer would let back-references
    // reach past it); with the full 32 KiB window there is nothing to check, so decode at full speed.
    const windowBits = this.receive.windowBits;
    const options = { windowBits, chunkSize: windowBits < 15 ? 64 : 64 * 1024 };
    if (this.receive.takeover) {
      this.inflater ??= zlib.createInflateRaw(options);
      return flushThrough(this.inflater, input);
    }
    return zlib.inflateRawSync(input, { ...options, finishFlush: SYNC });
  }

  close(): void {
    this.deflater?.close();
    this.inflater?.close();
  }
}

/** A raw DEFLATE payload (sync flush, tail dropped) that inflates to `inflated` bytes of zeros. */
export function bomb(inflated: number): Buffer {
  const out = zlib.deflateRawSync(Buffer.alloc(inflated), { level: 9, finishFlush: SYNC });
  return out.subarray(0, -4);
}
