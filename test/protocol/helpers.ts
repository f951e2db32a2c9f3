// Shared helpers for the protocol tests: byte vectors written as hex, a frame builder that is independent of
// src/protocol (so a bug in the writer cannot hide a bug in the parser), and a Protocol wired to a handler
// that records every event and every byte written, in order.

import { isUtf8 } from "node:buffer";
import { ProtocolError } from "../../src/protocol/errors.js";
import type { PerMessageExtension } from "../../src/protocol/extension.js";
import { MaskKeyPool } from "../../src/protocol/mask.js";
import { Protocol } from "../../src/protocol/protocol.js";
import type { ProtocolOptions, Role } from "../../src/protocol/protocol-options.js";

// ---- bytes --------------------------------------------------------------------------------------------

/** Bytes from hex strings ("81 05 48 65"), byte arrays and buffers, concatenated. */
export function bytes(...parts: (string | number[] | Uint8Array)[]): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      if (typeof part !== "string") return Buffer.from(part);
      const digits = part.replace(/\s+/g, "");
      if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`not hex: ${part}`);
      return Buffer.from(digits, "hex");
    }),
  );
}

/** "81 05 48 65 6c 6c 6f": how byte vectors are printed in events, so a failing assertion reads like the RFC. */
export function hex(buf: Uint8Array): string {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.length)
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");
}

/** `n` bytes counting 0, 1, 2, … (mod 256): a payload whose every byte is distinguishable. */
export function counting(n: number, start = 0): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (start + i) & 0xff;
  return out;
}

// ---- frames, built by hand ------------------------------------------------------------------------------

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_KEY = bytes("37 fa 21 3d");

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** A 4-byte masking key, or null/undefined for an unmasked frame. */
  mask?: Uint8Array | null;
  /** Force the length encoding (7, 16 or 64 bits) instead of the minimal one. */
  lengthBits?: 7 | 16 | 64;
}

/** Encodes one frame exactly as RFC 6455 §5.2 draws it, byte by byte. */
export function frame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === "string" ? Buffer.from(spec.payload, "utf8") : (spec.payload ?? []);
  const length = payload.length;
  const bits = spec.lengthBits ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const head: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) |
      (spec.rsv1 ? 0x40 : 0) |
      (spec.rsv2 ? 0x20 : 0) |
      (spec.rsv3 ? 0x10 : 0) |
      spec.opcode,
  ];
  const maskBit = spec.mask ? 0x80 : 0;
  if (bits === 7) {
    if (length > 125) throw new Error("length does not fit in 7 bits");
    head.push(maskBit | length);
  } else if (bits === 16) {
    if (length > 0xffff) throw new Error("length does not fit in 16 bits");
    head.push(maskBit | 126, length >> 8, length & 0xff);
  } else {
    head.push(maskBit | 127);
    for (let shift = 7; shift >= 0; shift--) head.push(Math.floor(length / 2 ** (shift * 8)) & 0xff);
  }
  const body = Buffer.from(payload);
  if (spec.mask) {
    head.push(...spec.mask);
    for (let i = 0; i < body.length; i++) body[i] ^= spec.mask[i % 4];
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** A frame as a client sends it to a server: masked (with the RFC's example key unless given). */
export function clientFrame(spec: FrameSpec): Buffer {
  return frame({ mask: RFC_KEY, ...spec });
}

/** A frame as a server sends it to a client: unmasked. */
export function serverFrame(spec: FrameSpec): Buffer {
  return frame({ ...spec, mask: null });
}

/** A frame as `role` receives it from its peer. */
export function frameTo(role: Role, spec: FrameSpec): Buffer {
  return role === "server" ? clientFrame(spec) : serverFrame(spec);
}

/**
 * The bytes `role` writes for an unmasked frame given as hex: unchanged for a server; for a client the mask
 * bit is set, the RFC key inserted and the payload XORed with it (the clients in these tests use
 * FixedMaskKeys, which always hands out the RFC key).
 */
export function sentBy(role: Role, unmaskedFrame: string): string {
  const plain = bytes(unmaskedFrame);
  if (role === "server") return hex(plain);
  const len7 = plain[1] & 0x7f;
  const headerLength = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  const out = Buffer.concat([plain.subarray(0, headerLength), RFC_KEY, plain.subarray(headerLength)]);
  out[1] |= 0x80;
  for (let i = 0; i < plain.length - headerLength; i++) out[headerLength + 4 + i] ^= RFC_KEY[i % 4];
  return hex(out);
}

/** The Close frame payload for `code` and `reason` (§5.5.1: 2-byte code, big-endian, then UTF-8). */
export function closePayload(code: number, reason = ""): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, "utf8");
  return out;
}

