// Scripted peers for the end-to-end conformance suite (Autobahn's ground, our own code). Two raw node:net
// peers that write exact bytes and read exact bytes: a client that does the HTTP upgrade itself (against our
// WebSocketServer) and a server that answers the upgrade itself (against our WebSocket client). Frames are
// built and parsed here, independently of src/protocol, so a bug there cannot hide a bug here. Every wait
// is bounded: a hang fails the test with the name of what it waited for. Everything opened is closed in
// t.after.

import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import net from "node:net";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket, type WebSocketOptions } from "../../src/web/websocket.js";

export const HOST = "127.0.0.1";
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Something that runs cleanup later: a TestContext, or `{ after }` from node:test. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

// ---- time ---------------------------------------------------------------------------------------------------

/** Resolves with `promise`, or rejects after `ms` saying what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` until it holds; rejects after `ms` saying what was awaited. */
export async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

// ---- frames -------------------------------------------------------------------------------------------------

/** RFC 6455 §11.8 opcodes. */
export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload?: string | Uint8Array;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** true: a random key; a Buffer: that key; false/undefined: unmasked. */
  mask?: boolean | Buffer;
  /** The declared payload length, when it must differ from the payload's (e.g. a header sent alone). */
  length?: number | bigint;
}

/** Encodes one frame exactly as RFC 6455 §5.2 draws it. */
export function frame(spec: FrameSpec): Buffer {
  const payload = toBytes(spec.payload ?? "");
  const length = BigInt(spec.length ?? payload.length);
  const key = spec.mask === true ? randomBytes(4) : spec.mask instanceof Buffer ? spec.mask : null;
  let b0 = spec.opcode & 0x0f;
  if (spec.fin ?? true) b0 |= 0x80;
  if (spec.rsv1) b0 |= 0x40;
  if (spec.rsv2) b0 |= 0x20;
  if (spec.rsv3) b0 |= 0x10;
  const maskBit = key === null ? 0 : 0x80;
  let head: Buffer;
  if (length < 126n) {
    head = Buffer.from([b0, maskBit | Number(length)]);
  } else if (length < 65536n) {
    head = Buffer.from([b0, maskBit | 126, Number(length >> 8n), Number(length & 0xffn)]);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(length, 2);
  }
  if (key === null) return Buffer.concat([head, payload]);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i & 3];
  return Buffer.concat([head, key, masked]);
}

/** A Close frame payload: the 2-byte code and the reason (a Buffer reason is sent as is). */
export function closePayload(code: number, reason: string | Uint8Array = ""): Buffer {
  const r = toBytes(reason);
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  out.set(r, 2);
  return out;
}

export function toBytes(data: string | Uint8Array): Buffer {
  return typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
}

export interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** Unmasked payload. */
  payload: Buffer;
  /** For a Close frame with a body: its code and reason. */
  closeCode?: number;
  closeReason?: Buffer;
}

/** The size of the frame at the start of `head` (at least 14 bytes or all there is), or null if unknown yet. */
function frameSize(head: Buffer): number | null {
  if (head.length < 2) return null;
  const len7 = head[1] & 0x7f;
  const masked = (head[1] & 0x80) !== 0;
  let at = 2;
  let length = len7;
  if (len7 === 126) {
    if (head.length < 4) return null;
    length = head.readUInt16BE(2);
    at = 4;
  } else if (len7 === 127) {
    if (head.length < 10) return null;
    length = Number(head.readBigUInt64BE(2));
    at = 10;
  }
  return at + (masked ? 4 : 0) + length;
}

function decodeFrame(buf: Buffer): WireFrame {
  const len7 = buf[1] & 0x7f;
  const masked = (buf[1] & 0x80) !== 0;
  let at = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
  let key: Buffer | null = null;
  if (masked) {
    key = buf.subarray(at, at + 4);
    at += 4;
  }
  const payload = Buffer.from(buf.subarray(at));
  if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  const f: WireFrame = {
    fin: (buf[0] & 0x80) !== 0,
    rsv1: (buf[0] & 0x40) !== 0,
    rsv2: (buf[0] & 0x20) !== 0,
    rsv3: (buf[0] & 0x10) !== 0,
    opcode: buf[0] & 0x0f,
    masked,
    payload,
  };
  if (f.opcode === OP.close && payload.length >= 2) {
    f.closeCode = payload.readUInt16BE(0);
    f.closeReason = payload.subarray(2);
  }
  return f;
}

