// Shared helpers for the client tests: real servers on 127.0.0.1 port 0 (the npm `ws` server as an
// independent peer, and raw node:net servers that misbehave on purpose), a byte reader for the raw side, frames
// built by hand (independent of src/protocol), an event recorder, and timeouts that fail instead of hanging.
// Everything a test opens is closed in t.after.

import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import net from "node:net";
import type { TestContext } from "node:test";
import { type WebSocket as PeerSocket, WebSocketServer } from "ws";
import { type CloseEvent, WebSocket, type WebSocketOptions } from "../../src/index.js";

// ---- time ------------------------------------------------------------------------------------------------

/** Resolves with `promise`, or rejects after `ms` saying what was awaited: a test fails, it never hangs. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every few ms until it holds; rejects after `ms` saying what was awaited. */
export async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(2);
  }
}

/** Lets pending I/O callbacks and immediates run (a few turns of the event loop). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

// ---- the client under test ---------------------------------------------------------------------------------

/** Opens a client and makes sure it is gone when the test ends. */
export function connect(
  t: TestContext,
  url: string | URL,
  protocols?: string | string[],
  options?: WebSocketOptions,
): WebSocket {
  const ws = new WebSocket(url, protocols, options);
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  return ws;
}

/** Resolves with the next event of `type` on `target` (rejects on timeout). */
export function next<E extends Event = Event>(target: EventTarget, type: string, ms = 3000): Promise<E> {
  return within(
    new Promise<E>((resolve) => target.addEventListener(type, (e) => resolve(e as E), { once: true })),
    ms,
    `a '${type}' event`,
  );
}

export interface Recorded {
  type: string;
  /** readyState while the event was being dispatched. */
  readyState: number;
  code?: number;
  reason?: string;
  wasClean?: boolean;
  data?: unknown;
  event: Event;
}

/** Records every open/message/error/close event with the readyState seen at dispatch. */
export function record(ws: WebSocket): {
  log: Recorded[];
  types: () => string[];
  closed: Promise<CloseEvent>;
} {
  const log: Recorded[] = [];
  let resolveClosed!: (e: CloseEvent) => void;
  const closed = new Promise<CloseEvent>((resolve) => (resolveClosed = resolve));
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (event) => {
      const entry: Recorded = { type, readyState: ws.readyState, event };
      if (type === "message") entry.data = (event as MessageEvent).data;
      if (type === "close") {
        const c = event as CloseEvent;
        entry.code = c.code;
        entry.reason = c.reason;
        entry.wasClean = c.wasClean;
        resolveClosed(c);
      }
      log.push(entry);
    });
  }
  return { log, types: () => log.map((e) => e.type), closed };
}

// ---- the npm `ws` server -------------------------------------------------------------------------------------

export interface PeerServer {
  server: WebSocketServer;
  port: number;
  url: string;
  /** Resolves with the next connection the server accepts, and its upgrade request. */
  nextConnection(ms?: number): Promise<{ socket: PeerSocket; request: IncomingMessage }>;
}

/** A `ws` WebSocketServer on 127.0.0.1:0, closed (with every client terminated) when the test ends. */
export async function peerServer(
  t: TestContext,
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
): Promise<PeerServer> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  const pending: { socket: PeerSocket; request: IncomingMessage }[] = [];
  const waiters: ((c: { socket: PeerSocket; request: IncomingMessage }) => void)[] = [];
  server.on("connection", (socket, request) => {
    socket.on("error", () => {});
    const waiter = waiters.shift();
    if (waiter) waiter({ socket, request });
    else pending.push({ socket, request });
  });
  await within(new Promise((resolve) => server.once("listening", resolve)), 3000, "ws server to listen");
  t.after(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    url: `ws://127.0.0.1:${port}`,
    nextConnection: (ms = 3000) =>
      within(
        new Promise((resolve) => {
          const ready = pending.shift();
          if (ready) resolve(ready);
          else waiters.push(resolve);
        }),
        ms,
        "the ws server to accept a connection",
      ),
  };
}

export interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** A `ws` server that records every message of every connection, in arrival order. */
export async function collectingServer(
  t: TestContext,
): Promise<PeerServer & { received: Received[]; closes: { code: number; reason: string }[] }> {
  const peer = await peerServer(t);
  const received: Received[] = [];
  const closes: { code: number; reason: string }[] = [];
  peer.server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => received.push({ data: data as Buffer, isBinary }));
    socket.on("close", (code, reason) => closes.push({ code, reason: reason.toString() }));
  });
  return Object.assign(peer, { received, closes });
}

/** A `ws` server that echoes every message back with the same type. */
export async function echoServer(t: TestContext): Promise<PeerServer> {
  const peer = await peerServer(t);
  peer.server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  return peer;
}

// ---- raw TCP servers ----------------------------------------------------------------------------------------

