// The child processes of the fan-out benchmark (bench/fanout.ts forks itself with --role=…): the publishing
// server (sockjet or ws) and the receivers, raw TCP WebSocket clients that only count frames.

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

class FrameCounter {
  frames = 0;
  /** Control messages of a resume connection (payload starting with 0x02): not deliveries, not in `frames`. */
  controls = 0;
  private skip = 0;
  private header: Buffer | null = null;
  /** The next payload byte is the first of a frame's payload (its resume type byte). */
  private atPayloadStart = false;
  private readonly resume: boolean;

  constructor(resume: boolean) {
    this.resume = resume;
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
            this.frames--;
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
      this.frames++;
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

async function openReceiver(port: number, counters: FrameCounter[], resume: boolean): Promise<net.Socket> {
  const socket = net.connect(port, HOST);
  socket.setNoDelay(true);
  await once(socket, "connect");
  socket.write(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      (resume ? "Sec-WebSocket-Protocol: sockjet.resume.1\r\n" : "") +
      "\r\n",
  );
  const counter = new FrameCounter(resume);
  counters.push(counter);
  await new Promise<void>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      if (!head.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
        reject(new Error(`handshake refused: ${head.subarray(0, 40).toString()}`));
        return;
      }
      socket.on("data", (c: Buffer) => counter.push(c));
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
    socket.on("data", onData);
    socket.on("error", reject);
  });
  return socket;
}

export async function receiversRole(port: number, count: number, resume: boolean): Promise<void> {
  const counters: FrameCounter[] = [];
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () =>
      openReceiver(port, counters, resume),
    );
    sockets.push(...(await Promise.all(batch)));
  }
  const total = () => counters.reduce((n, c) => n + c.frames, 0);
  let cpuMark = process.cpuUsage();
  process.send?.({ type: "connected" });
  process.on("message", (raw) => {
    const command = raw as { cmd: string };
    if (command.cmd === "count") process.send?.({ type: "count", total: total() });
    else if (command.cmd === "cpu") {
      const cpu = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      process.send?.({ type: "cpu", cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (command.cmd === "exit") {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
  });
}
