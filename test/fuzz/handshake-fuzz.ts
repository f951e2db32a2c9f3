// Structure-aware fuzzing of the opening-handshake parsers: validateUpgradeRequest (RFC 6455 §4.2.1),
// parseExtensionOffers (§9.1) and parseProtocolList (§11.3.4). Inputs start as valid requests — the right
// headers, extension offers with parameters and quoted values, protocol lists with OWS — and go through a few
// structural mutations (drop, duplicate or rename a header, arrays of values, prototype-named keys, another
// method or HTTP version) and string mutations of header values (grammar characters, CR/LF/NUL/DEL, obs-text
// and non-Latin-1 code units, deletions, truncation, splices, and long repeats of a piece to hunt for
// superlinear scans).
//
// A finding is: an exception; a result outside the contract (ok with a key that is not 24 base64 chars, a
// protocol that is not a token or is repeated, an extension name or parameter that is not a token; a
// rejection whose status is not 400/405/426 or without a reason); a parsed list that does not survive a
// round trip (format → parse gives the same offers; join → parse gives the same protocols); or an input
// that takes more than `hangMs` (the fastest of three runs).

import { performance } from "node:perf_hooks";
import { validateUpgradeRequest } from "../../src/protocol/handshake.js";
import {
  type ExtensionOffer,
  formatExtensionOffers,
  isToken,
  parseExtensionOffers,
  parseProtocolList,
} from "../../src/protocol/header-grammar.js";

// ---- a small seedable PRNG (xorshift128+ on 32-bit halves, seeded by splitmix32) ------------------------------

export class Random {
  private s: Uint32Array;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = new Uint32Array([next(), next(), next(), next() | 1]);
  }

  /** A 32-bit unsigned integer (xoshiro128**). */
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---- valid material ---------------------------------------------------------------------------------------------

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function token(r: Random, max = 12): string {
  let s = "";
  const n = 1 + r.int(max);
  for (let i = 0; i < n; i++) s += TOKEN_CHARS[r.int(TOKEN_CHARS.length)];
  return s;
}

function ows(r: Random): string {
  return r.chance(0.7) ? "" : r.pick([" ", "  ", "\t", " \t "]);
}

function key(r: Random): string {
  let s = "";
  for (let i = 0; i < 22; i++) s += B64[r.int(64)];
  return `${s}==`;
}

function extensionValue(r: Random): string {
  const offers: string[] = [];
  const n = 1 + r.int(3);
  for (let i = 0; i < n; i++) {
    let offer = r.chance(0.6) ? "permessage-deflate" : token(r);
    const params = r.int(5);
    for (let p = 0; p < params; p++) {
      const name = r.pick([
        "client_max_window_bits",
        "server_max_window_bits",
        "server_no_context_takeover",
        "client_no_context_takeover",
        token(r, 8),
      ]);
      offer += `${ows(r)};${ows(r)}${name}`;
      const kind = r.int(4);
      if (kind === 1) offer += `${ows(r)}=${ows(r)}${r.chance(0.5) ? String(8 + r.int(8)) : token(r, 6)}`;
      else if (kind === 2) offer += `=${ows(r)}"${r.chance(0.5) ? String(8 + r.int(8)) : token(r, 6)}"`;
      else if (kind === 3)
        offer += `="${token(r, 3)}\\${TOKEN_CHARS[r.int(TOKEN_CHARS.length)]}${token(r, 3)}"`;
    }
    offers.push(offer);
  }
  return offers.join(`${ows(r)},${ows(r)}${r.chance(0.1) ? "," : ""}`);
}

function protocolValue(r: Random): string {
  const names = new Set<string>();
  const n = 1 + r.int(5);
  while (names.size < n)
    names.add(r.chance(0.5) ? r.pick(["chat", "superchat", "v1.json", "mqtt", "wamp.2.json"]) : token(r));
  return [...names].join(`${ows(r)},${ows(r)}`);
}

export type Headers = Record<string, string | string[] | undefined>;

