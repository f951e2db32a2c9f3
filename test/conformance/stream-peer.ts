import { randomBytes } from "node:crypto";
import net from "node:net";
import { HOST, within } from "./peers.js";

// A raw client for large messages: it sends frames without copying payloads (masked with the all-zero key,
// which RFC 6455 §5.3 allows and leaves the bytes as they are), reads frames from a list of chunks without
// concatenating everything received, and can read at a fixed rate or not at all.

export interface StreamFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export class StreamPeer {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  /** Bytes per second the peer reads at, or 0 for as fast as they come. */
  private rate = 0;
  private readSince = 0;
  private readStarted = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.throttle(chunk.length);
      this.notify();
    });
    socket.on("close", () => {
      this.ended = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  /** Connects and completes the opening handshake on `path`. */
  static async open(port: number, path = "/"): Promise<StreamPeer> {
    const socket = net.connect({ host: HOST, port });
    const peer = new StreamPeer(socket);
    await within(new Promise((resolve) => socket.once("connect", resolve)), 5000, "TCP connect");
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await peer.until(() => peer.peek().includes("\r\n\r\n"), 5000, "the 101 response");
    const all = Buffer.concat(peer.chunks);
    const end = all.indexOf("\r\n\r\n") + 4;
    const status = all.subarray(0, all.indexOf("\r\n")).toString("latin1");
    if (!status.startsWith("HTTP/1.1 101")) throw new Error(`expected 101, got ${status}`);
    peer.chunks = end < all.length ? [all.subarray(end)] : [];
    peer.buffered = all.length - end;
    return peer;
  }

  /** Reads at most `bytesPerSecond` from now on (pausing the socket when ahead); 0 = no limit. */
  readAt(bytesPerSecond: number): void {
    this.rate = bytesPerSecond;
    this.readSince = 0;
    this.readStarted = Date.now();
  }

  /** Sends one frame, masked with the zero key: the payload goes out as it is, without a copy. */
  sendFrame(opcode: number, payload: Buffer, fin = true): void {
    const length = payload.length;
    const head = Buffer.alloc(length < 126 ? 6 : length < 65536 ? 8 : 14);
    head[0] = (fin ? 0x80 : 0) | opcode;
    if (length < 126) head[1] = 0x80 | length;
    else if (length < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(length, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(length), 2);
    }
    this.socket.write(head);
    if (length > 0) this.socket.write(payload);
  }

  /** Sends `payload` as one message in frames of `fragmentBytes` (the last may be shorter). */
  sendMessage(opcode: number, payload: Buffer, fragmentBytes = payload.length): void {
    let at = 0;
    do {
      const end = Math.min(payload.length, at + Math.max(1, fragmentBytes));
      this.sendFrame(at === 0 ? opcode : 0, payload.subarray(at, end), end === payload.length);
      at = end;
    } while (at < payload.length);
  }

  /** Reads the next frame; throws if the connection ends first or `ms` pass. */
  async readFrame(ms = 5000): Promise<StreamFrame> {
    let frame: StreamFrame | null = null;
    await this.until(() => (frame = this.take()) !== null || this.ended, ms, "a frame");
    frame ??= this.take();
    if (frame === null) throw new Error("the connection closed before a whole frame arrived");
    return frame;
  }

  /** Reads one message (joining its frames), answering nothing; control frames are returned as they are. */
  async readMessage(ms = 5000): Promise<StreamFrame> {
    const first = await this.readFrame(ms);
    if (first.fin || first.opcode >= 8) return first;
    const parts = [first.payload];
    for (;;) {
      const next = await this.readFrame(ms);
      if (next.opcode >= 8) continue;
      parts.push(next.payload);
      if (next.fin) return { fin: true, opcode: first.opcode, payload: Buffer.concat(parts) };
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  async waitClosed(ms = 5000): Promise<void> {
    await this.until(() => this.ended, ms, "the connection to close");
  }

  destroy(): void {
    this.socket.destroy();
  }

  private throttle(bytes: number): void {
    if (this.rate === 0) return;
    this.readSince += bytes;
    const dueMs = (this.readSince / this.rate) * 1000 - (Date.now() - this.readStarted);
    if (dueMs > 5) {
      this.socket.pause();
      setTimeout(() => this.socket.resume(), dueMs).unref();
    }
  }

  private peek(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
  }

  /** Removes and returns the first whole frame, or null. */
  private take(): StreamFrame | null {
    if (this.buffered < 2) return null;
    const head = this.bytes(Math.min(this.buffered, 14));
    const length7 = head[1] & 0x7f;
    const headerLength = length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
    if (head.length < headerLength) return null;
    const length =
      length7 < 126 ? length7 : length7 === 126 ? head.readUInt16BE(2) : Number(head.readBigUInt64BE(2));
    if (this.buffered < headerLength + length) return null;
    this.consume(headerLength);
    const payload = this.consume(length);
    return { fin: (head[0] & 0x80) !== 0, opcode: head[0] & 0x0f, payload };
  }

  /** The first `n` buffered bytes, without consuming them. */
  private bytes(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const out = Buffer.alloc(n);
    let at = 0;
    for (const chunk of this.chunks) {
      at += chunk.copy(out, at, 0, Math.min(chunk.length, n - at));
      if (at === n) break;
    }
    return out;
  }

  private consume(n: number): Buffer {
    const out = this.bytes(n);
    const copy = n > 0 && this.chunks[0].length >= n ? Buffer.from(out) : out;
    let left = n;
    while (left > 0) {
      const first = this.chunks[0];
      if (first.length <= left) {
        left -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    return copy;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async until(predicate: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
