// Shared helpers for the server tests: a WebSocketServer on 127.0.0.1 port 0 that is closed after the test,
// a raw TCP client that writes exact bytes and reads exact bytes (for malformed handshakes and frames), a
// frame builder and reader independent of src/protocol (so a bug there cannot hide a bug here), and bounded
// waits for events. Every wait has a timeout: a hang fails the test with the name of what it waited for.

import { once } from "node:events";
import net from "node:net";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket, type WebSocketOptions } from "../../src/web/websocket.js";
import { selfSignedCertificate } from "../support/certificate.js";

export const HOST = "127.0.0.1";

/** The key and accept value of RFC 6455 §1.3 / §4.2.2, computed by the RFC, not by us. */
export const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
export const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// ---- waiting --------------------------------------------------------------------------------------------

/** Rejects with `label` if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The next event of `type` on an EventTarget, within `ms`. */
export function nextEvent<E extends Event = Event>(target: EventTarget, type: string, ms = 5000): Promise<E> {
  return within(
    new Promise<E>((resolve) => target.addEventListener(type, (e) => resolve(e as E), { once: true })),
    ms,
    `'${type}' event`,
  );
}

/** The next emission of `event` on an EventEmitter, within `ms`. */
export function nextEmit<T extends unknown[] = unknown[]>(
  emitter: NodeJS.EventEmitter,
  event: string,
  ms = 5000,
): Promise<T> {
  return within(once(emitter, event) as Promise<T>, ms, `'${event}' emission`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 5 ms until it holds, within `ms`. */
export async function waitFor(predicate: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await sleep(5);
  }
}

// ---- servers ----------------------------------------------------------------------------------------------

export interface Started {
  server: WebSocketServer;
  port: number;
  /** ws://127.0.0.1:port */
  url: string;
  /** Errors the server emitted ('error' events), for tests to assert on. */
  errors: Error[];
}

/** Something that runs cleanup later: a TestContext, or `{ after }` from node:test for a describe block. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** A Cleanup for a describe block: registers one `after` hook (pass node:test's) that runs what was added. */
export function suiteCleanup(afterHook: (fn: () => unknown) => void): Cleanup {
  const fns: (() => unknown)[] = [];
  afterHook(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return { after: (fn) => fns.push(fn) };
}

const stacks = new WeakMap<Cleanup, (() => unknown)[]>();

/**
 * Runs `fn` when `t` ends, last registered first: clients go before the servers they are connected to (a
 * server's close waits for its sockets, so the other order would wait for nothing to happen).
 */
export function defer(t: Cleanup, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const fns: (() => unknown)[] = [];
    stack = fns;
    stacks.set(t, fns);
    t.after(async () => {
      while (fns.length > 0) await fns.pop()!();
    });
  }
  stack.push(fn);
}

/** A standalone WebSocketServer on 127.0.0.1, port 0, listening; terminated and closed after the test. */
export async function startServer(
  t: Cleanup,
  options: Omit<WebSocketServerOptions, "port"> = {},
): Promise<Started> {
  const server = new WebSocketServer({ host: HOST, ...options, port: 0 });
  const errors: Error[] = [];
  server.on("error", (error) => errors.push(error));
  defer(t, () => shutDown(server));
  await nextEmit(server, "listening");
  const port = portOf(server.address());
  return { server, port, url: `${options.tls ? "wss" : "ws"}://${HOST}:${port}`, errors };
}

/** Terminates every client and closes the server (cleanup: no graceful wait). */
export async function shutDown(server: WebSocketServer): Promise<void> {
  for (const client of server.clients) client.terminate();
  await within(server.close(), 10_000, "server.close() in cleanup");
}

export function portOf(address: unknown): number {
  if (address === null || typeof address !== "object" || !("port" in address)) {
    throw new Error(`not listening: ${String(address)}`);
  }
  return (address as net.AddressInfo).port;
}

// ---- our client -------------------------------------------------------------------------------------------

/** Our WebSocket client, open; terminated after the test. */
export async function openClient(
  t: Cleanup,
  url: string,
  protocols?: string | string[],
  options?: WebSocketOptions,
): Promise<WebSocket> {
  const socket = new WebSocket(url, protocols, options);
  defer(t, () => socket.terminate());
  const result = await within(
    new Promise<Event>((resolve) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("close", resolve, { once: true });
    }),
    5000,
    `open of ${url}`,
  );
  if (result.type !== "open") throw new Error(`client failed to connect to ${url}`);
  return socket;
}

/**
 * Calls `fn` with the data of each message (typed loosely on purpose: these tests check values on the wire,
 * not the API's TypeScript declarations, which have their own tests).
 */
// biome-ignore lint/suspicious/noExplicitAny: message data is a string, ArrayBuffer or Blob by binaryType
export function onMessage(ws: WebSocket, fn: (data: any) => void): void {
  ws.addEventListener("message", (event: Event) => fn((event as unknown as { data: unknown }).data));
}

