// Fan-out benchmark: one publisher, 1,000 subscribers, 32 B and 1 KiB messages, delivered messages per second.
// sockjet's server.publish() (framed once, batched per connection) against the naïve loop over `ws` server
// clients (`for (const c of wss.clients) c.send(msg)`), each server alone in its own process; the 1,000
// receivers live in a separate process: raw TCP WebSocket clients that only count frames, so that the
// receiving side costs as little as possible and the servers are what is measured.
//
//   node --import tsx bench/fanout.ts [--subscribers=1000] [--sizes=32,1k] [--messages=N | --seconds=S]
//                                     [--runs=3] [--publisher=client,server] [--burst=1,16]
//                                     [--only=sockjet,ws,sockjet-resume] [--dist] [--pin=SERVER_CPU,RECEIVERS_CPU]
//                                     [--profile] [--json=FILE]
//
// --dist runs sockjet from the built package (dist/, as `npm run bench` does after building it) instead of
// src/ through tsx; --pin puts the server on one CPU and the receivers on another (taskset); --seconds sizes
// every measured run to about that long from the rate of the warm-up (instead of a fixed --messages).
//
// Publishers:
// - client: a WebSocket client (npm `ws`, in this process) sends the messages to the server, whose message
//   handler publishes each one (sockjet: server.publish; ws: the loop): the chat/feed shape. It sends in
//   windows of 64 messages and waits while the receivers are more than two windows behind.
// - server: the server process publishes in a loop, `--burst` messages per event-loop turn (1: one publish
//   per turn, the worst case for write batching; 16: a busy publisher), waiting while more than 64 KiB per
//   subscriber is buffered.
// sockjet-resume (in `npm run bench`, not in this script's default --only): the same sockjet server with `resume: {}`, every receiver a
// resume connection (sockjet.resume.1): each publish gets a position and is kept in the memory store, and
// is framed once in its envelope; the cost of positions on live fan-out against "sockjet".
// bench/run.ts can call runFanout() and print formatFanout().