/** The unmasked Close frame for `code` as hex ("88 02 03 ea" for 1002). */
export function closeFrameHex(code: number, reason = ""): string {
  return hex(frame({ opcode: 0x8, payload: closePayload(code, reason) }));
}

// ---- masking keys -------------------------------------------------------------------------------------

/** Always hands out the same key, so a client's output is exact bytes. */
export class FixedMaskKeys extends MaskKeyPool {
  private readonly key: Buffer;
  constructor(key: Uint8Array = RFC_KEY) {
    super();
    this.key = Buffer.from(key);
  }
  override next(): Buffer {
    return Buffer.from(this.key);
  }
}

/** A different but reproducible key per frame (keys 00 01 02 03, 04 05 06 07, …). */
export class CountingMaskKeys extends MaskKeyPool {
  private n = 0;
  override next(): Buffer {
    const b = this.n;
    this.n += 4;
    return Buffer.from([b & 0xff, (b + 1) & 0xff, (b + 2) & 0xff, (b + 3) & 0xff]);
  }
}

// ---- the recording peer -------------------------------------------------------------------------------

export type Event =
  | { type: "write"; bytes: string }
  | { type: "text"; data: string }
  | { type: "binary"; bytes: string }
  | { type: "ping"; bytes: string }
  | { type: "pong"; bytes: string }
  | { type: "close"; code: number; reason: string }
  | { type: "failure"; closeCode: number; code: string };

export const write = (frameHex: string): Event => ({ type: "write", bytes: hex(bytes(frameHex)) });
export const text = (data: string): Event => ({ type: "text", data });
export const binary = (data: Uint8Array | string): Event => ({
  type: "binary",
  bytes: hex(typeof data === "string" ? bytes(data) : data),
});
export const pinged = (payload: Uint8Array | string = ""): Event => ({
  type: "ping",
  bytes: hex(typeof payload === "string" ? Buffer.from(payload) : payload),
});
export const ponged = (payload: Uint8Array | string = ""): Event => ({
  type: "pong",
  bytes: hex(typeof payload === "string" ? Buffer.from(payload) : payload),
});
export const closed = (code: number, reason = ""): Event => ({ type: "close", code, reason });
export const failed = (closeCode: number, code: string): Event => ({ type: "failure", closeCode, code });

export interface Peer {
  readonly role: Role;
  readonly protocol: Protocol;
  /** Every event so far, in order. */
  readonly events: Event[];
  /** The errors passed to onFailure (the real objects, for instanceof checks). */
  readonly errors: unknown[];
  /** Feeds each chunk (a copy: the protocol unmasks in place) and returns the events this caused. */
  feed(...chunks: Uint8Array[]): Event[];
  /** Returns and forgets the events recorded since the last call to take() or feed(). */
  take(): Event[];
}

export interface PeerOptions extends Omit<ProtocolOptions, "role"> {
  extension?: PerMessageExtension | null;
}

/**
 * A Protocol whose handler records events. The handler also enforces what must hold whatever the input:
 * text messages are valid UTF-8, nothing but writes follows a failure, and onFailure gets a ProtocolError —
 * a violation throws out of receive(), so any test would fail on it.
 */
