import zlib from "node:zlib";
import { CloseCode } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { PerMessageExtension, SharedEncoder, TransformCallback } from "../extension.js";
import { SlidingWindow } from "./sliding-window.js";
import {
  borrowEngine,
  type EngineKind,
  type EngineSpec,
  engineKey,
  returnEngine,
  ZlibEngine,
} from "./zlib-engine.js";
import { zlibSlots } from "./zlib-slots.js";

// The permessage-deflate transform (RFC 7692 §7.2) on one connection: a message is compressed or
// decompressed as a whole, on node:zlib, one zlib job at a time per direction (Protocol serializes them)
// and at most zlibSlots.limit jobs in the whole process.

/** One endpoint's view of the agreed parameters. */
export interface CodecConfig {
  thresholdBytes: number;
  level: number;
  memLevel: number;
  /** The window our compressor may use (the peer's limit on us). */
  compressWindowBits: number;
  /** §7.1.1: our compressor starts every message with an empty window. */
  compressNoContextTakeover: boolean;
  /** The window the peer compresses with: our decompressor's size. */
  decompressWindowBits: number;
  /** The peer starts every message with an empty window, so ours need not be kept. */
  decompressNoContextTakeover: boolean;
}

/** §7.2.1/§7.2.2: the empty stored block's LEN/NLEN, removed by the sender and put back by the receiver. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Compressed messages below this size are joined with TAIL into one zlib write (one thread-pool trip). */
const JOIN_BELOW_BYTES = 16 * 1024;
const EMPTY = Buffer.alloc(0);
/** §7.2.3.6's empty block: BFINAL 0, BTYPE 00, padding; its LEN/NLEN are the removed tail. */
const EMPTY_BLOCK = Buffer.from([0x00]);
/**
 * A message may hold several DEFLATE streams, one after each block with BFINAL set (§7.2.1). Each costs a new
 * zlib stream and a trip to the thread pool (~140 µs, behind other connections' jobs), for as little as 2
 * bytes (03 00: an empty final block), so a message may hold at most this many…
 */
const MIN_STREAMS = 4;
/**
 * …plus one per this many bytes of its compressed payload: a 1 MiB message at most 260 streams (~36 ms of
 * zlib). At one per 64 bytes a 1 MiB message of 64-byte final blocks took 2.1 s and held 272 MiB (review 150).
 */
const BYTES_PER_STREAM = 4096;
/** A stream's output kept for the next stream that is this much smaller than its buffer is copied out. */
const PINNED_RATIO = 2;

/** One message being inflated, possibly over several DEFLATE streams. */
interface Inflation {
  readonly maxBytes: number;
  readonly maxStreams: number;
  /** Streams begun so far. */
  streams: number;
  /** Each stream's output. */
  readonly parts: Buffer[];
  bytes: number;
  /**
   * Without context takeover, from the second stream on: what the message inflated to so far, as the next
   * stream's dictionary (kept as it goes: rebuilt from many small parts per stream it cost O(n²), review 150).
   */
  window: SlidingWindow | null;
}

export class PerMessageDeflate implements PerMessageExtension {
  readonly name = "permessage-deflate";
  readonly config: Readonly<CodecConfig>;
  private readonly specs: Record<EngineKind, EngineSpec>;
  private readonly noContext: Record<EngineKind, boolean>;
  /** Engines kept between messages (context takeover); null until the first message, or after a failure. */
  private readonly owned: Record<EngineKind, ZlibEngine | null> = { deflate: null, inflate: null };
  /**
   * §7.2.2: with context takeover the peer's next message may refer back into the last window of what it
   * sent, even across a message that ended its DEFLATE stream (BFINAL, §7.2.3.4), after which zlib cannot go
   * on: the decompressor that replaces it starts with this copy of the window as its dictionary. Null
   * without context takeover.
   */
  private readonly inflateWindow: SlidingWindow | null;
  /** The last message ended the peer's DEFLATE stream: the next decompressor starts with inflateWindow. */
  private inflateEnded = false;
  /** Engines running a job for this connection right now. */
  private readonly busy = new Set<ZlibEngine>();
  private disposed = false;
  /** Set when our compressor keeps no context (§7.1.1.1): its output can be shared between connections. */
  readonly sharedEncoder: SharedEncoder | null;

