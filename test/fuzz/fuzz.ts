// Structure-aware fuzzing of the sans-I/O protocol core. Each input is a byte string: mostly valid frame
// sequences (text, binary, fragmented messages with control frames between fragments, pings, pongs, Close)
// run through a few mutations (bit flips, byte insert/delete, length field tweaks, opcode/RSV/FIN/mask bit
// flips, truncation, splicing with an earlier input), plus some purely random bytes. Every input is fed to a
// fresh server and a fresh client Protocol, once in one chunk and once in random chunks.
//
// A crash is: an exception out of receive(); onFailure with something other than a ProtocolError or with a
// close code other than 1002/1007/1009; any event after the failure or the peer's Close; a second failure;
// a text message that is not UTF-8; a message larger than maxPayloadBytes; a failure not preceded by our
// Close frame with its code; a ping not answered by a pong with the same payload; different events for the
// two chunkings; or an input taking more than `hangMs` (a hang, confirmed by a second run).

import { isUtf8 } from "node:buffer";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ProtocolError } from "../../src/protocol/errors.js";
import { MaskKeyPool } from "../../src/protocol/mask.js";
import { Protocol } from "../../src/protocol/protocol.js";
import type { ProtocolHandler, ProtocolOptions, Role } from "../../src/protocol/protocol-options.js";

// ---- a small, seedable PRNG (sfc32 seeded by splitmix32) ------------------------------------------------

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const r = this.u32();
      out[i] = r;
      if (i + 1 < n) out[i + 1] = r >>> 8;
      if (i + 2 < n) out[i + 2] = r >>> 16;
      if (i + 3 < n) out[i + 3] = r >>> 24;
    }
    return out;
  }
}

// ---- generating valid frame sequences -----------------------------------------------------------------

interface Encoded {
  bytes: Buffer;
  /** Offset of each frame's first byte, for mutations that aim at header fields. */
  frameStarts: number[];
}

const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
];
const INTERESTING_BYTES = [
  0x00, 0x01, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0x8a, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
  0xf5, 0xff,
];