function describeFrame(f: WireFrame): string {
  const bits = `${f.fin ? "FIN " : ""}${f.rsv1 ? "RSV1 " : ""}${f.rsv2 ? "RSV2 " : ""}${f.rsv3 ? "RSV3 " : ""}`;
  const extra = f.closeCode !== undefined ? ` code ${f.closeCode}` : "";
  return `${bits}opcode 0x${f.opcode.toString(16)} ${f.payload.length} bytes${extra}`;
}

// ---- a raw peer: exact bytes both ways ----------------------------------------------------------------------

/**
 * One raw TCP endpoint. Bytes are kept as a list and joined only when a whole frame (or head) is there, so
 * reading a large message is linear. `expectMasked` is what RFC 6455 §5.1/§5.3 demands of the frames it
 * reads: masked when they come from a client, unmasked from a server; readFrame() checks it.
 */
export class WirePeer {
  readonly socket: net.Socket;
  /** Frames this peer writes are masked (it plays the client). */
  readonly masks: boolean;
  /** Frames it reads must be masked (it plays the server). */
  readonly expectMasked: boolean;
  private chunks: Buffer[] = [];
  private available = 0;
  /** Bytes ever received. */
  received = 0;
  /** The other side sent FIN, or the socket closed. */
  ended = false;
  closed = false;
  error: Error | null = null;
  private wake: (() => void)[] = [];