  constructor(config: CodecConfig) {
    this.config = { ...config };
    this.specs = {
      deflate: {
        kind: "deflate",
        windowBits: config.compressWindowBits,
        level: config.level,
        memLevel: config.memLevel,
      },
      inflate: { kind: "inflate", windowBits: config.decompressWindowBits, level: 0, memLevel: 0 },
    };
    this.noContext = {
      deflate: config.compressNoContextTakeover,
      inflate: config.decompressNoContextTakeover,
    };
    this.sharedEncoder = config.compressNoContextTakeover ? sharedDeflater(this.specs.deflate) : null;
    this.inflateWindow = config.decompressNoContextTakeover
      ? null
      : new SlidingWindow(1 << config.decompressWindowBits);
  }

  shouldTransform(byteLength: number): boolean {
    return byteLength >= this.config.thresholdBytes;
  }

  /** §7.2.1: compress, flush with an empty stored block, drop its last 4 octets. */
  encode(payload: Buffer, callback: TransformCallback): void {
    // An empty message is the empty stored block's first octet alone. zlib would emit nothing at all for it
    // after an earlier flush (no progress is possible), and the window does not change, so skip zlib.
    if (payload.length === 0) {
      if (!this.disposed) callback(null, EMPTY_BLOCK);
      return;
    }
    this.runJob("deflate", [payload], Number.POSITIVE_INFINITY, undefined, (error, output) => {
      if (error !== null) callback(error);
      else endMessage(output!, callback);
    });
  }

  /**
   * §7.2.2: append 00 00 ff ff and inflate. Output is counted while zlib produces it: past `maxBytes` the
   * job stops and fails with 1009 (RFC 6455 §7.4.1 "too big to process"), so a small message that inflates
   * to gigabytes costs at most `maxBytes`. Data zlib cannot decode fails with 1007: RFC 7692 names no code
   * for it, and RFC 6455 §7.4.1 gives 1007 to "data within a message that was not consistent with the type
   * of the message" — a compressed message whose payload is not DEFLATE data is that (ws sends 1007 too).
   */
  decode(fragments: Buffer[], maxBytes: number, callback: TransformCallback): void {
    const total = byteLengthOf(fragments);
    // A correct sender never sends zero octets (§7.2.1 leaves at least the empty block's header bits), and
    // zlib would read the appended 00 00 ff ff as the start of a 65,280-byte stored block, corrupting every
    // later message. Nothing was compressed, so the message is empty; the window is untouched.
    if (total === 0) {
      if (!this.disposed) callback(null, EMPTY);
      return;
    }
    const input =
      total < JOIN_BELOW_BYTES ? [Buffer.concat([...fragments, TAIL], total + 4)] : [...fragments, TAIL];
    const message: Inflation = {
      maxBytes,
      maxStreams: MIN_STREAMS + Math.floor(total / BYTES_PER_STREAM),
      streams: 1,
      parts: [],
      bytes: 0,
      window: null,
    };
    this.inflateStream(input, message, callback);
  }

  /**
   * Inflates `input` until it ends or its DEFLATE stream does. §7.2.1: "An endpoint MAY use both DEFLATE
   * blocks with the 'BFINAL' bit set to 0 and DEFLATE blocks with the 'BFINAL' bit set to 1. [...] The next
   * DEFLATE block follows the padded data if any": bytes after a final block are the message's too, inflated
   * by a new stream and appended (Chromium's and Firefox's inflaters reset zlib and go on the same way), and
   * bytes that are not DEFLATE data there fail the message as anywhere else (1007). The new stream starts with
   * the peer's window (§7.2.2; see inflateWindow), or without context takeover with what this message
   * inflated to so far. Chromium starts it empty: what it decodes, we decode the same.
   */
  private inflateStream(input: Buffer[], message: Inflation, callback: TransformCallback): void {
    const dictionary = message.window?.contents();
    this.runJob("inflate", input, message.maxBytes - message.bytes, dictionary, (error, output, rest) => {
      if (error !== null) {
        callback(inflateError(error, message));
        return;
      }
      message.parts.push(output!);
      message.bytes += output!.length;
      // What the stream left: nothing, our own 00 00 ff ff (the peer's bytes ended with its final block), or
      // the §7.2.3.4 example's 00 with it (an empty stored block) change nothing, without a zlib stream.
      const left = rest! > TAIL.length ? trailingBytes(input, rest!) : null;
      if (left === null || isEmptyStoredBlock(left)) {
        callback(null, join(message.parts, message.bytes));
        return;
      }
      // A stream that took none of the input and gave nothing had ended before it (the previous message's
      // ended exactly where that message's input did, which only this job finds out, zlib-engine.ts): it is not
      // one of this message's streams (review 151: it used up one of a small message's four).
      const stale = message.parts.length === 1 && output!.length === 0 && rest === byteLengthOf(input);
      if (!stale && ++message.streams > message.maxStreams) {
        callback(
          new ProtocolError(
            "SJ_ERR_MESSAGE_TOO_BIG",
            `message too costly to inflate: more than ${message.maxStreams} DEFLATE streams (final blocks)`,
            CloseCode.MessageTooBig,
          ),
        );
        return;
      }
      // zlib's output is a view of a 16 KiB chunk: kept while more streams are inflated, a few bytes each
      // would hold 16 KiB apiece, far past what maxBytes bounds (review 150).
      if (output!.buffer.byteLength > PINNED_RATIO * output!.length)
        message.parts[message.parts.length - 1] = Buffer.from(output!);
      // The first stream's output is the first this window holds (the stale one's is empty).
      if (this.noContext.inflate)
        (message.window ??= new SlidingWindow(1 << this.config.decompressWindowBits)).push(output!);
      this.inflateStream([left], message, callback);
    });
  }

