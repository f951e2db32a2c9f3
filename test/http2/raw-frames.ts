import net from "node:net";
import { within } from "../server/helpers.js";

// A raw HTTP/2 peer (h2c, prior knowledge), client or server, that sees the other end's frames exactly as they
// are on the wire: node:http2 hides an empty DATA frame that carries END_STREAM, and which of END_STREAM and
// RST_STREAM came first. It speaks just enough: the preface, SETTINGS and their ACK, and HEADERS with
// literal HPACK fields (RFC 7541 §6.2.2, no Huffman, no table), so that nothing of node:http2 or nghttp2
// shapes what the test sees.

export const FRAME = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6, goaway: 7 } as const;
export const FLAG = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK string literal without Huffman coding (RFC 7541 §5.2), for lengths under 127. */
function literal(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  if (bytes.length >= 127) throw new Error("literal too long for this encoder");
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export class RawH2Peer {
  readonly socket: net.Socket;
  /** Every frame received, in order. */
  readonly frames: RawFrame[] = [];
  private buffered = Buffer.alloc(0);
  private wake: (() => void)[] = [];

  /** A server waits for the client's preface before its frames. */
  private prefaceLeft: number;

  private constructor(socket: net.Socket, server: boolean) {
    this.socket = socket;
    this.prefaceLeft = server ? PREFACE.length : 0;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      if (this.prefaceLeft > 0) {
        const skipped = Math.min(this.prefaceLeft, this.buffered.length);
        this.buffered = this.buffered.subarray(skipped);
        this.prefaceLeft -= skipped;
      }
      while (this.buffered.length >= 9) {
        const length = this.buffered.readUIntBE(0, 3);
        if (this.buffered.length < 9 + length) break;
        const received: RawFrame = {
          type: this.buffered[3],
          flags: this.buffered[4],
          streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.buffered.subarray(9, 9 + length)),
        };
        this.buffered = this.buffered.subarray(9 + length);
        this.frames.push(received);
        // RFC 9113 §6.5.3: the peer's SETTINGS are acknowledged.
        if (received.type === FRAME.settings && (received.flags & FLAG.ack) === 0)
          socket.write(frame(FRAME.settings, FLAG.ack, 0, Buffer.alloc(0)));
      }
      for (const wake of this.wake.splice(0)) wake();
    });
    socket.on("close", () => {
      for (const wake of this.wake.splice(0)) wake();
    });
  }

  /** Connects to 127.0.0.1:`port` as a client and sends the preface and an empty SETTINGS frame. */
  static async connect(port: number, host = "127.0.0.1"): Promise<RawH2Peer> {
    const socket = net.connect(port, host);
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      5000,
      "the TCP connection",
    );
    socket.write(PREFACE);
    socket.write(frame(FRAME.settings, 0, 0, Buffer.alloc(0)));
    return new RawH2Peer(socket, false);
  }

  /**
   * The server end of an accepted `socket`: its SETTINGS say SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441
   * §3), so that a client may send extended CONNECTs.
   */
  static serve(socket: net.Socket): RawH2Peer {
    const enableConnect = Buffer.from([0x00, 0x08, 0x00, 0x00, 0x00, 0x01]);
    socket.write(frame(FRAME.settings, 0, 0, enableConnect));
    return new RawH2Peer(socket, true);
  }

  /** Answers `streamId` with HEADERS `:status 200` (HPACK static table index 8, RFC 7541 Appendix A). */
  respond200(streamId: number): void {
    this.socket.write(frame(FRAME.headers, FLAG.endHeaders, streamId, Buffer.from([0x88])));
  }

  /** Sends HEADERS (END_HEADERS, no END_STREAM) with `fields` in order, pseudo-headers first. */
  request(streamId: number, fields: [string, string][]): void {
    // RFC 7541 §6.2.2: literal header field never indexed, new name (0x10), no Huffman.
    const block = Buffer.concat(
      fields.map(([name, value]) => Buffer.concat([Buffer.from([0x10]), literal(name), literal(value)])),
    );
    this.socket.write(frame(FRAME.headers, FLAG.endHeaders, streamId, block));
  }

  /** Waits until a received frame matches `predicate` (within `ms`) and returns it. */
  async waitFor(predicate: (frame: RawFrame) => boolean, label: string, ms = 5000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.socket.destroyed) throw new Error(`no ${label} from the server`);
      await new Promise<void>((resolve) => {
        this.wake.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The frames received on `streamId`, in order. */
  on(streamId: number): RawFrame[] {
    return this.frames.filter((f) => f.streamId === streamId);
  }

  close(): void {
    this.socket.destroy();
  }
}