export interface RequestInput {
  method: string;
  httpVersion?: string;
  headers: Headers;
}

export function validRequest(r: Random): RequestInput {
  const headers: Headers = {
    host: r.chance(0.5) ? "127.0.0.1:8080" : "example.com",
    upgrade: r.pick(["websocket", "WebSocket", "websocket, h2c", "h2c, websocket"]),
    connection: r.pick(["Upgrade", "upgrade", "keep-alive, Upgrade", "Upgrade,keep-alive"]),
    "sec-websocket-key": key(r),
    "sec-websocket-version": "13",
  };
  if (r.chance(0.7)) headers["sec-websocket-extensions"] = extensionValue(r);
  if (r.chance(0.7)) headers["sec-websocket-protocol"] = protocolValue(r);
  if (r.chance(0.3)) headers.origin = "https://example.com";
  return { method: "GET", httpVersion: "1.1", headers };
}

// ---- mutations ----------------------------------------------------------------------------------------------------

const INTERESTING = [
  ",",
  ";",
  "=",
  '"',
  "\\",
  " ",
  "\t",
  "\r",
  "\n",
  "\r\n",
  "\0",
  "\x7f",
  "\x80",
  "\xff",
  "é",
  "\u0100",
  "\u2028",
  "\ud800",
  "\ufeff",
  "😀",
  "/",
  "(",
  ")",
  "<",
  ">",
  "@",
  ":",
  "[",
  "]",
  "?",
  "{",
  "}",
  "a",
  '="',
  '\\"',
  ";;",
  ",,",
];

export function mutateString(r: Random, s: string, maxLength: number): string {
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const at = r.int(s.length + 1);
    switch (r.int(9)) {
      case 0:
        s = s.slice(0, at) + r.pick(INTERESTING) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + r.int(4));
        break;
      case 2:
        s = s.slice(0, at);
        break;
      case 3: {
        // Replace one char with a random code unit (mostly Latin-1, as Node decodes headers).
        const c = r.chance(0.9) ? String.fromCharCode(r.int(256)) : String.fromCharCode(r.int(0x10000));
        s = s.slice(0, at) + c + s.slice(at + 1);
        break;
      }
      case 4: {
        // Repeat a piece many times: long runs are where a superlinear scan shows.
        const piece = s.slice(at, at + 1 + r.int(6)) || r.pick(INTERESTING);
        const times = r.chance(0.8) ? 1 + r.int(50) : 1000 + r.int(10_000);
        s = s.slice(0, at) + piece.repeat(times) + s.slice(at);
        break;
      }
      case 5: {
        const from = r.int(s.length + 1);
        s = s.slice(0, at) + s.slice(from, from + r.int(10)) + s.slice(at);
        break;
      }
      case 6:
        s = s.toUpperCase();
        break;
      case 7:
        s = ` ${s}\t`;
        break;
      default:
        s = s.slice(0, at) + r.pick(INTERESTING).repeat(1 + r.int(5)) + s.slice(at);
    }
  }
  return s.length > maxLength ? s.slice(0, maxLength) : s;
}

const HEADER_NAMES = [
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
];

