// The child processes of the fan-out benchmark (bench/fanout.ts forks itself with --role=…): the publishing
// server (sockjet or ws) and the receivers, raw TCP WebSocket clients that only count frames, with the
// "client" publisher beside them.

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { FanoutContender } from "./fanout.js";

export const HOST = "127.0.0.1";
const benchDir = dirname(fileURLToPath(import.meta.url));

// ---- the publishing server (child process) ----------------------------------------------------------------

type ServerCommand =
  | { cmd: "publish"; size: number; count: number; burst: number }
  | { cmd: "cpu" }
  | { cmd: "stats" }
  | { cmd: "exit" };

export async function serverRole(
  contender: FanoutContender,
  subscribers: number,
  dist: boolean,
): Promise<void> {
  const send = (message: Record<string, unknown>) => process.send?.(message);
  // What the subscribers have not taken yet, summed: the flow control of the "server" publisher.
  let buffered: () => number;
  let publish: (payload: Buffer) => void;
  let framesEncoded = () => 0;
  let port: number;
  if (contender === "sockjet" || contender === "sockjet-resume") {
    const { WebSocketServer } = (
      dist
        ? await import(pathToFileURL(join(benchDir, "..", "dist", "index.js")).href)
        : await import("../src/index.js")
    ) as typeof import("../src/index.js");
    const server = new WebSocketServer({
      port: 0,
      host: HOST,
      pingIntervalMs: 0,
      maxConnections: 100_000,
      maxBufferedBytes: 1 << 30,
      resume: contender === "sockjet-resume" ? {} : null,
    });
    server.on("connection", (socket, request) => {
      if (request.url !== "/publish") {
        socket.subscribe("bench");
        return;
      }
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => server.publish("bench", (event as MessageEvent).data as ArrayBuffer);
    });
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
    publish = (payload) => server.publish("bench", payload);
    buffered = () => {
      let total = 0;
      for (const client of server.clients) total += client.bufferedAmount;
      return total;
    };
    framesEncoded = () => server.pubsubStats.framesEncoded;
  } else {
    const { WebSocketServer } = await import("ws");
    const wss = new WebSocketServer({ port: 0, host: HOST, perMessageDeflate: false });
    wss.on("connection", (ws, request) => {
      if (request.url !== "/publish") return;
      // The naïve loop: every other client, one send() each.
      ws.on("message", (data, isBinary) => {
        for (const client of wss.clients) if (client !== ws) client.send(data, { binary: isBinary });
      });
    });
    await once(wss, "listening");
    port = (wss.address() as net.AddressInfo).port;
    publish = (payload) => {
      for (const client of wss.clients) client.send(payload);
    };
    buffered = () => {
      let total = 0;
      for (const client of wss.clients) total += client.bufferedAmount;
      return total;
    };
  }
  send({ type: "listening", port });

  let cpuMark = process.cpuUsage();
  process.on("message", async (raw) => {
    const command = raw as ServerCommand;
    if (command.cmd === "exit") process.exit(0);
    if (command.cmd === "cpu") {
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      send({ type: "cpu", cpuMs: (cpu.user + cpu.system) / 1000 });
      return;
    }
    if (command.cmd === "stats") {
      send({ type: "stats", framesEncoded: framesEncoded() });
      return;
    }
    const payload = Buffer.alloc(command.size, 0x61);
    const limit = 64 * 1024 * subscribers;
    for (let sent = 0; sent < command.count; ) {
      const n = Math.min(command.burst, command.count - sent);
      for (let i = 0; i < n; i++) publish(payload);
      sent += n;
      await new Promise((resolve) => setImmediate(resolve));
      while (buffered() > limit) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    send({ type: "published" });
  });
}

// ---- the receivers (child process): raw WebSocket clients that count frames ------------------------------

/** Deliveries counted by the receivers of one server (control messages left out). */
interface Tally {
  frames: number;
}

class FrameCounter {
  /** Control messages of a resume connection (payload starting with 0x02): not deliveries, not in the tally. */
  controls = 0;
  private skip = 0;
  private header: Buffer | null = null;
  /** The next payload byte is the first of a frame's payload (its resume type byte). */
  private atPayloadStart = false;
  private readonly resume: boolean;
  private readonly tally: Tally;

  constructor(resume: boolean, tally: Tally) {
    this.resume = resume;
    this.tally = tally;
  }

  /** Counts the complete frame headers in `chunk`, skipping payloads (server frames are unmasked). */
  push(chunk: Buffer): void {
    let data = chunk;
    if (this.header !== null) {
      data = Buffer.concat([this.header, chunk]);
      this.header = null;
    }
    let at = 0;
    const end = data.length;
    while (at < end) {
      if (this.skip > 0) {
        if (this.atPayloadStart) {
          this.atPayloadStart = false;
          if (data[at] === 0x02) {
            this.tally.frames--;
            this.controls++;
          }
        }
        const take = Math.min(this.skip, end - at);
        this.skip -= take;
        at += take;
        continue;
      }
      if (end - at < 2) break;
      const len7 = data[at + 1] & 0x7f;
      const headerBytes = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (end - at < headerBytes) break;
      const length =
        len7 < 126
          ? len7
          : len7 === 126
            ? data.readUInt16BE(at + 2)
            : data.readUInt32BE(at + 2) * 2 ** 32 + data.readUInt32BE(at + 6);
      this.tally.frames++;
      at += headerBytes;
      this.skip = length;
      this.atPayloadStart = this.resume && length > 0;
    }
    if (at < end) this.header = Buffer.from(data.subarray(at));
  }
}

/** The client's hello of a resume connection: a masked text frame (mask 0: the payload is as is). */
const RESUME_HELLO = (() => {
  const payload = Buffer.from('{"type":"hello"}');
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
})();

/**
 * Every receiver reads into this one buffer (net's `onread`): the frames are counted during the callback and
 * nothing is kept, so the receivers cost no allocation and no stream event per read: what the server
 * sends them is measured, not their own cost.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

async function openReceiver(
  port: number,
  resume: boolean,
  tally: Tally,
  onCounted: () => void,
): Promise<net.Socket> {
  const counter = new FrameCounter(resume, tally);
  let handshake: ((chunk: Buffer) => void) | null = null;
  const socket = net.connect({
    port,
    host: HOST,
    onread: {
      buffer: readBuffer,
      callback: (bytes: number, buffer: Uint8Array) => {
        const chunk = buffer as Buffer;
        if (handshake !== null) handshake(Buffer.from(chunk.subarray(0, bytes)));
        else {
          counter.push(chunk.subarray(0, bytes));
          onCounted();
        }
        return true;
      },
    },
  });
  socket.setNoDelay(true);
  await once(socket, "connect");
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      (resume ? "Sec-WebSocket-Protocol: sockjet.resume.1\r\n" : "") +
      "\r\n",
  );
  await new Promise<void>((resolve, reject) => {
    let head = Buffer.alloc(0);
    socket.on("error", reject);
    handshake = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      handshake = null;
      if (!head.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
        reject(new Error(`handshake refused: ${head.subarray(0, 40).toString()}`));
        return;
      }
      if (end + 4 < head.length) counter.push(head.subarray(end + 4));
      if (!resume) {
        resolve();
        return;
      }
      // Control messages (the `session`, a topic's number) are not deliveries: the counter leaves them out.
      socket.write(RESUME_HELLO);
      const started = Date.now();
      const waitForSession = () => {
        if (counter.controls > 0) {
          resolve();
        } else if (Date.now() - started > 10_000) reject(new Error("no resume session within 10 s"));
        else setTimeout(waitForSession, 5);
      };
      waitForSession();
    };
  });
  return socket;
}

// ---- the "client" publisher (in the receivers' process) -------------------------------------------------

/** Messages per window of the "client" publisher; it waits while the receivers are over two windows behind. */
export const PUBLISH_WINDOW = 64;

/**
 * The "client" publisher's connection: a raw WebSocket client to /publish, whose messages the server's message
 * handler publishes (the chat shape). Only its 101 is read; the server sends it nothing else.
 */
async function openPublisher(port: number): Promise<net.Socket> {
  const socket = net.connect(port, HOST);
  socket.setNoDelay(true);
  await once(socket, "connect");
  socket.write(
    `GET /publish HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const [head] = (await once(socket, "data")) as [Buffer];
  if (!head.subarray(0, 12).toString().startsWith("HTTP/1.1 101"))
    throw new Error(`publisher refused: ${head.subarray(0, 40).toString()}`);
  socket.on("data", () => {});
  return socket;
}

/** A connection of this process broke mid-case: the figures would be wrong, so the process ends (status 1). */
function failed(why: string): never {
  console.error(`receivers: ${why}`);
  process.exit(1);
}

/**
 * A client's binary frame of `payload`, masked (RFC 6455 §5.3) with a random key that is not 0: a server
 * may skip the XOR for the key 0 (ws does), which no browser's frames would let it do.
 */
function maskedBinaryFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const header =
    n < 126
      ? Buffer.from([0x82, 0x80 | n])
      : n < 65536
        ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = 0x82;
            h[1] = 0x80 | 127;
            h.writeBigUInt64BE(BigInt(n), 2);
            return h;
          })();
  const key = randomBytes(4);
  key[0] |= 1;
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i & 3];
  return Buffer.concat([header, key, masked]);
}

/**
 * The receivers of one server: `count` raw clients that count frames, and the "client" publisher's connection
 * once it is needed. The run of that publisher under way is checked after every read of a receiver, so that
 * the next window leaves as soon as the receivers have caught up (no polling), and its end is seen at once.
 */
class ReceiverGroup {
  readonly tally: Tally = { frames: 0 };
  readonly sockets: net.Socket[] = [];
  private publisher: net.Socket | null = null;
  private publishing: (() => void) | null = null;

  constructor(
    private readonly port: number,
    private readonly count: number,
    private readonly resume: boolean,
  ) {}

  async connect(): Promise<void> {
    const onCounted = () => this.publishing?.();
    for (let i = 0; i < this.count; i += 100) {
      const batch = Array.from({ length: Math.min(100, this.count - i) }, () =>
        openReceiver(this.port, this.resume, this.tally, onCounted),
      );
      this.sockets.push(...(await Promise.all(batch)));
    }
  }

  /**
   * Sends `messages` messages of `size` bytes in windows, paced by the receivers; `done` once all came.
   * `base`: the deliveries counted before the run, as the orchestrator counted them.
   */
  async publish(size: number, messages: number, base: number, done: () => void): Promise<void> {
    if (this.publisher === null) {
      this.publisher = await openPublisher(this.port);
      // Mid-run, a broken connection would leave the run waiting for deliveries that never come.
      const broke = (why: string) => this.publishing !== null && failed(why);
      this.publisher.on("error", (error) => broke(`the publisher's connection: ${error.message}`));
      this.publisher.on("close", () => broke("the server closed the publisher's connection"));
    }
    const publisher = this.publisher;
    const frame = maskedBinaryFrame(Buffer.alloc(size, 0x61));
    const windowBytes = Buffer.concat(Array.from({ length: PUBLISH_WINDOW }, () => frame));
    const tally = this.tally;
    const target = base + messages * this.count;
    let sent = 0;
    this.publishing = () => {
      while (sent < messages && tally.frames - base >= (sent - 2 * PUBLISH_WINDOW) * this.count) {
        const n = Math.min(PUBLISH_WINDOW, messages - sent);
        publisher.write(n === PUBLISH_WINDOW ? windowBytes : windowBytes.subarray(0, n * frame.length));
        sent += n;
      }
      if (tally.frames >= target) {
        this.publishing = null;
        done();
      }
    };
    this.publishing();
  }
}