export function createPeer(role: Role, options: PeerOptions = {}): Peer {
  const events: Event[] = [];
  const errors: unknown[] = [];
  let seen = 0;
  let ended = false;
  const guard = (what: string) => {
    if (ended) throw new Error(`${what} after the connection failed or the peer's Close arrived`);
  };
  const protocol = new Protocol(
    { maskKeys: role === "client" ? new FixedMaskKeys() : undefined, ...options, role },
    {
      write(chunk) {
        // Our Close is written before onCloseFrame/onFailure; after those nothing may be written at all.
        guard("write");
        events.push({ type: "write", bytes: hex(chunk) });
      },
      onMessage(data, isText) {
        guard("onMessage");
        if (isText) {
          if (!isUtf8(data)) throw new Error("onMessage delivered text that is not valid UTF-8");
          events.push({ type: "text", data: data.toString("utf8") });
        } else {
          events.push({ type: "binary", bytes: hex(data) });
        }
      },
      onPing(payload) {
        guard("onPing");
        events.push({ type: "ping", bytes: hex(payload) });
      },
      onPong(payload) {
        guard("onPong");
        events.push({ type: "pong", bytes: hex(payload) });
      },
      onCloseFrame(code, reason) {
        guard("onCloseFrame");
        ended = true;
        events.push({ type: "close", code, reason });
      },
      onFailure(error) {
        if (errors.length > 0) throw new Error("onFailure called twice");
        if (!(error instanceof ProtocolError)) throw new Error(`onFailure got a non-ProtocolError: ${error}`);
        ended = true;
        errors.push(error);
        if (failureWritesClose) expectReasonOnWire(events, error);
        events.push({ type: "failure", closeCode: error.closeCode, code: error.code });
      },
    },
  );
  // Whether the failing call writes a Close of its own (none was sent before it): seen through fail(),
  // which every failure inside the protocol goes through.
  let failureWritesClose = false;
  const fail = protocol.fail.bind(protocol);
  protocol.fail = (error) => {
    failureWritesClose = !protocol.closing;
    fail(error);
  };
  const take = () => {
    const out = events.slice(seen);
    seen = events.length;
    return out;
  };
  return {
    role,
    protocol,
    events,
    errors,
    take,
    feed(...chunks) {
      for (const chunk of chunks) protocol.receive(Buffer.from(chunk));
      return take();
    },
  };
}

/**
 * RFC 6455 §7.1.6: the Close frame sent for a failure (the last write) carries the error's message as its
 * reason, cut to 123 bytes on a character boundary. Checked here for every failure; the event is then
 * recorded with the code alone, so tests about codes state the frame as `closeFrameHex(code)`.
 */
function expectReasonOnWire(events: Event[], error: ProtocolError): void {
  const last = events.at(-1);
  if (last?.type !== "write") return;
  const frame = bytes(last.bytes);
  if ((frame[0] & 0x0f) !== 0x8) return;
  const masked = (frame[1] & 0x80) !== 0;
  const key = masked ? frame.subarray(2, 6) : null;
  const payload = Buffer.from(frame.subarray(masked ? 6 : 2));
  if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  let expected = Buffer.from(error.message, "utf8");
  if (expected.length > 123) {
    let end = 123;
    while ((expected[end] & 0xc0) === 0x80) end--;
    expected = expected.subarray(0, end);
  }
  if (payload.length < 2 || !payload.subarray(2).equals(expected)) {
    throw new Error(
      `the Close frame's reason ${JSON.stringify(payload.subarray(2).toString())} is not the error's message ${JSON.stringify(error.message)}`,
    );
  }
  const codeOnly = Buffer.from([0x88, masked ? 0x82 : 0x02]);
  const body = payload.subarray(0, 2);
  if (key !== null) for (let i = 0; i < 2; i++) body[i] ^= key[i];
  last.bytes = hex(Buffer.concat(key === null ? [codeOnly, body] : [codeOnly, key, body]));
}

export const createServer = (options: PeerOptions = {}): Peer => createPeer("server", options);
export const createClient = (options: PeerOptions = {}): Peer => createPeer("client", options);

/** Both roles, for rules that hold on either side. */
export const ROLES: readonly Role[] = ["server", "client"];

/**
 * What `role` records when it fails the connection: its Close frame with `closeCode` (masked for a client),
 * then onFailure (§7.1.7: the Close is sent first).
 */
export function failure(role: Role, closeCode: number, code: string): Event[] {
  return [write(sentBy(role, closeFrameHex(closeCode))), failed(closeCode, code)];
}

/** `data` cut at the given offsets (sorted, within 0..length). */
export function splitAt(data: Uint8Array, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(Buffer.from(data.subarray(from, cut)));
    from = cut;
  }
  out.push(Buffer.from(data.subarray(from)));
  return out;
}

/** Runs a fresh peer over `chunks` and returns all its events. */
export function eventsFor(role: Role, chunks: Uint8Array[], options: PeerOptions = {}): Event[] {
  const peer = createPeer(role, options);
  peer.feed(...chunks);
  return peer.events;
}

/** A frame's payload length field (§5.2) and where the bytes after it (key or payload) start. */
export function frameLength(frame: Uint8Array): { length: number; at: number } {
  const b1 = frame[1] & 0x7f;
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (b1 === 126) return { length: view.readUInt16BE(2), at: 4 };
  if (b1 === 127) return { length: view.readUInt32BE(2) * 0x100000000 + view.readUInt32BE(6), at: 10 };
  return { length: b1, at: 2 };
}