/** Calls `fn` with the close code when `ws` closes. */
export function onClose(ws: WebSocket, fn: (code: number, event: Event) => void): void {
  ws.addEventListener("close", (event: Event) => fn((event as unknown as { code: number }).code, event));
}

/** The next `connection` of a server: the server-side WebSocket and the upgrade request. */
export function nextConnection(
  server: WebSocketServer,
  ms = 5000,
): Promise<[WebSocket, import("node:http").IncomingMessage]> {
  return nextEmit(server, "connection", ms);
}

// ---- raw TCP client ---------------------------------------------------------------------------------------

export interface ResponseHead {
  /** "HTTP/1.1 101 Switching Protocols" */
  statusLine: string;
  status: number;
  /** Header fields in wire order, names lowercased. */
  fields: [string, string][];
  /** The value of a header field (joined with ", " if repeated), or undefined. */
  header(name: string): string | undefined;
  /** Bytes after the head (the body, or the first frames). */
  rest: Buffer;
}

/** A TCP client that writes exact bytes and sees exact bytes, EOF and close. */
export class RawClient {
  readonly socket: net.Socket;
  /** Everything received and not yet consumed by readHead()/readFrame(). */
  buffer: Buffer = Buffer.alloc(0);
  /** All bytes ever received. */
  total = 0;
  /** The peer sent FIN (or the socket closed). */
  eof = false;
  closed = false;
  error: Error | null = null;
  private wake: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.total += chunk.length;
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on("end", () => {
      this.eof = true;
      this.notify();
    });
    socket.on("error", (error) => {
      this.error = error;
    });
    socket.on("close", () => {
      this.eof = true;
      this.closed = true;
      this.notify();
    });
  }

  static async connect(t: Cleanup, port: number, options: { paused?: boolean } = {}): Promise<RawClient> {
    const socket = net.connect({ host: HOST, port, allowHalfOpen: true });
    const client = new RawClient(socket);
    defer(t, () => socket.destroy());
    await within(once(socket, "connect"), 5000, "TCP connect");
    if (options.paused) socket.pause();
    return client;
  }

  write(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }

  /** Waits until `predicate()` holds (checked on every arrival and every 10 ms), within `ms`. */
  async until(predicate: () => boolean, ms: number, label: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 10));
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Reads an HTTP response head (through CRLF CRLF). */
  async readHead(ms = 3000): Promise<ResponseHead> {
    await this.until(() => this.buffer.includes("\r\n\r\n") || this.eof, ms, "an HTTP response head");
    const end = this.buffer.indexOf("\r\n\r\n");
    if (end === -1) throw new Error(`EOF before a response head; got ${JSON.stringify(this.text())}`);
    const head = this.buffer.subarray(0, end).toString("latin1");
    this.buffer = this.buffer.subarray(end + 4);
    const [statusLine, ...lines] = head.split("\r\n");
    const fields = lines.map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
    return {
      statusLine,
      status: Number(statusLine.split(" ")[1]),
      fields,
      header(name) {
        const values = fields.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
        return values.length === 0 ? undefined : values.join(", ");
      },
      rest: this.buffer,
    };
  }

  /** Reads `n` bytes of body (or whatever arrives before EOF). */
  async readBytes(n: number, ms = 3000): Promise<Buffer> {
    await this.until(() => this.buffer.length >= n || this.eof, ms, `${n} bytes`);
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(out.length);
    return out;
  }

  /** Reads one server frame (unmasked, RFC 6455 §5.2). */
  async readFrame(ms = 3000): Promise<ServerFrame> {
    let parsed: ServerFrame | null = null;
    await this.until(
      () => (parsed = parseFrame(this.buffer)) !== null || this.eof,
      ms,
      "a WebSocket frame from the server",
    );
    parsed ??= parseFrame(this.buffer);
    if (parsed === null) {
      throw new Error(`EOF before a whole frame; buffered ${this.buffer.toString("hex")}`);
    }
    this.buffer = this.buffer.subarray((parsed as ServerFrame).size);
    return parsed;
  }

  /** Reads a response body per its head: Content-Length bytes, or a chunked body through its last chunk. */
  async readBody(head: ResponseHead, ms = 3000): Promise<string> {
    if (head.header("transfer-encoding") === "chunked") {
      await this.until(() => this.buffer.includes("0\r\n\r\n") || this.eof, ms, "a chunked body");
      const end = this.buffer.indexOf("0\r\n\r\n") + 5;
      let body = "";
      for (let at = 0; at < end - 5; ) {
        const eol = this.buffer.indexOf("\r\n", at);
        const size = Number.parseInt(this.buffer.subarray(at, eol).toString("latin1"), 16);
        body += this.buffer.subarray(eol + 2, eol + 2 + size).toString("utf8");
        at = eol + 2 + size + 2;
      }
      this.buffer = this.buffer.subarray(end);
      return body;
    }
    return (await this.readBytes(Number(head.header("content-length") ?? 0), ms)).toString("utf8");
  }

  /** Waits for the peer's FIN (EOF). */
  async expectEof(ms = 3000): Promise<void> {
    await this.until(() => this.eof, ms, "EOF from the server");
  }

  /** Behaves like a compliant peer after the server's FIN: closes its side too, and waits for the close. */
  async finish(ms = 3000): Promise<void> {
    await this.expectEof(ms);
    this.socket.end();
    await this.expectClosed(ms);
  }

  /** Waits for the socket to be fully closed. */
  async expectClosed(ms = 3000): Promise<void> {
    await this.until(() => this.closed, ms, "the socket to close");
  }

  text(): string {
    return this.buffer.toString("latin1");
  }

  /** Sends a good opening handshake and reads the 101 (asserting it is one). */
  async handshake(path = "/", headers: Record<string, string | null> = {}): Promise<ResponseHead> {
    this.write(upgradeRequest({ path, headers }));
    const head = await this.readHead();
    if (head.status !== 101) throw new Error(`expected 101, got ${head.statusLine}: ${head.rest}`);
    return head;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * An upgrade request, byte for byte. `headers` override the defaults (Host, Upgrade, Connection,
 * Sec-WebSocket-Key = the RFC's sample key, Sec-WebSocket-Version 13); null removes a default.
 */
export function upgradeRequest(
  options: {
    method?: string;
    path?: string;
    version?: string;
    headers?: Record<string, string | null>;
    extra?: string[];
  } = {},
): string {
  const headers: Record<string, string | null> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": RFC_KEY,
    "Sec-WebSocket-Version": "13",
    ...options.headers,
  };
  let out = `${options.method ?? "GET"} ${options.path ?? "/"} ${options.version ?? "HTTP/1.1"}\r\n`;
  for (const [name, value] of Object.entries(headers)) if (value !== null) out += `${name}: ${value}\r\n`;
  for (const line of options.extra ?? []) out += `${line}\r\n`;
  return `${out}\r\n`;
}

// ---- frames -----------------------------------------------------------------------------------------------

export const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** The masking key used by the raw client (RFC 6455 §5.7's example key). */
export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A client frame as RFC 6455 §5.2 draws it: masked with MASK unless `mask` is null. */
export function clientFrame(
  opcode: number,
  payload: string | Uint8Array = "",
  options: { fin?: boolean; mask?: Buffer | null; length?: number } = {},
): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const mask = options.mask === undefined ? MASK : options.mask;
  const length = options.length ?? data.length;
  const head: number[] = [((options.fin ?? true) ? 0x80 : 0) | opcode];
  const maskBit = mask === null ? 0 : 0x80;
  if (length < 126) head.push(maskBit | length);
  else if (length < 65536) head.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(maskBit | 127, ...big);
  }
  if (mask === null) return Buffer.concat([Buffer.from(head), data]);
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i & 3];
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