  /** Frees the zlib streams; jobs in progress end without calling back. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const engine of [...this.busy]) engine.destroy();
    this.owned.deflate?.destroy();
    this.owned.inflate?.destroy();
    this.owned.deflate = null;
    this.owned.inflate = null;
  }

  /** A decompressor kept between messages: after one that ended its stream, with the window as dictionary. */
  private ownedEngine(kind: EngineKind): ZlibEngine {
    if (kind === "deflate" || !this.inflateEnded || this.inflateWindow === null)
      return new ZlibEngine(this.specs[kind]);
    this.inflateEnded = false;
    return new ZlibEngine(this.specs.inflate, this.inflateWindow.contents());
  }

  /**
   * Runs one zlib job in a slot of its own. `dictionary` (inflate without context takeover): the window a
   * stream after a final block starts with; that stream is used once, never pooled.
   */
  private runJob(
    kind: EngineKind,
    input: Buffer[],
    limit: number,
    dictionary: Buffer | undefined,
    done: (error: Error | null, output?: Buffer, rest?: number) => void,
  ): void {
    if (this.disposed) return;
    zlibSlots.acquire(() => {
      if (this.disposed) {
        zlibSlots.release();
        return;
      }
      const engine = this.noContext[kind]
        ? dictionary === undefined
          ? borrowEngine(this.specs[kind])
          : new ZlibEngine(this.specs[kind], dictionary)
        : (this.owned[kind] ??= this.ownedEngine(kind));
      this.busy.add(engine);
      engine.run(input, limit, (result) => {
        this.busy.delete(engine);
        if (this.noContext[kind]) {
          returnEngine(engine);
        } else if (!engine.reusable) {
          // After BFINAL or a failure the stream is finished: the next message gets a new one.
          engine.destroy();
          if (this.owned[kind] === engine) this.owned[kind] = null;
        }
        // Released after the engine is back in the pool, so the job this starts can reuse it.
        zlibSlots.release();
        if (this.disposed || (!result.ok && result.reason === "destroyed")) return;
        if (!result.ok) {
          done(result.reason === "limit" ? LIMIT : result.error);
          return;
        }
        const output = join(result.chunks, result.byteLength);
        if (kind === "inflate" && this.inflateWindow !== null) {
          this.inflateWindow.push(output);
          if (engine.ended) this.inflateEnded = true;
        }
        done(null, output, result.rest);
      });
    });
  }
}

const LIMIT = new Error("output limit reached");

function byteLengthOf(buffers: readonly Buffer[]): number {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  return total;
}

/** A failed inflate job as the message's ProtocolError. */
function inflateError(error: Error, message: Inflation): ProtocolError {
  if (error === LIMIT) {
    return new ProtocolError(
      "SJ_ERR_MESSAGE_TOO_BIG",
      `message too big: limit ${message.maxBytes} bytes (inflated)`,
      CloseCode.MessageTooBig,
    );
  }
  const where = message.streams > 1 ? " after a final DEFLATE block" : "";
  return new ProtocolError(
    "SJ_ERR_INVALID_COMPRESSED_DATA",
    `invalid compressed data${where}: ${error.message}`,
    CloseCode.InvalidPayload,
  );
}

