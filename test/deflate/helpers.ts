// Helpers for the permessage-deflate tests: promise wrappers around the codec, an independent reference
// (node:zlib used directly, the way RFC 7692 §7.2 describes it), payload generators, and a raw TCP peer that
// speaks exact bytes so malformed compressed frames can be sent and the answers read.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import zlib from "node:zlib";
import type { CodecConfig } from "../../src/protocol/permessage-deflate/codec.js";
import { PerMessageDeflate } from "../../src/protocol/permessage-deflate/codec.js";

export const HOST = "127.0.0.1";

export const TAIL = Buffer.from("0000ffff", "hex");

/** A codec with the defaults of a fresh negotiation (window 15, context takeover), overridable. */
export function codec(config: Partial<CodecConfig> = {}): PerMessageDeflate {
  return new PerMessageDeflate({
    thresholdBytes: 1024,
    level: 1,
    memLevel: 8,
    compressWindowBits: 15,
    compressNoContextTakeover: false,
    decompressWindowBits: 15,
    decompressNoContextTakeover: false,
    ...config,
  });
}

export function encode(c: PerMessageDeflate, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    c.encode(payload, (error, out) => (error ? reject(error) : resolve(out!))),
  );
}

export function decode(
  c: PerMessageDeflate,
  fragments: Buffer[],
  maxBytes = 64 * 1024 * 1024,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    c.decode(fragments, maxBytes, (error, out) => (error ? reject(error) : resolve(out!))),
  );
}

/**
 * RFC 7692 §7.2.1 done with zlib directly, independent of the codec: deflate with a sync flush, then drop
 * the trailing 00 00 ff ff. One call = one message compressed with a fresh window.
 */