/** A client Close frame with a status code and reason. */
export function clientClose(code: number, reason = ""): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return clientFrame(OP.close, payload);
}

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** Bytes the frame took on the wire. */
  size: number;
  /** The frame's bytes as they were on the wire. */
  bytes: Buffer;
  /** The close code of a Close frame with a body. */
  closeCode?: number;
}

/** Parses one frame at the start of `buf`, or null if it is not all there. */
export function parseFrame(buf: Buffer): ServerFrame | null {
  if (buf.length < 2) return null;
  let length = buf[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    length = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  const masked = (buf[1] & 0x80) !== 0;
  if (masked) at += 4;
  if (buf.length < at + length) return null;
  const payload = Buffer.from(buf.subarray(at, at + length));
  if (masked) {
    const key = buf.subarray(at - 4, at);
    for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  }
  const frame: ServerFrame = {
    fin: (buf[0] & 0x80) !== 0,
    opcode: buf[0] & 0x0f,
    masked,
    payload,
    size: at + length,
    bytes: Buffer.from(buf.subarray(0, at + length)),
  };
  if (frame.opcode === OP.close && payload.length >= 2) frame.closeCode = payload.readUInt16BE(0);
  return frame;
}

/** Hex with spaces, for assertions that read like the RFC ("88 02 03 ea"). */
export function hex(buf: Uint8Array): string {
  return Buffer.from(buf)
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");
}

// ---- certificates -----------------------------------------------------------------------------------------

/** A self-signed certificate for 127.0.0.1 and localhost, or null if openssl is missing. */
export async function selfSignedCert(): Promise<{ cert: string; key: string } | null> {
  return selfSignedCertificate();
}