/** The last `n` bytes of `buffers` (all of them if fewer), in one Buffer: a view when one buffer holds them. */
function trailingBytes(buffers: readonly Buffer[], n: number): Buffer {
  const last = buffers[buffers.length - 1]!;
  if (last.length >= n) return last.subarray(last.length - n);
  let first = buffers.length - 1;
  let held = last.length;
  while (first > 0 && held < n) held += buffers[--first]!.length;
  const joined = Buffer.concat(buffers.slice(first), held);
  return joined.subarray(Math.max(0, held - n));
}

/** 00 00 00 ff ff: a stored block with BFINAL 0 and no data (§7.2.3.4's trailing 00, then our tail). */
function isEmptyStoredBlock(bytes: Buffer): boolean {
  return bytes.length === 5 && bytes[0] === 0 && TAIL.equals(bytes.subarray(1));
}

/**
 * §7.2.1 step 3: Z_SYNC_FLUSH ends the output with the empty stored block (step 2 is then a no-op); its
 * last 4 octets are dropped.
 */
function withoutTail(output: Buffer): Buffer | Error {
  const n = output.length;
  if (n < 4 || output[n - 4] !== 0 || output[n - 3] !== 0 || output[n - 2] !== 0xff || output[n - 1] !== 0xff)
    return new Error("zlib output does not end with an empty stored block");
  return output.subarray(0, n - 4);
}

function endMessage(output: Buffer, callback: TransformCallback): void {
  const message = withoutTail(output);
  if (message instanceof Error) callback(message);
  else callback(null, message);
}

/** One shared encoder per compressor configuration (the engine pool's key), made on first use. */
const sharedDeflaters = new Map<string, SharedEncoder>();

function sharedDeflater(spec: EngineSpec): SharedEncoder {
  const key = engineKey(spec);
  let encoder = sharedDeflaters.get(key);
  if (encoder === undefined) {
    const options: zlib.ZlibOptions = {
      level: spec.level,
      memLevel: spec.memLevel,
      // As in ZlibEngine: zlib runs a window of 8 bits as 9, which a 256-byte window decodes.
      windowBits: spec.windowBits === 8 ? 9 : spec.windowBits,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    };
    encoder = {
      key,
      encode: (payload, callback) => deflateDetached(spec, payload, callback),
      encodeNow: (payload) => deflateNow(payload, options),
    };
    sharedDeflaters.set(key, encoder);
  }
  return encoder;
}

/**
 * Shared compressions of payloads up to this size run on the main thread (~55 µs for 1 KiB of JSON at level
 * 1, stream set-up included): one compression for every subscriber of a publish, whose frames then go out
 * in the same tick, so a burst of publishes is one write per subscriber, as without deflate. Larger ones go
 * to the thread pool.
 */
const COMPRESS_NOW_BELOW_BYTES = 16 * 1024;

function deflateNow(payload: Buffer, options: zlib.ZlibOptions): Buffer | null {
  if (payload.length === 0) return EMPTY_BLOCK;
  if (payload.length >= COMPRESS_NOW_BELOW_BYTES) return null;
  const message = withoutTail(zlib.deflateRawSync(payload, options));
  if (message instanceof Error) throw message;
  return message;
}

/**
 * Compresses one message with an empty window on a pooled engine, for no connection in particular (a topic
 * publish shared by every subscriber with this configuration): nothing cancels it when a subscriber closes.
 */
function deflateDetached(spec: EngineSpec, payload: Buffer, callback: TransformCallback): void {
  if (payload.length === 0) {
    callback(null, EMPTY_BLOCK);
    return;
  }
  zlibSlots.acquire(() => {
    const engine = borrowEngine(spec);
    engine.run([payload], Number.POSITIVE_INFINITY, (result) => {
      returnEngine(engine);
      zlibSlots.release();
      if (result.ok) endMessage(join(result.chunks, result.byteLength), callback);
      else callback(result.reason === "zlib" ? result.error : new Error(`compression ${result.reason}`));
    });
  });
}

function join(chunks: Buffer[], byteLength: number): Buffer {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0];
  return Buffer.concat(chunks, byteLength);
}