export function referenceCompress(payload: Buffer, windowBits = 15): Buffer {
  const out = zlib.deflateRawSync(payload, {
    windowBits: windowBits === 8 ? 9 : windowBits,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  assert.equal(out.subarray(-4).toString("hex"), "0000ffff");
  return out.subarray(0, -4);
}

/** RFC 7692 §7.2.2 done with zlib directly: append 00 00 ff ff and inflate (a fresh window). */
export function referenceDecompress(compressed: Buffer, windowBits = 15): Buffer {
  return zlib.inflateRawSync(Buffer.concat([compressed, TAIL]), {
    windowBits,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
}

/** A reference decompressor that keeps its window across messages (context takeover). */
export class ReferenceInflater {
  private readonly stream: zlib.InflateRaw;
  private chunks: Buffer[] = [];
  constructor(windowBits = 15) {
    this.stream = zlib.createInflateRaw({ windowBits, flush: zlib.constants.Z_SYNC_FLUSH });
    this.stream.on("data", (chunk: Buffer) => this.chunks.push(chunk));
  }
  inflate(compressed: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.stream.once("error", reject);
      this.stream.write(Buffer.concat([compressed, TAIL]), () => {
        this.stream.off("error", reject);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }
  close(): void {
    this.stream.close();
  }
}

/** A JSON message like an app sends: same shape every time, varying values. */
export function jsonMessage(i: number, targetBytes = 1024): Buffer {
  const items: object[] = [];
  const base = {
    type: "order.updated",
    seq: i,
    ts: 1_700_000_000_000 + i * 137,
    user: {
      id: `u-${(i * 7919) % 100_000}`,
      name: ["alice", "bob", "carol", "dave"][i % 4],
      locale: "en-GB",
    },
    items,
  };
  let length = JSON.stringify(base).length;
  for (let n = 0; length < targetBytes - 90; n++) {
    const item = {
      sku: `SKU-${(i * 31 + n * 17) % 10_000}`,
      qty: (i + n) % 5,
      price: ((i * 13 + n * 7) % 9999) / 100,
    };
    items.push(item);
    length += JSON.stringify(item).length + 1;
  }
  const text = JSON.stringify(base);
  return Buffer.from(text.length >= targetBytes ? text : text + " ".repeat(targetBytes - text.length));
}

/** A mix of what real traffic carries: JSON, repeated text, random (incompressible) bytes, tiny messages. */
export function mixedPayload(i: number): Buffer {
  switch (i % 6) {
    case 0:
      return jsonMessage(i, 200 + ((i * 97) % 4000));
    case 1:
      return Buffer.from(`tiny ${i}`);
    case 2:
      return randomBytes(50 + ((i * 131) % 3000));
    case 3:
      return Buffer.from("lorem ipsum dolor sit amet ".repeat(1 + (i % 300)));
    case 4:
      return Buffer.alloc(0);
    default:
      return jsonMessage(i, 20_000 + (i % 7) * 1000);
  }
}

export async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

// ---- frames on the wire ----------------------------------------------------------------------------

export interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Buffer;
}

/** Encodes a frame; masked with a fixed key when `masked` (client → server). */
export function wireFrame(f: {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv1?: boolean;
  masked: boolean;
}): Buffer {
  const len = f.payload.length;
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | (f.rsv1 ? 0x40 : 0) | f.opcode];
  const maskBit = f.masked ? 0x80 : 0;
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
  else {
    head.push(maskBit | 127, 0, 0);
    for (let shift = 40; shift >= 0; shift -= 8) head.push(Math.floor(len / 2 ** shift) & 0xff);
  }
  const body = Buffer.from(f.payload);
  if (f.masked) {
    const key = [0x12, 0x34, 0x56, 0x78];
    head.push(...key);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** Parses complete frames off the front of `buf`; returns them and the bytes left over. */
export function parseFrames(buf: Buffer): { frames: WireFrame[]; rest: Buffer } {
  const frames: WireFrame[] = [];
  let pos = 0;
  for (;;) {
    if (buf.length - pos < 2) break;
    const b0 = buf[pos];
    const b1 = buf[pos + 1];
    let len = b1 & 0x7f;
    let at = pos + 2;
    if (len === 126) {
      if (buf.length - pos < 4) break;
      len = buf.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      if (buf.length - pos < 10) break;
      len = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? buf.subarray(at, at + 4) : null;
    if (masked) at += 4;
    if (buf.length < at + len) break;
    const payload = Buffer.from(buf.subarray(at, at + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, payload });
    pos = at + len;
  }
  return { frames, rest: buf.subarray(pos) };
}

/** A client speaking raw bytes to a WebSocket server: handshake with an extension offer, then frames. */
export class RawPeer {
  readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  readonly frames: WireFrame[] = [];
  ended = false;
  responseHead = "";

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      if (this.responseHead === "") {
        const end = this.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        this.responseHead = this.buffer.subarray(0, end).toString("latin1");
        this.buffer = this.buffer.subarray(end + 4);
      }
      const { frames, rest } = parseFrames(this.buffer);
      this.frames.push(...frames);
      this.buffer = rest;
    });
    socket.on("end", () => {
      this.ended = true;
    });
    socket.on("close", () => {
      this.ended = true;
    });
    socket.on("error", () => {});
  }

  static async connect(port: number, extensions: string | null): Promise<RawPeer> {
    const socket = net.connect(port, HOST);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const peer = new RawPeer(socket);
    socket.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        (extensions === null ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
        "\r\n",
    );
    await until(() => peer.responseHead !== "", 3000, "the 101 response");
    return peer;
  }

  header(name: string): string | undefined {
    for (const line of this.responseHead.split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
    }
    return undefined;
  }

  send(f: { opcode: number; payload: Buffer; fin?: boolean; rsv1?: boolean }): void {
    this.socket.write(wireFrame({ ...f, masked: true }));
  }

  /** Waits for a Close frame and returns its status code. */
  async closeCode(ms = 5000): Promise<number> {
    await until(() => this.frames.some((f) => f.opcode === 8), ms, "a Close frame");
    const close = this.frames.find((f) => f.opcode === 8)!;
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