export function mutateRequest(r: Random, req: RequestInput, maxLength: number): RequestInput {
  const headers: Headers = { ...req.headers };
  let method = req.method;
  let httpVersion = req.httpVersion;
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const name = r.chance(0.6)
      ? r.pick(["sec-websocket-extensions", "sec-websocket-protocol"])
      : r.pick(HEADER_NAMES);
    const value = headers[name];
    switch (r.int(10)) {
      case 0:
        delete headers[name];
        break;
      case 1:
        // Two fields of the same name, as Node hands repeats of some headers: an array.
        headers[name] = [
          typeof value === "string" ? value : "x",
          r.chance(0.5) ? "" : mutateString(r, String(value ?? ""), maxLength),
        ];
        break;
      case 2: {
        // The same header under another case (our lookup is case-insensitive over own keys).
        const other = r.chance(0.5) ? name.toUpperCase() : name.replace(/^./, (c) => c.toUpperCase());
        headers[other] = value;
        if (r.chance(0.5)) delete headers[name];
        break;
      }
      case 3:
        Object.defineProperty(headers, r.pick(["__proto__", "constructor", "toString", "hasOwnProperty"]), {
          value: r.chance(0.5) ? "websocket" : ["Upgrade"],
          enumerable: true,
          configurable: true,
          writable: true,
        });
        break;
      case 4:
        method = r.pick(["GET", "get", "POST", "CONNECT", "", "GET ", "G\0T"]);
        break;
      case 5:
        httpVersion = r.pick([
          undefined,
          "1.1",
          "1.0",
          "2.0",
          "0.9",
          "1.",
          ".1",
          "1.1.1",
          "11",
          "x.y",
          "",
          "1.10",
        ]);
        break;
      case 6:
        headers[name] = undefined;
        break;
      default:
        headers[name] = mutateString(
          r,
          Array.isArray(value) ? value.join(", ") : String(value ?? ""),
          maxLength,
        );
    }
  }
  return httpVersion === undefined ? { method, headers } : { method, httpVersion, headers };
}

// ---- the oracle ---------------------------------------------------------------------------------------------------

function checkOffers(value: string, offers: ExtensionOffer[] | null): string | null {
  if (offers === null) return null;
  if (offers.length === 0) return "parseExtensionOffers returned an empty list instead of null";
  for (const offer of offers) {
    if (!isToken(offer.name)) return `extension name ${JSON.stringify(offer.name)} is not a token`;
    for (const [name, v] of offer.params) {
      if (!isToken(name)) return `parameter name ${JSON.stringify(name)} is not a token`;
      if (v !== true && !isToken(v)) return `parameter value ${JSON.stringify(v)} is not a token (§9.1)`;
    }
  }
  const again = parseExtensionOffers(formatExtensionOffers(offers));
  if (JSON.stringify(again) !== JSON.stringify(offers)) {
    return `offers do not survive format → parse: ${JSON.stringify(value.slice(0, 200))}`;
  }
  return null;
}

function checkProtocols(protocols: string[] | null): string | null {
  if (protocols === null) return null;
  if (protocols.length === 0) return "parseProtocolList returned an empty list instead of null";
  const seen = new Set<string>();
  for (const p of protocols) {
    if (!isToken(p)) return `protocol ${JSON.stringify(p)} is not a token`;
    if (seen.has(p)) return `protocol ${JSON.stringify(p)} is repeated`;
    seen.add(p);
  }
  const again = parseProtocolList(protocols.join(", "));
  if (JSON.stringify(again) !== JSON.stringify(protocols)) return "protocols do not survive join → parse";
  return null;
}

/** Runs one input through the three functions; returns a finding or null. */
export function checkOne(req: RequestInput): string | null {
  const result = validateUpgradeRequest(req);
  if (result.ok) {
    if (typeof result.key !== "string" || !/^[A-Za-z0-9+/]{22}==$/.test(result.key)) {
      return `accepted an invalid key ${JSON.stringify(result.key)}`;
    }
    if (req.method !== "GET") return `accepted method ${JSON.stringify(req.method)}`;
    const p = checkProtocols(result.protocols.length === 0 ? null : result.protocols);
    if (p !== null) return p;
    if (result.extensions.length > 0) {
      const e = checkOffers("", result.extensions);
      if (e !== null) return e;
    }
  } else {
    if (![400, 405, 426].includes(result.status)) return `rejected with status ${result.status}`;
    if (typeof result.reason !== "string" || result.reason === "") return "rejected without a reason";
  }
  // The list parsers on their own, on every string value of the request.
  for (const value of Object.values(req.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== "string") continue;
      const e = checkOffers(v, parseExtensionOffers(v));
      if (e !== null) return e;
      const p = checkProtocols(parseProtocolList(v));
      if (p !== null) return p;
    }
  }
  return null;
}