  constructor(socket: net.Socket, masks: boolean) {
    this.socket = socket;
    this.masks = masks;
    this.expectMasked = !masks;
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.available += chunk.length;
      this.received += chunk.length;
      this.notify();
    });
    socket.on("end", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("error", (error) => {
      this.error = error;
    });
    socket.on("close", () => {
      this.ended = true;
      this.closed = true;
      this.notify();
    });
  }

  /** Bytes received and not consumed yet. */
  get pending(): number {
    return this.available;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }

  /** Waits for the next arrival (data, FIN or close) until `deadline`; false when the deadline passed. */
  private async arrival(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), left);
      this.wake.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Joins the first `n` buffered bytes (n ≤ available) without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    // Join only the chunks that cover n bytes: joining the whole backlog for a 2-byte header would make
    // reading a flood of small frames quadratic.
    let k = 0;
    let covered = 0;
    while (covered < n) covered += this.chunks[k++].length;
    const joined = Buffer.concat(this.chunks.slice(0, k), covered);
    this.chunks.splice(0, k, joined);
    return joined.subarray(0, n);
  }

  private consume(n: number): Buffer {
    const out = Buffer.from(this.peek(n));
    const first = this.chunks[0];
    this.chunks[0] = first.subarray(n);
    if (this.chunks[0].length === 0) this.chunks.shift();
    this.available -= n;
    return out;
  }

  /** Everything buffered, consumed. */
  drain(): Buffer {
    return this.available === 0 ? Buffer.alloc(0) : this.consume(this.available);
  }

  /** Writes bytes; resolves when they are handed to the kernel (or the socket is gone). */
  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /**
   * Writes one byte per write() call. Each of the first `awaitFirst` bytes (the header, typically) waits for
   * its write to complete and a turn of the event loop, so they really arrive as separate segments; the
   * rest waits every `awaitEvery` bytes.
   */
  async writeBytewise(data: Uint8Array, options: { awaitFirst?: number; awaitEvery?: number } = {}) {
    const awaitFirst = options.awaitFirst ?? 16;
    const awaitEvery = options.awaitEvery ?? 64;
    for (let i = 0; i < data.length; i++) {
      if (this.socket.destroyed) return;
      const last = i === data.length - 1;
      if (i < awaitFirst || i % awaitEvery === 0 || last) {
        await this.write(data.subarray(i, i + 1));
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        this.socket.write(data.subarray(i, i + 1));
      }
    }
  }

  /** Writes `data` in pieces of `size` bytes with `delayMs` between them. */
  async writeChunked(data: Uint8Array, size: number, delayMs = 0): Promise<void> {
    for (let i = 0; i < data.length; i += size) {
      if (this.socket.destroyed) return;
      await this.write(data.subarray(i, i + size));
      if (delayMs > 0) await sleep(delayMs);
    }
  }

  /** Builds a frame with this peer's masking (a client masks, RFC 6455 §5.3) and writes it. */
  send(spec: FrameSpec): Promise<void> {
    return this.write(this.build(spec));
  }

  /** A frame with this peer's masking, not written. */
  build(spec: FrameSpec): Buffer {
    return frame({ mask: this.masks, ...spec });
  }

  /** Reads one frame within `ms`; fails on EOF before a whole frame, or on wrong masking for the role. */
  async readFrame(ms = 3000): Promise<WireFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.available >= 2) {
        const size = frameSize(this.peek(Math.min(this.available, 14)));
        if (size !== null && this.available >= size) {
          const f = decodeFrame(this.consume(size));
          if (f.masked !== this.expectMasked) {
            throw new Error(
              `RFC 6455 §5.1: a frame from the ${this.expectMasked ? "client" : "server"} must ${this.expectMasked ? "" : "not "}be masked (${describeFrame(f)})`,
            );
          }
          return f;
        }
      }
      if (this.ended) {
        throw new Error(`connection ended before a whole frame (${this.available} bytes buffered)`);
      }
      if (!(await this.arrival(deadline))) {
        throw new Error(`timed out after ${ms} ms waiting for a frame (${this.available} bytes buffered)`);
      }
    }
  }

  /**
   * Reads `count` frames without keeping them, for floods: `check(opcode, payloadLength, fin)` sees each
   * header and may throw. Allocates nothing per frame, and yields to the event loop every 1,000 frames so
   * timers in this process (a prober) keep running. `ms` bounds the wait for each next frame.
   */
  async skipFrames(
    count: number,
    check: (opcode: number, length: number, fin: boolean) => void,
    ms = 30_000,
  ): Promise<void> {
    let deadline = Date.now() + ms;
    let done = 0;
    while (done < count) {
      if (this.available >= 2) {
        const head = this.peek(Math.min(this.available, 14));
        const size = frameSize(head);
        if (size !== null && this.available >= size) {
          const len7 = head[1] & 0x7f;
          const masked = (head[1] & 0x80) !== 0;
          if (masked !== this.expectMasked) throw new Error(`RFC 6455 §5.1: frame ${done} masked wrongly`);
          const length = size - (len7 === 126 ? 4 : len7 === 127 ? 10 : 2) - (masked ? 4 : 0);
          check(head[0] & 0x0f, length, (head[0] & 0x80) !== 0);
          this.skip(size);
          if (++done % 1000 === 0) {
            await new Promise((resolve) => setImmediate(resolve));
            deadline = Date.now() + ms;
          }
          continue;
        }
      }
      if (this.ended) throw new Error(`connection ended after ${done} of ${count} frames`);
      if (!(await this.arrival(deadline))) {
        throw new Error(`timed out after ${ms} ms waiting for frame ${done} of ${count}`);
      }
      deadline = Date.now() + ms;
    }
  }

  private skip(n: number): void {
    this.available -= n;
    while (n > 0) {
      const first = this.chunks[0];
      if (first.length <= n) {
        n -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  /** Reads an HTTP head through CRLF CRLF, within `ms`. */
  async readHead(ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.available >= 4) {
        const all = this.peek(this.available);
        const end = all.indexOf("\r\n\r\n");
        if (end !== -1) return this.consume(end + 4).toString("latin1");
      }
      if (this.ended) throw new Error(`connection ended before an HTTP head: ${this.peek(this.available)}`);
      if (!(await this.arrival(deadline)))
        throw new Error(`timed out after ${ms} ms waiting for an HTTP head`);
    }
  }

  /** Waits for the other side's FIN / the socket's close, within `ms`. */
  async waitEnd(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (!(await this.arrival(deadline))) throw new Error(`timed out after ${ms} ms waiting for EOF`);
    }
  }

  /** Waits for the socket to be fully closed, within `ms`. */
  async waitClosed(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (!(await this.arrival(deadline))) throw new Error(`timed out after ${ms} ms waiting for close`);
    }
  }

  /** Resolves true if nothing arrives (no byte, no FIN) within `ms`. */
  async quietFor(ms: number): Promise<boolean> {
    const before = this.received;
    const wasEnded = this.ended;
    await sleep(ms);
    return this.received === before && this.ended === wasEnded;
  }

  end(): void {
    this.socket.end();
  }

  /** An abrupt TCP reset (RST), no FIN. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- the raw client (against our server) --------------------------------------------------------------------

/** The RFC 6455 §1.3 sample key and its accept value, computed by the RFC, not by us. */
export const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** A TCP connection to 127.0.0.1:port, closed after the test. */
export async function tcpConnect(t: Cleanup, port: number, masks = true): Promise<WirePeer> {
  const socket = net.connect({ host: HOST, port });
  const peer = new WirePeer(socket, masks);
  t.after(() => socket.destroy());
  await within(once(socket, "connect"), 5000, "TCP connect");
  return peer;
}