import { type ChildProcess, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HOST = "127.0.0.1";
const benchDir = dirname(fileURLToPath(import.meta.url));
const thisFile = fileURLToPath(import.meta.url);

export type FanoutContender = "sockjet" | "ws" | "sockjet-resume";

export type FanoutPublisher = "client" | "server";

export interface FanoutOptions {
  subscribers: number;
  sizes: number[];
  publishers: FanoutPublisher[];
  /** Messages per event-loop turn for the "server" publisher. */
  bursts: number[];
  /** Messages published per run; default: enough for 3 M deliveries (32 B) or 1 M (1 KiB). */
  messages?: number;
  /**
   * Instead of `messages`: size every measured run to last about this long, from the rate measured in the
   * warm-up (at least 10 messages, at most the default count).
   */
  seconds?: number;
  /** Run sockjet from the built package (dist/) rather than src/ through tsx. */
  dist?: boolean;
  /** Pin the server and the receivers to these CPUs (taskset), when given. */
  cpus?: { server?: number; receivers?: number };
  runs: number;
  contenders: FanoutContender[];
  /** Write V8 CPU profiles of the servers to bench/out/profiles. */
  profile?: boolean;
  log?: (line: string) => void;
}

export interface FanoutResult {
  contender: FanoutContender;
  size: number;
  publisher: FanoutPublisher;
  /** "server" publisher only. */
  burst: number;
  subscribers: number;
  messages: number;
  /** Median of the runs. */
  deliveredPerSecond: number;
  runs: number[];
  /** sockjet only: frames built per published message (1 = framed once). */
  framesPerMessage?: number;
  serverCpuPercent: number;
  receiverCpuPercent: number;
  /**
   * CPU used by everything else on the machine during the measured runs (busy time from /proc/stat minus the
   * server, the receivers and this process), % of one CPU: the noisy-neighbour check; NaN when unknown.
   */
  otherCpuPercent: number;
}

const LABELS: Record<FanoutContender, string> = {
  sockjet: "sockjet server.publish()",
  ws: "ws: for (c of wss.clients) c.send()",
  "sockjet-resume": "sockjet publish(), resume on",
};

// ---- the publishing server (child process) ----------------------------------------------------------------

type ServerCommand =
  | { cmd: "publish"; size: number; count: number; burst: number }
  | { cmd: "cpu" }
  | { cmd: "stats" }
  | { cmd: "exit" };

async function serverRole(contender: FanoutContender, subscribers: number, dist: boolean): Promise<void> {
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

async function receiversRole(port: number, count: number, resume: boolean): Promise<void> {
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

// ---- orchestration ----------------------------------------------------------------------------------------

function child(args: string[], profile: boolean, cpu?: number): ChildProcess {
  const execArgv = ["--import", "tsx"];
  if (profile) {
    const dir = join(benchDir, "out", "profiles");
    mkdirSync(dir, { recursive: true });
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  const stdio: ["ignore", "inherit", "inherit", "ipc"] = ["ignore", "inherit", "inherit", "ipc"];
  if (cpu === undefined) return fork(thisFile, args, { execArgv, stdio });
  // taskset execs node, which inherits the IPC channel (NODE_CHANNEL_FD) like a forked child
  return spawn("taskset", ["-c", String(cpu), process.execPath, ...execArgv, thisFile, ...args], { stdio });
}

/** The whole machine's busy jiffies (user, nice, system, irq, softirq; USER_HZ = 100), or NaN. */
function busyJiffies(): number {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return v[0] + v[1] + v[2] + v[5] + v[6];
  } catch {
    return Number.NaN;
  }
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Sends `command` (if any) and resolves with the child's next message of `type`. */
function ask(proc: ChildProcess, type: string, command?: Record<string, unknown>, ms = 120_000) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      proc.off("message", onMessage);
      proc.off("exit", onExit);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for '${type}'`));
    }, ms);
    const onMessage = (message: unknown) => {
      const m = message as Record<string, unknown>;
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited (${code}) while waiting for '${type}'`));
    };
    proc.on("message", onMessage);
    proc.on("exit", onExit);
    if (command !== undefined) proc.send(command);
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.send({ cmd: "exit" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const WINDOW = 64;

async function delivered(receiver: ChildProcess): Promise<number> {
  return (await ask(receiver, "count", { cmd: "count" })).total as number;
}

/** The "client" publisher: sends `count` messages through a ws client, in windows paced by the receivers. */
async function publishFromClient(
  port: number,
  receiver: ChildProcess,
  payload: Buffer,
  count: number,
  subscribers: number,
  base: number,
): Promise<void> {
  const { WebSocket } = await import("ws");
  const client = new WebSocket(`ws://${HOST}:${port}/publish`, { perMessageDeflate: false });
  await once(client, "open");
  const started = performance.now();
  for (let sent = 0; sent < count; ) {
    const n = Math.min(WINDOW, count - sent);
    for (let i = 0; i < n; i++) client.send(payload, { binary: true });
    sent += n;
    while ((await delivered(receiver)) - base < (sent - 2 * WINDOW) * subscribers) {
      if (performance.now() - started > 120_000) throw new Error("the receivers stopped receiving");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  client.close();
}

async function oneCase(
  contender: FanoutContender,
  size: number,
  publisher: FanoutPublisher,
  burst: number,
  options: FanoutOptions,
): Promise<FanoutResult> {
  const subscribers = options.subscribers;
  const defaultMessages = Math.round((size <= 64 ? 3_000_000 : 1_000_000) / subscribers);
  let messages = options.messages ?? defaultMessages;
  const serverArgs = ["--role=server", `--contender=${contender}`, `--subscribers=${subscribers}`];
  if (options.dist === true) serverArgs.push("--dist");
  const server = child(serverArgs, options.profile === true, options.cpus?.server);
  const children = [server];
  try {
    const { port } = (await ask(server, "listening")) as { port: number };
    const receiver = child(
      [
        "--role=receivers",
        `--port=${port}`,
        `--count=${subscribers}`,
        ...(contender === "sockjet-resume" ? ["--resume"] : []),
      ],
      false,
      options.cpus?.receivers,
    );
    children.push(receiver);
    await ask(receiver, "connected");
    const payload = Buffer.alloc(size, 0x61);
    const rates: number[] = [];
    let serverCpu = 0;
    let receiverCpu = 0;
    let otherCpu = 0;
    let elapsed = 0;
    let base = 0;
    let published = 0;
    // Runs below 0 warm up; their figures are dropped. With `seconds`, run -2 warms up (the JIT) and sizes
    // run -1 to about half a second, whose rate sizes the measured runs.
    const first = options.seconds === undefined ? -1 : -2;
    let count = Math.max(10, Math.round(messages / 10));
    for (let run = first; run < options.runs; run++) {
      if (run === -2) count = Math.max(10, Math.round(defaultMessages / 60));
      await ask(server, "cpu", { cmd: "cpu" });
      await ask(receiver, "cpu", { cmd: "cpu" });
      const busy0 = busyJiffies();
      const own0 = ownCpuMs();
      const started = performance.now();
      if (publisher === "client") {
        await publishFromClient(port, receiver, payload, count, subscribers, base);
      } else {
        await ask(server, "published", { cmd: "publish", size, count, burst }, 600_000);
      }
      const target = base + count * subscribers;
      for (;;) {
        const total = await delivered(receiver);
        if (total >= target) break;
        if (performance.now() - started > 600_000)
          throw new Error(`only ${total - base} of ${target - base} delivered`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const ms = performance.now() - started;
      base = target;
      published += count;
      const sCpu = (await ask(server, "cpu", { cmd: "cpu" })).cpuMs as number;
      const rCpu = (await ask(receiver, "cpu", { cmd: "cpu" })).cpuMs as number;
      const busyMs = (busyJiffies() - busy0) * 10;
      const ownMs = ownCpuMs() - own0;
      if (run < 0) {
        const perSecond = (count * 1000) / ms;
        const clamp = (n: number, max: number) => Math.min(max, Math.max(10, Math.round(n)));
        if (run === -2) count = clamp(perSecond / 2, defaultMessages / 10);
        else if (options.seconds !== undefined)
          count = messages = clamp(perSecond * options.seconds, defaultMessages);
        else count = messages;
        continue;
      }
      rates.push((count * subscribers) / (ms / 1000));
      serverCpu += sCpu;
      receiverCpu += rCpu;
      otherCpu += Math.max(0, busyMs - sCpu - rCpu - ownMs);
      elapsed += ms;
    }
    const { framesEncoded } = (await ask(server, "stats", { cmd: "stats" })) as { framesEncoded: number };
    return {
      contender,
      size,
      publisher,
      burst: publisher === "server" ? burst : 0,
      subscribers,
      messages,
      deliveredPerSecond: median(rates),
      runs: rates,
      framesPerMessage: contender !== "ws" ? framesEncoded / published : undefined,
      serverCpuPercent: (100 * serverCpu) / elapsed,
      receiverCpuPercent: (100 * receiverCpu) / elapsed,
      otherCpuPercent: (100 * otherCpu) / elapsed,
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}

export async function runFanout(options: FanoutOptions): Promise<FanoutResult[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const results: FanoutResult[] = [];
  for (const size of options.sizes) {
    for (const publisher of options.publishers) {
      for (const burst of publisher === "server" ? options.bursts : [0]) {
        for (const contender of options.contenders) {
          const result = await oneCase(contender, size, publisher, burst, options);
          log(
            `  ${formatSize(size).padStart(6)}  ${caseLabel(result).padEnd(22)} ${LABELS[contender].padEnd(38)} ` +
              `${formatRate(result.deliveredPerSecond).padStart(8)} msg/s  (server CPU ` +
              `${result.serverCpuPercent.toFixed(0)}%, receivers CPU ${result.receiverCpuPercent.toFixed(0)}%)`,
          );
          results.push(result);
        }
      }
    }
  }
  return results;
}

function caseLabel(r: FanoutResult): string {
  return r.publisher === "client" ? "client publisher" : `server loop, burst ${r.burst}`;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)} M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} k`;
  return rate.toFixed(0);
}

export interface FanoutFormat {
  /** judge every speed-up against this (✅/❌) */
  target?: number;
  /** a case where either contender's other CPU use reached this % of a CPU is marked ⚠ and not judged */
  contendedCpu?: number;
}

/** ⚠ when either side of a case was contended (see FanoutFormat.contendedCpu). */
export function fanoutContended(results: (FanoutResult | undefined)[], contendedCpu?: number): boolean {
  if (contendedCpu === undefined) return false;
  return results.some((r) => r !== undefined && r.otherCpuPercent >= contendedCpu);
}

/** The sockjet and ws results of every size/publisher/burst case, in the order they ran. */
export function fanoutPairs(
  results: FanoutResult[],
): { sockjet?: FanoutResult; ws?: FanoutResult; resume?: FanoutResult; size: number; label: string }[] {
  const keys = new Set(results.map((r) => `${r.size}/${r.publisher}/${r.burst}`));
  return [...keys].map((key) => {
    const [sizeText, publisher, burstText] = key.split("/");
    const match = (c: FanoutContender) =>
      results.find(
        (r) =>
          r.contender === c &&
          r.size === Number(sizeText) &&
          r.publisher === publisher &&
          r.burst === Number(burstText),
      );
    const sockjet = match("sockjet");
    const ws = match("ws");
    const resume = match("sockjet-resume");
    return { sockjet, ws, resume, size: Number(sizeText), label: caseLabel((sockjet ?? ws ?? resume)!) };
  });
}

/** A Markdown table of the results, with sockjet's speed-up over the naïve `ws` loop. */
export function formatFanout(results: FanoutResult[], format: FanoutFormat = {}): string {
  const lines = [
    "| size | publisher | sockjet server.publish() | ws naïve loop | speed-up | frames built per publish | server CPU sockjet / ws | others' CPU | resume on (÷ sockjet) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { sockjet: ours, ws: theirs, resume, size, label } of fanoutPairs(results)) {
    const contended = fanoutContended([ours, theirs], format.contendedCpu);
    const rate = (r: FanoutResult | undefined) =>
      r === undefined ? "–" : `${formatRate(r.deliveredPerSecond)}/s`;
    let ratio = "–";
    if (ours !== undefined && theirs !== undefined) {
      const x = ours.deliveredPerSecond / theirs.deliveredPerSecond;
      ratio = `${x.toFixed(1)}×`;
      if (contended) ratio += format.target === undefined ? " ⚠" : ` ⚠ not judged (≥ ${format.target}×)`;
      else if (format.target !== undefined)
        ratio += ` ${x >= format.target ? "✅" : "❌"} (≥ ${format.target}×)`;
    }
    const cpu = (r: FanoutResult | undefined) =>
      r === undefined ? "–" : `${r.serverCpuPercent.toFixed(0)}%`;
    const other = (r: FanoutResult | undefined) =>
      r === undefined || !Number.isFinite(r.otherCpuPercent) ? "–" : `${r.otherCpuPercent.toFixed(0)}%`;
    lines.push(
      `| ${formatSize(size)} | ${label} | ${rate(ours)} | ${rate(theirs)} | ${ratio} | ` +
        `${ours?.framesPerMessage?.toFixed(2) ?? "–"} | ${cpu(ours)} / ${cpu(theirs)} | ${other(ours)} / ${other(theirs)} | ` +
        `${resume === undefined ? "–" : `${rate(resume)} (${ours === undefined ? "–" : `${(resume.deliveredPerSecond / ours.deliveredPerSecond).toFixed(2)}×`})`} |`,
    );
  }
  return lines.join("\n");
}

// ---- command line -----------------------------------------------------------------------------------------

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of argv) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (match) out[match[1]] = match[2] ?? "true";
  }
  return out;
}

function parseSize(text: string): number {
  const match = /^(\d+)\s*([kKmM]?)/.exec(text.trim());
  if (match === null) throw new Error(`bad size '${text}'`);
  const unit = match[2].toLowerCase();
  return Number(match[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.role === "server")
    return serverRole(args.contender as FanoutContender, Number(args.subscribers), args.dist === "true");
  if (args.role === "receivers")
    return receiversRole(Number(args.port), Number(args.count), args.resume === "true");
  const options: FanoutOptions = {
    subscribers: Number(args.subscribers ?? 1000),
    sizes: (args.sizes ?? "32,1k").split(",").map(parseSize),
    publishers: (args.publisher ?? "client,server").split(",") as FanoutPublisher[],
    bursts: (args.burst ?? "1,16").split(",").map(Number),
    messages: args.messages === undefined ? undefined : Number(args.messages),
    seconds: args.seconds === undefined ? undefined : Number(args.seconds),
    dist: args.dist === "true",
    cpus:
      args.pin === undefined
        ? undefined
        : { server: Number(args.pin.split(",")[0]), receivers: Number(args.pin.split(",")[1]) },
    runs: Number(args.runs ?? 3),
    contenders: (args.only ?? "sockjet,ws").split(",") as FanoutContender[],
    profile: args.profile === "true",
  };
  console.log(
    `fan-out: 1 publisher → ${options.subscribers} subscribers (receivers in a separate process), ` +
      `median of ${options.runs} runs`,
  );
  const results = await runFanout(options);
  console.log(`\n${formatFanout(results)}`);
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
