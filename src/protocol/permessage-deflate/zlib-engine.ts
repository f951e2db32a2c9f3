import zlib from "node:zlib";

// One raw-DEFLATE zlib stream (RFC 1951, no zlib header: RFC 7692 §7.2) that runs one job at a time:
// input buffers in, output chunks out, every write with Z_SYNC_FLUSH so each job's output is complete when
// its last write calls back. Output is counted as zlib produces it (16 KiB at a time) and the job stops as
// soon as it passes its byte limit: a decompression bomb costs at most the limit plus one chunk.
//
// Engines without a sliding window to keep (no context takeover) are reset and pooled process-wide, so a
// connection that does not take over context holds no zlib memory between messages.

export type EngineKind = "deflate" | "inflate";

export interface EngineSpec {
  kind: EngineKind;
  /** 8–15: the LZ77 window the peer promised (inflate) or we promised (deflate). */
  windowBits: number;
  level: number;
  memLevel: number;
}

/**
 * How a job ended. `rest` (inflate): how many of the job's last input bytes zlib did not take because the
 * DEFLATE data ended before them (a block with BFINAL set, RFC 7692 §7.2.1); 0 when it took them all.
 */
export type EngineResult =
  | { ok: true; chunks: Buffer[]; byteLength: number; rest: number }
  | { ok: false; reason: "limit" }
  | { ok: false; reason: "zlib"; error: Error }
  | { ok: false; reason: "destroyed" };

const CHUNK_BYTES = 16 * 1024;

export class ZlibEngine {
  readonly key: string;
  private readonly stream: zlib.DeflateRaw | zlib.InflateRaw;
  private chunks: Buffer[] = [];
  private outBytes = 0;
  private limit = Number.POSITIVE_INFINITY;
  private fedBytes = 0;
  private callback: ((result: EngineResult) => void) | null = null;
  /** False once the stream failed, was stopped at a limit, or reached the end of the DEFLATE data. */
  reusable = true;
  /** The last job reached the end of the DEFLATE data (a block with BFINAL set). */
  ended = false;
  /**
   * False for a stream made with a dictionary: reset() puts the dictionary back, so it must never be pooled
   * (another connection would decode against this one's bytes).
   */
  readonly poolable: boolean;

  /** `dictionary` (inflate only): the window a new stream starts with (PerMessageDeflate's inflateWindow). */
  constructor(spec: EngineSpec, dictionary?: Buffer) {
    this.key = engineKey(spec);
    this.poolable = dictionary === undefined;
    const flush = zlib.constants.Z_SYNC_FLUSH;
    if (spec.kind === "deflate") {
      this.stream = zlib.createDeflateRaw({
        flush,
        // RFC 7692 §7.1.2 allows windows of 8 bits (256 bytes), but zlib's deflate cannot run one: a raw
        // deflate stream asked for 8 is refused by zlib ≥ 1.2.9. It can run 9, and its matches never reach
        // further back than the window minus MIN_LOOKAHEAD (262 bytes): 512 − 262 = 250 < 256. So output made
        // with 9 decodes with a 256-byte window, and a peer that allowed us 8 gets what it asked for. (Node's
        // zlib docs say the same of windowBits 9; test/deflate/codec.test.ts checks it.)
        windowBits: spec.windowBits === 8 ? 9 : spec.windowBits,
        level: spec.level,
        memLevel: spec.memLevel,
        chunkSize: CHUNK_BYTES,
      });
    } else {
      // The negotiated window (RFC 7692 §7.1.2), 8 bits included. zlib fails a distance past the bytes it
      // holds (this window and the output of the inflate call under way), not every distance past 2^N:
      // §7.1.2 binds the sender only, and no peer checks more (Chromium inflates with 15 bits whatever was
      // agreed). An exact check would mean parsing DEFLATE on every message; docs/deflate.md.
      this.stream = zlib.createInflateRaw({
        flush,
        windowBits: spec.windowBits,
        chunkSize: CHUNK_BYTES,
        dictionary,
      });
    }
    this.stream.on("data", (chunk: Buffer) => this.onData(chunk));
    this.stream.on("error", (error: Error) => {
      this.reusable = false;
      this.finish({ ok: false, reason: "zlib", error });
    });
  }