/** The functions under test, on everything in the request, without the oracle: this is what is timed. */
export function parseAll(req: RequestInput): void {
  validateUpgradeRequest(req);
  for (const value of Object.values(req.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== "string") continue;
      parseExtensionOffers(v);
      parseProtocolList(v);
    }
  }
}

export interface Finding {
  kind: "exception" | "contract" | "hang";
  detail: string;
  input: RequestInput;
}

export interface HandshakeFuzzReport {
  inputs: number;
  accepted: number;
  rejected: number;
  findings: Finding[];
  slowestMs: number;
  slowestBytes: number;
  elapsedMs: number;
  /** Total bytes of header values fed. */
  bytes: number;
}

function inputBytes(req: RequestInput): number {
  let n = 0;
  for (const v of Object.values(req.headers)) {
    if (typeof v === "string") n += v.length;
    else if (Array.isArray(v)) for (const x of v) n += x.length;
  }
  return n;
}

/**
 * Fuzzes `inputs` inputs from `seed`. `hangMs` bounds the time for one input (the fastest of three runs, to
 * rule out a GC pause); `maxLength` bounds a mutated header value. Stops early after `maxFindings`.
 */
export function fuzzHandshake(options: {
  inputs: number;
  seed: number;
  hangMs?: number;
  maxLength?: number;
  maxFindings?: number;
  onProgress?: (done: number, report: HandshakeFuzzReport) => void;
}): HandshakeFuzzReport {
  const r = new Random(options.seed);
  const hangMs = options.hangMs ?? 50;
  const maxLength = options.maxLength ?? 100_000;
  const maxFindings = options.maxFindings ?? 20;
  const report: HandshakeFuzzReport = {
    inputs: 0,
    accepted: 0,
    rejected: 0,
    findings: [],
    slowestMs: 0,
    slowestBytes: 0,
    elapsedMs: 0,
    bytes: 0,
  };
  const started = performance.now();
  let previous = validRequest(r);
  for (let i = 0; i < options.inputs && report.findings.length < maxFindings; i++) {
    // Mostly fresh valid requests, sometimes the previous input mutated again (deeper mutations).
    const base = r.chance(0.25) ? previous : validRequest(r);
    const req = r.chance(0.1) ? base : mutateRequest(r, base, maxLength);
    previous = req;
    report.inputs++;
    report.bytes += inputBytes(req);
    let finding: string | null;
    let ms: number;
    try {
      const t0 = performance.now();
      parseAll(req);
      ms = performance.now() - t0;
      finding = checkOne(req);
    } catch (error) {
      report.findings.push({
        kind: "exception",
        detail: String((error as Error)?.stack ?? error),
        input: req,
      });
      continue;
    }
    // A slow first run may be a GC pause or a deoptimization: re-time it twice and keep the fastest.
    if (ms > hangMs / 10) {
      for (let k = 0; k < 2; k++) {
        const t1 = performance.now();
        parseAll(req);
        ms = Math.min(ms, performance.now() - t1);
      }
      if (ms > hangMs) {
        report.findings.push({
          kind: "hang",
          detail: `${ms.toFixed(1)} ms for ${inputBytes(req)} bytes`,
          input: req,
        });
      }
    }
    if (ms > report.slowestMs) {
      report.slowestMs = ms;
      report.slowestBytes = inputBytes(req);
    }
    if (finding !== null) report.findings.push({ kind: "contract", detail: finding, input: req });
    if (validateUpgradeRequest(req).ok) report.accepted++;
    else report.rejected++;
    if (options.onProgress && (i + 1) % 100_000 === 0) options.onProgress(i + 1, report);
  }
  report.elapsedMs = performance.now() - started;
  return report;
}

/** A finding's input as JSON that can be pasted into a regression test (strings escaped). */
export function describeInput(input: RequestInput): string {
  const short = (v: unknown): unknown =>
    typeof v === "string" && v.length > 300
      ? `${v.slice(0, 300)}… (${v.length} chars)`
      : Array.isArray(v)
        ? v.map(short)
        : v;
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k] = short(v);
  return JSON.stringify({ method: input.method, httpVersion: input.httpVersion, headers });
}