/** Buffers everything a socket receives, so a test can read requests and frames in order. */
export class SocketReader {
  readonly socket: net.Socket;
  /** Received chunks not read yet; joined only when a read needs them (a 32 MiB frame stays linear). */
  private chunks: Buffer[] = [];
  private length = 0;
  private wake: (() => void) | null = null;
  /** The socket ended or closed. */
  ended = false;
  /** The peer sent its FIN. */
  peerEnded = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.notify();
    });
    socket.on("end", () => {
      this.ended = true;
      this.peerEnded = true;
      this.notify();
    });
    socket.on("close", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async until<T>(take: () => T | null, ms: number, what: string): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = take();
      if (value !== null) return value;
      if (this.ended) throw new Error(`connection ended while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await within(new Promise<void>((resolve) => (this.wake = resolve)), left, what).catch(() => {});
    }
  }

  /** All the bytes received and not read yet, as one buffer. */
  private get buffer(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0];
  }

  private consume(n: number): Buffer {
    const all = this.buffer;
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return all.subarray(0, n);
  }

  /** Bytes received and not read yet. */
  get pending(): Buffer {
    return this.buffer;
  }

  /** Reads exactly n bytes. */
  read(n: number, ms = 3000): Promise<Buffer> {
    return this.until(() => (this.length < n ? null : this.consume(n)), ms, `${n} bytes`);
  }

  /** Reads an HTTP request head (through the blank line) and returns its lines and lowercased headers. */
  async readRequest(
    ms = 3000,
  ): Promise<{ requestLine: string; headers: Record<string, string>; raw: string }> {
    const head = await this.until(
      () => {
        const end = this.buffer.indexOf("\r\n\r\n");
        return end < 0 ? null : this.consume(end + 4);
      },
      ms,
      "an HTTP request",
    );
    const raw = head.toString("latin1");
    const [requestLine, ...lines] = raw.slice(0, -4).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    return { requestLine, headers, raw };
  }

  /** Reads one frame as RFC 6455 §5.2 draws it, and unmasks its payload. */
  async readFrame(ms = 3000): Promise<ReadFrame> {
    const start = await this.read(2, ms);
    let length = start[1] & 0x7f;
    const header = [start];
    if (length === 126) {
      const ext = await this.read(2, ms);
      header.push(ext);
      length = ext.readUInt16BE(0);
    } else if (length === 127) {
      const ext = await this.read(8, ms);
      header.push(ext);
      length = Number(ext.readBigUInt64BE(0));
    }
    const masked = (start[1] & 0x80) !== 0;
    const mask = masked ? await this.read(4, ms) : null;
    if (mask) header.push(mask);
    const body = Buffer.from(await this.read(length, ms));
    const raw = Buffer.concat([...header, body]);
    if (mask) for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
    return { fin: (start[0] & 0x80) !== 0, opcode: start[0] & 0x0f, masked, mask, payload: body, raw };
  }

  /** Resolves once the peer has ended (FIN) or the socket closed. */
  waitEnd(ms = 3000): Promise<void> {
    return this.until(() => (this.ended ? true : null), ms, "the connection to end").then(() => {});
  }
}

export interface ReadFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  mask: Buffer | null;
  /** The unmasked payload. */
  payload: Buffer;
  /** The frame's bytes as they were on the wire. */
  raw: Buffer;
}

export interface RawServer {
  port: number;
  url: string;
  /** Resolves with the reader of the next accepted connection. */
  nextConnection(ms?: number): Promise<SocketReader>;
}

/**
 * A node:net server on 127.0.0.1:0 whose every connection is handed to `onConnection` (or queued for
 * nextConnection()). Every socket is destroyed and the server closed when the test ends.
 */
export async function rawServer(
  t: TestContext,
  onConnection?: (reader: SocketReader) => void | Promise<void>,
  options: net.ServerOpts = {},
): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const pending: SocketReader[] = [];
  const waiters: ((r: SocketReader) => void)[] = [];
  const server = net.createServer(options, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const reader = new SocketReader(socket);
    if (onConnection) {
      Promise.resolve(onConnection(reader)).catch(() => socket.destroy());
      return;
    }
    const waiter = waiters.shift();
    if (waiter) waiter(reader);
    else pending.push(reader);
  });
  await within(
    new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)),
    3000,
    "raw server to listen",
  );
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    nextConnection: (ms = 3000) =>
      within(
        new Promise((resolve) => {
          const ready = pending.shift();
          if (ready) resolve(ready);
          else waiters.push(resolve);
        }),
        ms,
        "the raw server to accept a connection",
      ),
  };
}

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)), computed here independently of src/protocol. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
}

/** A 101 response for `key`, with extra header lines ("Name: value"). */
export function switchingProtocols(key: string, extra: string[] = []): string {
  return [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${acceptFor(key)}`,
    ...extra,
    "",
    "",
  ].join("\r\n");
}

/** Reads the client's request and answers 101 (with extra header lines); returns the request. */
export async function acceptHandshake(reader: SocketReader, extra: string[] = []) {
  const request = await reader.readRequest();
  reader.socket.write(switchingProtocols(request.headers["sec-websocket-key"], extra));
  return request;
}

/** A frame as a server would send it (unmasked unless a mask is given), built byte by byte (§5.2). */
export function frame(
  opcode: number,
  payload: Uint8Array | string = Buffer.alloc(0),
  options: { fin?: boolean; mask?: Uint8Array; rsv1?: boolean } = {},
): Buffer {
  const body = Buffer.from(typeof payload === "string" ? Buffer.from(payload, "utf8") : payload);
  const first = ((options.fin ?? true) ? 0x80 : 0) | (options.rsv1 ? 0x40 : 0) | opcode;
  const maskBit = options.mask ? 0x80 : 0;
  let head: Buffer;
  if (body.length < 126) head = Buffer.from([first, maskBit | body.length]);
  else if (body.length < 65536) {
    head = Buffer.from([first, maskBit | 126, 0, 0]);
    head.writeUInt16BE(body.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = first;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(body.length), 2);
  }
  if (!options.mask) return Buffer.concat([head, body]);
  for (let i = 0; i < body.length; i++) body[i] ^= options.mask[i % 4];
  return Buffer.concat([head, Buffer.from(options.mask), body]);
}

/** The Close payload (§5.5.1): 2-byte big-endian code, then the UTF-8 reason. */
export function closeBody(code: number, reason = ""): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2, "utf8");
  return out;
}

// ---- TLS -----------------------------------------------------------------------------------------------------

export { selfSignedCertificate } from "../support/certificate.js";