type ReceiversCommand =
  | { cmd: "connect"; group: number; port: number; resume: boolean }
  | { cmd: "publish"; group: number; size: number; messages: number; base: number }
  | { cmd: "count"; group: number }
  | { cmd: "cpu" }
  | { cmd: "exit" };

/**
 * The receivers' process of a case: one group of `count` receivers per contender's server, all in this one
 * process, so that what a process costs of its own (one in a few runs slower throughout on this VM) weighs
 * on every contender of the case alike. The contenders' runs alternate, so one group receives at a time.
 */
export async function receiversRole(count: number): Promise<void> {
  const groups = new Map<number, ReceiverGroup>();
  const send = (message: Record<string, unknown>) => process.send?.(message);
  let cpuMark = process.cpuUsage();
  process.on("message", async (raw) => {
    const command = raw as ReceiversCommand;
    if (command.cmd === "connect") {
      const group = new ReceiverGroup(command.port, count, command.resume);
      groups.set(command.group, group);
      await group.connect();
      send({ type: "connected", group: command.group });
    } else if (command.cmd === "publish") {
      const group = command.group;
      await groups
        .get(group)!
        .publish(command.size, command.messages, command.base, () => send({ type: "delivered", group }));
    } else if (command.cmd === "count") {
      send({ type: "count", total: groups.get(command.group)!.tally.frames });
    } else if (command.cmd === "cpu") {
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      send({ type: "cpu", cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (command.cmd === "exit") {
      for (const group of groups.values()) for (const socket of group.sockets) socket.destroy();
      process.exit(0);
    }
  });
  send({ type: "ready" });
}