  /** Runs `input` through the stream; `callback` is called exactly once, never synchronously. */
  run(input: readonly Buffer[], limit: number, callback: (result: EngineResult) => void): void {
    this.callback = callback;
    this.chunks = [];
    this.outBytes = 0;
    this.limit = limit;
    const last = input.length - 1;
    for (let i = 0; i <= last; i++) {
      this.fedBytes += input[i].length;
      if (i < last) this.stream.write(input[i]);
      else this.stream.write(input[i], () => this.onWritten());
    }
  }

  /** Clears the sliding window so the engine can serve another connection. */
  reset(): void {
    this.stream.reset();
  }

  /** Frees the zlib memory; a job in progress ends with reason "destroyed". */
  destroy(): void {
    this.reusable = false;
    this.stream.destroy();
    this.finish({ ok: false, reason: "destroyed" });
  }

  private onData(chunk: Buffer): void {
    if (this.callback === null) return;
    this.outBytes += chunk.length;
    if (this.outBytes > this.limit) {
      // Stop now: destroying the stream ends zlib's loop before it produces the next chunk.
      this.chunks = [];
      this.reusable = false;
      this.stream.destroy();
      this.finish({ ok: false, reason: "limit" });
      return;
    }
    this.chunks.push(chunk);
  }

  private onWritten(): void {
    if (this.callback === null) return;
    // Output is normally emitted before the write calls back; anything a paused stream still buffers is
    // taken here, so a job never ends without all its output.
    for (let chunk = this.stream.read() as Buffer | null; chunk !== null; chunk = this.stream.read()) {
      this.onData(chunk);
      if (this.callback === null) return;
    }
    // Input zlib did not consume means the DEFLATE data ended (a block with BFINAL set, RFC 7692 §7.2.3.4):
    // the stream is finished and cannot take the next message. What it left is the caller's (§7.2.1: "The
    // next DEFLATE block follows the padded data if any"). A stream that ended exactly at the end of a job's
    // input is found out by the next job, which it leaves all of its input.
    const rest = this.fedBytes - this.stream.bytesWritten;
    if (rest !== 0) this.ended = true;
    if (this.ended) this.reusable = false;
    const chunks = this.chunks;
    this.chunks = [];
    this.finish({ ok: true, chunks, byteLength: this.outBytes, rest });
  }

  private finish(result: EngineResult): void {
    const callback = this.callback;
    if (callback === null) return;
    this.callback = null;
    callback(result);
  }
}

/** Engines with equal keys are interchangeable (the pool's key). */
export function engineKey(spec: EngineSpec): string {
  return spec.kind === "deflate"
    ? `d${spec.windowBits === 8 ? 9 : spec.windowBits}:${spec.level}:${spec.memLevel}`
    : `i${spec.windowBits}`;
}

// ---- the pool of engines without context --------------------------------------------------------------

/** Idle engines kept per configuration. In-flight ones are bounded by the zlib slot count already. */
const MAX_IDLE_PER_KEY = 16;
const idle = new Map<string, ZlibEngine[]>();

/** An engine with an empty window: from the pool, or new. */
export function borrowEngine(spec: EngineSpec): ZlibEngine {
  const list = idle.get(engineKey(spec));
  return list?.pop() ?? new ZlibEngine(spec);
}

/** Gives a borrowed engine back after its job: reset and pooled, or destroyed if it cannot be reused. */
export function returnEngine(engine: ZlibEngine): void {
  if (!engine.reusable || !engine.poolable) {
    engine.destroy();
    return;
  }
  let list = idle.get(engine.key);
  if (list === undefined) {
    list = [];
    idle.set(engine.key, list);
  }
  if (list.length >= MAX_IDLE_PER_KEY) {
    engine.destroy();
    return;
  }
  engine.reset();
  list.push(engine);
}

/** Idle pooled engines (tests and metrics). */
export function pooledEngineCount(): number {
  let n = 0;
  for (const list of idle.values()) n += list.length;
  return n;
}