function encodeFrame(
  rng: Rng,
  out: Buffer[],
  starts: number[],
  at: number,
  opcode: number,
  payload: Buffer,
  fin: boolean,
  masked: boolean,
): number {
  const length = payload.length;
  // Mostly the minimal length encoding (§5.2), sometimes a longer one: receivers read the value.
  let bits = length < 126 ? 7 : length < 65536 ? 16 : 64;
  if (rng.chance(0.03)) bits = length < 65536 && rng.chance(0.5) ? 16 : 64;
  const header: number[] = [(fin ? 0x80 : 0) | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (bits === 7) header.push(maskBit | length);
  else if (bits === 16) header.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    header.push(maskBit | 127, 0, 0);
    const high = Math.floor(length / 0x100000000);
    header.push((high >>> 8) & 0xff, high & 0xff);
    header.push((length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
  }
  const body = Buffer.from(payload);
  if (masked) {
    const key = rng.chance(0.1) ? [0, 0, 0, 0] : [rng.int(256), rng.int(256), rng.int(256), rng.int(256)];
    header.push(...key);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  starts.push(at);
  out.push(Buffer.from(header), body);
  return at + header.length + body.length;
}

function randomText(rng: Rng, maxCodePoints: number): Buffer {
  const n = rng.int(maxCodePoints + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    const kind = rng.int(10);
    if (kind < 6) s += String.fromCharCode(rng.range(0x20, 0x7e));
    else if (kind < 7) s += String.fromCharCode(rng.range(0x80, 0x7ff));
    else if (kind < 9)
      s += String.fromCharCode(rng.pick([rng.range(0x800, 0xd7ff), rng.range(0xe000, 0xffff)]));
    else s += String.fromCodePoint(rng.range(0x10000, 0x10ffff));
  }
  return Buffer.from(s, "utf8");
}

function payloadSize(rng: Rng): number {
  const r = rng.int(100);
  if (r < 70) return rng.int(40);
  if (r < 90) return rng.range(100, 400);
  if (r < 99) return rng.range(900, 1200); // around the fuzzer's usual 1024-byte limit
  return rng.range(65530, 65545); // the 16/64-bit boundary
}

/** A valid sequence of frames as the peer of `receiver` would send it. */
export function generateValid(rng: Rng, receiver: Role): Encoded {
  const masked = receiver === "server";
  const out: Buffer[] = [];
  const starts: number[] = [];
  let at = 0;
  const control = () => {
    const opcode = rng.pick([0x9, 0xa]);
    at = encodeFrame(
      rng,
      out,
      starts,
      at,
      opcode,
      rng.bytes(rng.chance(0.8) ? rng.int(8) : rng.int(126)),
      true,
      masked,
    );
  };
  const frames = rng.range(1, 6);
  for (let f = 0; f < frames; f++) {
    const kind = rng.int(20);
    if (kind < 7) {
      // A message, maybe fragmented, maybe with control frames between its fragments.
      const isText = rng.chance(0.6);
      const payload = isText ? randomText(rng, payloadSize(rng) >> 1) : rng.bytes(payloadSize(rng));
      const pieces = rng.chance(0.6) ? 1 : rng.range(2, 6);
      const cuts = Array.from({ length: pieces - 1 }, () => rng.int(payload.length + 1)).sort(
        (a, b) => a - b,
      );
      let from = 0;
      for (let i = 0; i < pieces; i++) {
        const to = i === pieces - 1 ? payload.length : cuts[i];
        const opcode = i === 0 ? (isText ? 0x1 : 0x2) : 0x0;
        at = encodeFrame(rng, out, starts, at, opcode, payload.subarray(from, to), i === pieces - 1, masked);
        from = to;
        if (i < pieces - 1 && rng.chance(0.25)) control();
      }
    } else if (kind < 17) {
      control();
    } else {
      const payload = rng.chance(0.2)
        ? Buffer.alloc(0)
        : Buffer.concat([Buffer.from([0, 0]), randomText(rng, rng.int(20))]);
      if (payload.length >= 2) payload.writeUInt16BE(rng.pick(VALID_CLOSE_CODES), 0);
      at = encodeFrame(
        rng,
        out,
        starts,
        at,
        0x8,
        payload.subarray(0, Math.min(payload.length, 125)),
        true,
        masked,
      );
    }
  }
  return { bytes: Buffer.concat(out), frameStarts: starts };
}

// ---- mutations -----------------------------------------------------------------------------------------

function mutate(rng: Rng, input: Encoded, corpus: Buffer[]): Buffer {
  let data = Buffer.from(input.bytes);
  const starts = input.frameStarts.filter((s) => s < data.length);
  const count = rng.range(1, 3);
  for (let m = 0; m < count; m++) {
    const frameAt = starts.length > 0 ? rng.pick(starts) : 0;
    switch (rng.int(12)) {
      case 0: // bit flip anywhere
        if (data.length > 0) data[rng.int(data.length)] ^= 1 << rng.int(8);
        break;
      case 1: // an interesting byte anywhere
        if (data.length > 0) data[rng.int(data.length)] = rng.pick(INTERESTING_BYTES);
        break;
      case 2: {
        // insert random bytes
        const pos = rng.int(data.length + 1);
        data = Buffer.concat([data.subarray(0, pos), rng.bytes(rng.range(1, 4)), data.subarray(pos)]);
        break;
      }
      case 3: {
        // delete a range
        const pos = rng.int(data.length + 1);
        data = Buffer.concat([data.subarray(0, pos), data.subarray(pos + rng.range(1, 8))]);
        break;
      }
      case 4: // length field tweak: the 7-bit length, or a byte of the extended length
        if (frameAt + 1 < data.length) {
          const len7 = data[frameAt + 1] & 0x7f;
          if (len7 >= 126 && rng.chance(0.5)) {
            const extended = len7 === 126 ? 2 : 8;
            const pos = frameAt + 2 + rng.int(extended);
            if (pos < data.length)
              data[pos] = rng.pick([
                0x00,
                0x01,
                0x7f,
                0x80,
                0xff,
                (data[pos] + 1) & 0xff,
                (data[pos] - 1) & 0xff,
              ]);
          } else {
            const value = rng.pick([0, 1, 125, 126, 127, (len7 + 1) & 0x7f, (len7 - 1) & 0x7f, rng.int(128)]);
            data[frameAt + 1] = (data[frameAt + 1] & 0x80) | value;
          }
        }
        break;
      case 5: // opcode
        if (frameAt < data.length) data[frameAt] = (data[frameAt] & 0xf0) | rng.int(16);
        break;
      case 6: // an RSV bit
        if (frameAt < data.length) data[frameAt] ^= rng.pick([0x40, 0x20, 0x10]);
        break;
      case 7: // FIN
        if (frameAt < data.length) data[frameAt] ^= 0x80;
        break;
      case 8: // the mask bit
        if (frameAt + 1 < data.length) data[frameAt + 1] ^= 0x80;
        break;
      case 9: // truncation
        data = data.subarray(0, rng.int(data.length + 1));
        break;
      case 10: {
        // splice with an earlier input
        if (corpus.length > 0) {
          const other = rng.pick(corpus);
          const from = rng.int(other.length + 1);
          const pos = rng.int(data.length + 1);
          data = Buffer.concat([data.subarray(0, pos), other.subarray(from, from + rng.range(1, 64))]);
        }
        break;
      }
      default: {
        // duplicate a frame (or a slice starting at one)
        const end = starts.find((s) => s > frameAt) ?? data.length;
        data = Buffer.concat([data.subarray(0, end), data.subarray(frameAt, end), data.subarray(end)]);
      }
    }
  }
  return data;
}

// ---- running one input ----------------------------------------------------------------------------------

export interface Limits {
  maxPayloadBytes: number;
  maxFragmentsPerMessage: number;
}

export interface RunResult {
  /** A compact description of the events, equal for equal behaviour. */
  signature: string;
  /** "ok" (input used up), "close", or "failure:<closeCode>:<code>". */
  outcome: string;
  messages: number;
  /** Set when an invariant broke: what broke. */
  violation: string | null;
}

/** A fixed masking key: the client's writes are deterministic, so both chunkings write the same bytes. */
class FixedKey extends MaskKeyPool {
  private readonly key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  override next(): Buffer {
    return this.key;
  }
}
const fixedKey = new FixedKey();

export type ProtocolFactory = (
  options: ProtocolOptions,
  handler: ProtocolHandler,
) => Pick<Protocol, "receive">;
const defaultFactory: ProtocolFactory = (options, handler) => new Protocol(options, handler);

const ALLOWED_CLOSE_CODES = new Set([1002, 1007, 1009]);

/** The payload of a frame we wrote (unmasking a client's), or null if `chunk` is not one whole frame. */
function writtenFrame(chunk: Buffer): { opcode: number; payload: Buffer } | null {
  if (chunk.length < 2) return null;
  const len7 = chunk[1] & 0x7f;
  if (len7 >= 126) return null; // control frames only
  const masked = (chunk[1] & 0x80) !== 0;
  const start = masked ? 6 : 2;
  if (chunk.length !== start + len7) return null;
  const payload = Buffer.from(chunk.subarray(start));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= chunk[2 + (i & 3)];
  return { opcode: chunk[0] & 0x0f, payload };
}

/** Feeds `chunks` to a fresh Protocol of `role` and checks every invariant. */
export function runOne(
  role: Role,
  chunks: Buffer[],
  limits: Limits,
  factory: ProtocolFactory = defaultFactory,
): RunResult {
  const sig: string[] = [];
  let violation: string | null = null;
  let ended = false;
  let failures = 0;
  let messages = 0;
  let outcome = "ok";
  let lastWrite: Buffer | null = null;
  const broke = (what: string) => {
    violation ??= what;
  };
  const handler: ProtocolHandler = {
    write(chunk) {
      if (ended) broke("write after the end");
      lastWrite = Buffer.from(chunk);
      sig.push(`w${chunk.toString("hex")}`);
    },
    onMessage(data, isText) {
      if (ended) broke("message after the end");
      if (isText && !isUtf8(data)) broke("text message that is not UTF-8");
      if (data.length > limits.maxPayloadBytes) broke(`message of ${data.length} bytes > maxPayloadBytes`);
      messages++;
      sig.push(`${isText ? "t" : "b"}${data.toString("hex")}`);
    },
    onPing(payload) {
      if (ended) broke("ping after the end");
      const pong = lastWrite === null ? null : writtenFrame(lastWrite);
      if (pong === null || pong.opcode !== 0xa || !pong.payload.equals(payload))
        broke("ping not answered by its pong");
      sig.push(`i${payload.toString("hex")}`);
    },
    onPong(payload) {
      if (ended) broke("pong after the end");
      sig.push(`o${payload.toString("hex")}`);
    },
    onCloseFrame(code, reason) {
      if (ended) broke("close after the end");
      ended = true;
      outcome = "close";
      const echo = lastWrite === null ? null : writtenFrame(lastWrite);
      if (
        echo === null ||
        echo.opcode !== 0x8 ||
        (echo.payload.length >= 2 ? echo.payload.readUInt16BE(0) : 1005) !== code
      ) {
        broke("peer's Close not echoed with its code");
      }
      sig.push(`c${code}:${reason}`);
    },
    onFailure(error) {
      failures++;
      if (failures > 1) broke("a second failure");
      if (ended && failures === 1) broke("failure after the peer's Close");
      ended = true;
      if (!(error instanceof ProtocolError)) {
        broke(`failure that is not a ProtocolError: ${String(error)}`);
        outcome = "failure:non-ProtocolError";
        return;
      }
      if (!ALLOWED_CLOSE_CODES.has(error.closeCode)) broke(`failure with close code ${error.closeCode}`);
      const close = lastWrite === null ? null : writtenFrame(lastWrite);
      if (
        close === null ||
        close.opcode !== 0x8 ||
        close.payload.length < 2 ||
        close.payload.readUInt16BE(0) !== error.closeCode
      ) {
        broke("failure not preceded by our Close with its code");
      }
      outcome = `failure:${error.closeCode}:${error.code}`;
      sig.push(`f${error.closeCode}:${error.code}`);
    },
  };
  try {
    const protocol = factory(
      { role, ...limits, maskKeys: role === "client" ? fixedKey : undefined },
      handler,
    );
    for (const chunk of chunks) protocol.receive(chunk);
  } catch (error) {
    broke(`exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    outcome = "exception";
  }
  return { signature: sig.join(","), outcome, messages, violation };
}

// ---- the loop ------------------------------------------------------------------------------------------

export interface Crash {
  kind: string;
  role: Role;
  detail: string;
  input: Buffer;
  cuts: number[];
  limits: Limits;
}

export interface FuzzOptions {
  inputs: number;
  seed: number;
  /** Per-input time above which an input is a hang (confirmed by a second run). Default 100. */
  hangMs?: number;
  /** Where to write crashing inputs as hex; null to write nothing. */
  crashDir?: string | null;
  /** Called every `progressEvery` inputs. */
  onProgress?: (report: FuzzReport) => void;
  progressEvery?: number;
  /** The Protocol under test (tests of the fuzzer itself pass a broken one). */
  factory?: ProtocolFactory;
  /** Stop after this many distinct crashes. Default 20. */
  maxCrashes?: number;
}

export interface FuzzReport {
  inputs: number;
  /** Protocol runs: inputs × 2 roles × 2 chunkings. */
  runs: number;
  elapsedMs: number;
  inputsPerSecond: number;
  messages: number;
  /** Runs per outcome ("ok", "close", "failure:1002:SJ_ERR_…", …), one-chunk runs only. */
  outcomes: Record<string, number>;
  /** Inputs by origin: valid, mutated, random. */
  kinds: Record<string, number>;
  slowestMs: number;
  crashes: Crash[];
}

function chunkCuts(rng: Rng, length: number): number[] {
  if (length <= 1) return [];
  if (length <= 40 && rng.chance(0.1)) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  const count = rng.range(1, 6);
  const cuts = new Set<number>();
  for (let i = 0; i < count; i++) cuts.add(rng.range(1, length - 1));
  return [...cuts].sort((a, b) => a - b);
}

function split(data: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(Buffer.from(data.subarray(from, cut)));
    from = cut;
  }
  out.push(Buffer.from(data.subarray(from)));
  return out;
}

export function writeCrash(dir: string, crash: Crash): string {
  mkdirSync(dir, { recursive: true });
  const name = `${crash.kind}-${crash.role}-${fnv(crash.input).toString(16).padStart(8, "0")}.hex`;
  const path = join(dir, name);
  const text = [
    `# kind: ${crash.kind}`,
    `# role: ${crash.role}`,
    `# detail: ${crash.detail.split("\n").join("\n#   ")}`,
    `# maxPayloadBytes: ${crash.limits.maxPayloadBytes}`,
    `# maxFragmentsPerMessage: ${crash.limits.maxFragmentsPerMessage}`,
    `# cuts: ${crash.cuts.join(" ")}`,
    crash.input.toString("hex"),
    "",
  ].join("\n");
  writeFileSync(path, text);
  return path;
}

/** Reads a file written by writeCrash back. */
export function parseCrash(text: string): Crash {
  const field = (name: string) => text.match(new RegExp(`^# ${name}: ?(.*)$`, "m"))?.[1] ?? "";
  const hexLine = text.split("\n").find((line) => line.length > 0 && !line.startsWith("#")) ?? "";
  return {
    kind: field("kind"),
    role: field("role") as Role,
    detail: field("detail"),
    input: Buffer.from(hexLine.trim(), "hex"),
    cuts: field("cuts").split(" ").filter(Boolean).map(Number),
    limits: {
      maxPayloadBytes: Number(field("maxPayloadBytes")),
      maxFragmentsPerMessage: Number(field("maxFragmentsPerMessage")),
    },
  };
}

function fnv(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
  return h;
}

export function fuzz(options: FuzzOptions): FuzzReport {
  const rng = new Rng(options.seed);
  const hangMs = options.hangMs ?? 100;
  const maxCrashes = options.maxCrashes ?? 20;
  const factory = options.factory ?? defaultFactory;
  const progressEvery = options.progressEvery ?? 100_000;
  const seenCrashes = new Set<string>();
  const report: FuzzReport = {
    inputs: 0,
    runs: 0,
    elapsedMs: 0,
    inputsPerSecond: 0,
    messages: 0,
    outcomes: {},
    kinds: { valid: 0, mutated: 0, random: 0 },
    slowestMs: 0,
    crashes: [],
  };
  const started = performance.now();
  // Every failure builds a ProtocolError, and capturing its stack trace would be most of the fuzzer's time.
  // Stacks are turned back on to describe an exception once one is found.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const addCrash = (crash: Crash) => {
    if (crash.kind === "exception") {
      Error.stackTraceLimit = stackTraceLimit;
      const again = runOne(crash.role, split(crash.input, crash.cuts), crash.limits, factory);
      Error.stackTraceLimit = 0;
      if (again.violation !== null) crash.detail = again.violation;
    }
    const key = `${crash.kind}:${crash.role}:${crash.detail.split("\n")[0]}`;
    if (seenCrashes.has(key)) return;
    seenCrashes.add(key);
    report.crashes.push(crash);
    if (options.crashDir) writeCrash(options.crashDir, crash);
  };

  try {
    const corpus: Buffer[] = [];
    for (let n = 0; n < options.inputs && report.crashes.length < maxCrashes; n++) {
      // The input.
      let input: Buffer;
      const r = rng.int(100);
      if (r < 10) {
        input = rng.bytes(rng.int(rng.chance(0.9) ? 64 : 400));
        report.kinds.random++;
      } else {
        const valid = generateValid(rng, rng.chance(0.5) ? "server" : "client");
        if (r < 25) {
          input = valid.bytes;
          report.kinds.valid++;
        } else {
          input = mutate(rng, valid, corpus);
          report.kinds.mutated++;
        }
      }
      if (input.length <= 4096) {
        if (corpus.length < 64) corpus.push(input);
        else corpus[rng.int(64)] = input;
      }
      const limits: Limits = {
        maxPayloadBytes: rng.chance(0.8) ? 1024 : rng.pick([16, 70_000]),
        maxFragmentsPerMessage: rng.pick([4, 64]),
      };

      const t0 = performance.now();
      for (const role of ["server", "client"] as const) {
        const cuts = chunkCuts(rng, input.length);
        // receive() takes ownership and unmasks in place: each run gets its own copy.
        const whole = runOne(role, [Buffer.from(input)], limits, factory);
        const chunked = runOne(role, split(input, cuts), limits, factory);
        report.runs += 2;
        report.messages += whole.messages;
        report.outcomes[whole.outcome] = (report.outcomes[whole.outcome] ?? 0) + 1;
        for (const [run, runCuts] of [
          [whole, [] as number[]],
          [chunked, cuts],
        ] as const) {
          if (run.violation !== null) {
            const kind = run.outcome === "exception" ? "exception" : "invariant";
            addCrash({ kind, role, detail: run.violation, input, cuts: runCuts, limits });
          }
        }
        if (whole.violation === null && chunked.violation === null && whole.signature !== chunked.signature) {
          addCrash({
            kind: "chunking",
            role,
            detail: `one chunk: ${whole.signature.slice(0, 200)}\nchunked: ${chunked.signature.slice(0, 200)}`,
            input,
            cuts,
            limits,
          });
        }
      }
      const took = performance.now() - t0;
      if (took > report.slowestMs) report.slowestMs = took;
      if (took > hangMs) {
        // A GC pause can take that long once; a hang takes that long every time.
        const t1 = performance.now();
        for (const role of ["server", "client"] as const) runOne(role, [Buffer.from(input)], limits, factory);
        const again = performance.now() - t1;
        if (again > hangMs) {
          addCrash({
            kind: "hang",
            role: "server",
            detail: `${took.toFixed(1)} ms, then ${again.toFixed(1)} ms`,
            input,
            cuts: [],
            limits,
          });
        }
      }
      report.inputs++;
      if (options.onProgress && report.inputs % progressEvery === 0) {
        report.elapsedMs = performance.now() - started;
        report.inputsPerSecond = report.inputs / (report.elapsedMs / 1000);
        options.onProgress(report);
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  report.elapsedMs = performance.now() - started;
  report.inputsPerSecond = report.inputs / (report.elapsedMs / 1000);
  return report;
}