/** An upgrade request, byte for byte; `headers` are added after the required ones. */
export function upgradeRequest(
  options: { path?: string; headers?: Record<string, string>; extra?: string } = {},
): string {
  let out =
    `GET ${options.path ?? "/"} HTTP/1.1\r\n` +
    `Host: ${HOST}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
    "Sec-WebSocket-Version: 13\r\n";
  for (const [name, value] of Object.entries(options.headers ?? {})) out += `${name}: ${value}\r\n`;
  return `${out}${options.extra ?? ""}\r\n`;
}

export interface Head {
  status: number;
  statusLine: string;
  /** Field names lowercased, values trimmed; repeats joined with ", ". */
  headers: Record<string, string>;
}

export function parseHead(head: string): Head {
  const [statusLine, ...lines] = head.replace(/\r\n\r\n$/, "").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(statusLine.split(" ")[1]), statusLine, headers };
}

/** Connects, does the upgrade by hand and checks the 101 (RFC 6455 §4.2.2); returns the peer and the head. */
export async function rawClient(
  t: Cleanup,
  port: number,
  options: { path?: string; headers?: Record<string, string> } = {},
): Promise<{ peer: WirePeer; head: Head }> {
  const peer = await tcpConnect(t, port);
  await peer.write(upgradeRequest(options));
  const head = parseHead(await peer.readHead());
  if (head.status !== 101) throw new Error(`expected 101, got ${head.statusLine}`);
  if (head.headers["sec-websocket-accept"] !== RFC_ACCEPT) {
    throw new Error(`wrong Sec-WebSocket-Accept ${head.headers["sec-websocket-accept"]}`);
  }
  return { peer, head };
}

// ---- the raw server (against our client) --------------------------------------------------------------------

export interface RawRequest {
  head: string;
  requestLine: string;
  headers: Record<string, string>;
}

export interface RawServerOptions {
  /** Extra lines for the 101 response (e.g. "Sec-WebSocket-Extensions: permessage-deflate"). */
  responseHeaders?: (request: RawRequest) => string[];
  /** Answer with these exact bytes instead of a 101; the peer is handed out after they are written. */
  response?: (request: RawRequest) => string | Buffer;
  /** Hand out the peer before reading the request (for mid-handshake behaviour). */
  raw?: boolean;
}

/** A node:net server that answers the upgrade itself and hands out one WirePeer per connection. */
export class RawServer {
  readonly server: net.Server;
  readonly port: number;
  private readonly queue: { peer: WirePeer; request: RawRequest | null }[] = [];
  private wake: (() => void) | null = null;

  private constructor(server: net.Server, port: number) {
    this.server = server;
    this.port = port;
  }

  get url(): string {
    return `ws://${HOST}:${this.port}/`;
  }

  static async start(t: Cleanup, options: RawServerOptions = {}): Promise<RawServer> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const raw = new RawServer(server, (server.address() as net.AddressInfo).port);
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      const peer = new WirePeer(socket, false);
      if (options.raw) {
        raw.push(peer, null);
        return;
      }
      peer.readHead(5000).then(
        async (head) => {
          const [requestLine, ...lines] = head.replace(/\r\n\r\n$/, "").split("\r\n");
          const headers: Record<string, string> = {};
          for (const line of lines) {
            const colon = line.indexOf(":");
            const name = line.slice(0, colon).toLowerCase();
            const value = line.slice(colon + 1).trim();
            headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
          }
          const request = { head, requestLine, headers };
          if (options.response) {
            await peer.write(options.response(request));
          } else {
            const accept = createHash("sha1")
              .update(headers["sec-websocket-key"] + GUID)
              .digest("base64");
            const extra = options.responseHeaders?.(request) ?? [];
            await peer.write(
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                `Sec-WebSocket-Accept: ${accept}\r\n${extra.map((l) => `${l}\r\n`).join("")}\r\n`,
            );
          }
          raw.push(peer, request);
        },
        () => socket.destroy(),
      );
    });
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return raw;
  }

  private push(peer: WirePeer, request: RawRequest | null): void {
    this.queue.push({ peer, request });
    this.wake?.();
  }

  /** The next connection (after its 101 was written, unless `raw`). */
  async accept(ms = 5000): Promise<{ peer: WirePeer; request: RawRequest | null }> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for a connection to the raw server`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
    return this.queue.shift()!;
  }
}

// ---- our side, recorded ------------------------------------------------------------------------------------------

export interface Recorded {
  type: "open" | "message" | "error" | "close";
  data?: string | ArrayBuffer;
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/** Our WebSocket (client or server side) with every event recorded in order. */
export class Local {
  readonly ws: WebSocket;
  readonly events: Recorded[] = [];
  readonly closed: Promise<CloseEvent>;

  constructor(ws: WebSocket, echo: boolean) {
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => this.events.push({ type: "open" }));
    ws.addEventListener("error", () => this.events.push({ type: "error" }));
    ws.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data as string | ArrayBuffer;
      this.events.push({ type: "message", data });
      if (echo && ws.readyState === WebSocket.OPEN) ws.send(data);
    });
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (event) => {
        const e = event as CloseEvent;
        this.events.push({ type: "close", code: e.code, reason: e.reason, wasClean: e.wasClean });
        resolve(e);
      }),
    );
  }

  /** The close event, within `ms`. */
  close(ms = 3000): Promise<CloseEvent> {
    return within(this.closed, ms, "the close event of our WebSocket");
  }

  messages(): (string | ArrayBuffer)[] {
    return this.events.filter((e) => e.type === "message").map((e) => e.data!);
  }

  /** The event types in order, e.g. ["open", "message", "error", "close"]. */
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

/** A standalone WebSocketServer on 127.0.0.1:0 that echoes every message; closed after the test. */
export async function echoServer(
  t: Cleanup,
  options: Omit<WebSocketServerOptions, "port"> = {},
): Promise<{ server: WebSocketServer; port: number; url: string; connections: Local[] }> {
  const server = new WebSocketServer({ host: HOST, pingIntervalMs: 0, ...options, port: 0 });
  const connections: Local[] = [];
  server.on("error", () => {});
  server.on("connection", (ws) => connections.push(new Local(ws, true)));
  t.after(async () => {
    for (const client of server.clients) client.terminate();
    await within(server.close(), 10_000, "server.close() in cleanup");
  });
  await within(once(server, "listening"), 5000, "the server to listen");
  const port = (server.address() as net.AddressInfo).port;
  return { server, port, url: `ws://${HOST}:${port}/`, connections };
}

/** Our WebSocket client, recorded, echoing; terminated after the test. */
export function ourClient(t: Cleanup, url: string, options?: WebSocketOptions, echo = true): Local {
  const ws = new WebSocket(url, [], options);
  t.after(() => ws.terminate());
  return new Local(ws, echo);
}

export type { IncomingMessage };
