// npm run soak -- --minutes N [--connections C] [--window W] [--seed S]
//
// Soak test: two echo servers (permessage-deflate without context takeover, and with takeover both ways)
// and C clients of our own, each picking a server and deflate on or off at random for every connection,
// sending numbered messages of mixed sizes (0 B to 256 KiB, text with multi-byte UTF-8 and binary) with up
// to W in flight, disconnecting at random (a clean close after its echoes, an abrupt terminate, or the
// server closing it with 1001) and reconnecting. Every echo is checked for sequence and content; the server
// checks every connection's sequence too. RSS is sampled every few seconds. The report gives the duration,
// messages, loss (must be 0), and RSS start/end/max; the exit code is 1 on any loss or corruption.
//
// Loss: a message sent and not echoed, when nothing excused it (a terminate or a server close abandons the
// messages in flight at that moment: those are counted apart), a gap or repeat in the sequence the server
// saw, or an echo with wrong content or out of order.

import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { closeWithStatus, WebSocket } from "../../src/web/websocket.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "1" },
    connections: { type: "string", default: "40" },
    window: { type: "string", default: "4" },
    seed: { type: "string" },
  },
});
const minutes = Number(values.minutes);
const connections = Number(values.connections);
const windowSize = Number(values.window);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 0x100000000);
if (
  !(minutes > 0) ||
  !Number.isInteger(connections) ||
  connections < 1 ||
  !Number.isInteger(windowSize) ||
  windowSize < 1
) {
  console.error("usage: npm run soak -- --minutes N [--connections C] [--window W] [--seed S]");
  process.exit(2);
}

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

// ---- deterministic randomness and payloads --------------------------------------------------------------

let state = seed >>> 0 || 1;
function random(): number {
  // xorshift32
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 0x100000000;
}
const randomInt = (n: number) => Math.floor(random() * n);

const POOL_BYTES = 512 * 1024;
// Binary: random bytes (incompressible) and a repetitive half (compressible). Text: ASCII and multi-byte
// UTF-8, cut only at character boundaries.
const binaryPool = Buffer.alloc(POOL_BYTES);
for (let i = 0; i < POOL_BYTES; i++) binaryPool[i] = i < POOL_BYTES / 2 ? randomInt(256) : (i * 7) & 0x3f;
const textChars: string[] = [];
{
  const alphabet = ["a", "b", "c", " ", "{", "}", ":", "é", "ß", "€", "中", "😀", "\n", "0", "1"];
  let bytes = 0;
  while (bytes < POOL_BYTES) {
    const c = alphabet[randomInt(alphabet.length)];
    textChars.push(c);
    bytes += Buffer.byteLength(c);
  }
}
const textPool = textChars.join("");

function messageSize(): number {
  const r = random();
  if (r < 0.55) return randomInt(126);
  if (r < 0.8) return 126 + randomInt(4096 - 126);
  if (r < 0.95) return 4096 + randomInt(65536 - 4096);
  return 65536 + randomInt(256 * 1024 - 65536);
}

interface Spec {
  text: boolean;
  size: number;
  offset: number;
}

const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** The message a session sends as `seq`: a header naming it, then a slice of a pool. */
function payload(session: number, seq: number, spec: Spec): string | Buffer {
  const header = `S${session}:${seq}:`;
  if (spec.text) {
    // Never cut a surrogate pair: a lone surrogate would be sent as U+FFFD (WebIDL USVString).
    let start = spec.offset;
    let end = spec.offset + spec.size;
    if (isLowSurrogate(textPool.charCodeAt(start))) start++;
    if (end > start && isLowSurrogate(textPool.charCodeAt(end))) end--;
    return header + textPool.slice(start, end);
  }
  return Buffer.concat([
    Buffer.from(header, "latin1"),
    binaryPool.subarray(spec.offset, spec.offset + spec.size),
  ]);
}

// ---- servers --------------------------------------------------------------------------------------------------

const totals = {
  sent: 0,
  echoed: 0,
  bytes: 0,
  sessions: 0,
  deflateSessions: 0,
  cleanCloses: 0,
  terminates: 0,
  serverCloses: 0,
  unexpectedCloses: 0,
  abandoned: 0,
  loss: 0,
  corrupt: 0,
  serverSeen: 0,
  serverGaps: 0,
  connectFailures: 0,
};
const problems: string[] = [];
function problem(what: string): void {
  if (problems.length < 20) problems.push(what);
}

async function startServer(
  perMessageDeflate: boolean | object,
): Promise<{ server: WebSocketServer; url: string }> {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate,
    maxPayloadBytes: 1 << 20,
    pingIntervalMs: 5000,
    maxConnections: connections * 4,
  });
  server.on("error", (error) => problem(`server error: ${error.message}`));
  server.on("connection", (ws, request) => {
    ws.binaryType = "arraybuffer";
    // The client names its session in the URL, so a session can ask its server side to close it.
    const named = Number(new URL(request.url ?? "/", "ws://x").searchParams.get("session"));
    serverSide.set(named, ws);
    ws.addEventListener("close", () => serverSide.delete(named));
    let expected = 0;
    let who = -1;
    ws.onmessage = (event) => {
      const data = event.data as string | ArrayBuffer;
      const head =
        typeof data === "string"
          ? data.slice(0, 32)
          : Buffer.from(data, 0, Math.min(32, data.byteLength)).toString("latin1");
      const [, session, seq] = /^S(\d+):(\d+):/.exec(head) ?? [];
      totals.serverSeen++;
      if (who === -1) who = Number(session);
      if (Number(session) !== who || Number(seq) !== expected) {
        totals.serverGaps++;
        problem(`server: connection of session ${who} got S${session}:${seq}, expected seq ${expected}`);
      }
      expected = Number(seq) + 1;
      ws.send(data);
    };
  });
  await once(server, "listening");
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

/** The server-side socket of each session. */
const serverSide = new Map<number, WebSocket>();

const servers = [
  await startServer(true),
  await startServer({ serverNoContextTakeover: false, clientNoContextTakeover: false }),
];

// ---- clients --------------------------------------------------------------------------------------------------

let nextSession = 0;
let stopping = false;
const live = new Set<Session>();

class Session {
  readonly id = nextSession++;
  readonly ws: WebSocket;
  private nextSeq = 0;
  private nextEcho = 0;
  private readonly specs = new Map<number, Spec>();
  private ending: "clean" | "terminate" | "server" | null = null;
  private readonly lifetimeMs = 1000 + randomInt(15_000);
  private timer: NodeJS.Timeout | null = null;
  readonly done: Promise<void>;

  constructor() {
    const target = servers[randomInt(servers.length)];
    const deflate = random() < 0.5;
    totals.sessions++;
    if (deflate) totals.deflateSessions++;
    this.ws = new WebSocket(`${target.url}?session=${this.id}`, [], {
      perMessageDeflate: deflate,
      handshakeTimeoutMs: 10_000,
    });
    this.ws.binaryType = "arraybuffer";
    live.add(this);
    this.done = new Promise((resolve) => {
      this.ws.onclose = (event) => {
        live.delete(this);
        if (this.timer !== null) clearTimeout(this.timer);
        this.onClosed(event as CloseEvent);
        resolve();
      };
    });
    this.ws.onopen = () => {
      if (stopping) {
        this.finish();
        return;
      }
      this.timer = setTimeout(() => this.end(), this.lifetimeMs);
      this.pump();
    };
    this.ws.onmessage = (event) => this.onEcho((event as MessageEvent).data as string | ArrayBuffer);
  }

  private get inFlight(): number {
    return this.nextSeq - this.nextEcho;
  }

  private pump(): void {
    while (
      this.ending === null &&
      !stopping &&
      this.inFlight < windowSize &&
      this.ws.readyState === WebSocket.OPEN
    ) {
      const text = random() < 0.5;
      const size = messageSize();
      const offset = text ? randomInt(textPool.length - size) : randomInt(POOL_BYTES - size);
      const spec = { text, size, offset };
      const seq = this.nextSeq++;
      this.specs.set(seq, spec);
      const data = payload(this.id, seq, spec);
      totals.sent++;
      totals.bytes += typeof data === "string" ? Buffer.byteLength(data) : data.length;
      this.ws.send(data);
    }
  }

  private onEcho(data: string | ArrayBuffer): void {
    const seq = this.nextEcho;
    const spec = this.specs.get(seq);
    if (spec === undefined) {
      totals.corrupt++;
      problem(`session ${this.id}: an echo with nothing in flight`);
      return;
    }
    const expected = payload(this.id, seq, spec);
    const ok =
      typeof expected === "string"
        ? data === expected
        : data instanceof ArrayBuffer && Buffer.from(data).equals(expected);
    if (!ok) {
      totals.corrupt++;
      problem(
        `session ${this.id}: echo of seq ${seq} differs (${spec.text ? "text" : "binary"}, ${spec.size} bytes)`,
      );
    }
    this.specs.delete(seq);
    this.nextEcho++;
    totals.echoed++;
    if (this.ending === "clean" && this.inFlight === 0) this.ws.close(1000, "soak");
    else this.pump();
  }

  /** Ends the connection one of three ways, at random. */
  end(): void {
    if (this.ending !== null) return;
    const r = random();
    if (r < 0.6) {
      // A clean close once every message in flight has come back.
      this.ending = "clean";
      if (this.inFlight === 0) this.ws.close(1000, "soak");
    } else if (r < 0.8) {
      this.ending = "terminate";
      totals.abandoned += this.inFlight;
      this.ws.terminate();
    } else {
      // The server closes it with 1001, as a server going away does; what is in flight is abandoned.
      const peer = serverSide.get(this.id);
      if (peer === undefined) {
        this.ending = "terminate";
        totals.abandoned += this.inFlight;
        this.ws.terminate();
      } else {
        this.ending = "server";
        closeWithStatus(peer, 1001, "soak: server going away");
      }
    }
  }

  private onClosed(event: CloseEvent): void {
    const left = this.inFlight;
    if (this.ending === "clean") {
      totals.cleanCloses++;
      if (left > 0 || event.code !== 1000) {
        totals.loss += left;
        problem(`session ${this.id}: clean close with ${left} in flight, code ${event.code}`);
      }
    } else if (this.ending === "terminate") {
      totals.terminates++;
    } else if (this.ending === "server") {
      totals.serverCloses++;
      totals.abandoned += left;
      if (event.code !== 1001) problem(`session ${this.id}: server close arrived as ${event.code}`);
    } else if (stopping && left === 0) {
      totals.cleanCloses++;
    } else if (this.nextSeq === 0 && event.code === 1006) {
      totals.connectFailures++;
      problem(`session ${this.id}: could not connect`);
    } else {
      totals.unexpectedCloses++;
      totals.loss += left;
      problem(`session ${this.id}: closed unexpectedly (${event.code}) with ${left} in flight`);
    }
    if (!stopping) setTimeout(() => stopping || new Session(), randomInt(300));
  }

  /** Used at the end: close cleanly once the messages in flight are back. */
  finish(): void {
    if (this.ending !== null && this.ending !== "clean") return;
    this.ending = "clean";
    if (this.inFlight === 0 && this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, "soak");
  }
}

// ---- run ----------------------------------------------------------------------------------------------------

const MiB = 1048576;
gc();
const rssStart = process.memoryUsage().rss;
const heapStart = process.memoryUsage().heapUsed;
let rssMax = rssStart;
const started = Date.now();
const durationMs = minutes * 60_000;
console.log(
  `soak: ${minutes} min, ${connections} connections, window ${windowSize}, seed ${seed}; RSS ${(rssStart / MiB).toFixed(1)} MiB`,
);
for (let i = 0; i < connections; i++) new Session();

let lastEchoed = 0;
const sampler = setInterval(() => {
  const rss = process.memoryUsage().rss;
  rssMax = Math.max(rssMax, rss);
  const elapsed = (Date.now() - started) / 1000;
  console.log(
    `  ${elapsed.toFixed(0).padStart(4)} s  ${live.size} open  ${totals.echoed.toLocaleString("en-US")} echoed ` +
      `(${((totals.echoed - lastEchoed) / 5).toFixed(0)}/s)  sessions ${totals.sessions}  loss ${totals.loss}  ` +
      `RSS ${(rss / MiB).toFixed(1)} MiB`,
  );
  lastEchoed = totals.echoed;
}, 5000);

await new Promise((resolve) => setTimeout(resolve, durationMs));
stopping = true;
// Drain: every session closes cleanly once its messages are back (bounded).
for (const session of live) session.finish();
const drained = await Promise.race([
  Promise.all([...live].map((s) => s.done)).then(() => true),
  new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
]);
if (!drained) {
  problem(`${live.size} sessions did not finish within 30 s`);
  for (const session of live) session.ws.terminate();
}
clearInterval(sampler);
for (const { server } of servers) await server.close();
await new Promise((resolve) => setTimeout(resolve, 200));
gc();
const end = process.memoryUsage();
rssMax = Math.max(rssMax, end.rss);
const seconds = (Date.now() - started) / 1000;

const lossTotal = totals.loss + totals.corrupt + totals.serverGaps;
const n = (x: number) => x.toLocaleString("en-US");
console.log(`
soak report (seed ${seed})
  duration        ${seconds.toFixed(1)} s
  messages        ${n(totals.echoed)} echoed of ${n(totals.sent)} sent (${n(totals.abandoned)} abandoned in flight by a terminate or a server close), ${(totals.bytes / MiB).toFixed(1)} MiB sent
  sessions        ${n(totals.sessions)} (${n(totals.deflateSessions)} offering deflate): ${n(totals.cleanCloses)} clean closes, ${n(totals.terminates)} terminates, ${n(totals.serverCloses)} server closes, ${n(totals.unexpectedCloses)} unexpected, ${n(totals.connectFailures)} failed to connect
  server checks   ${n(totals.serverSeen)} messages seen, ${n(totals.serverGaps)} sequence gaps
  loss            ${n(lossTotal)} (unanswered ${n(totals.loss)}, corrupt or out of order ${n(totals.corrupt)}, server gaps ${n(totals.serverGaps)})
  RSS             start ${(rssStart / MiB).toFixed(1)} MiB, end ${(end.rss / MiB).toFixed(1)} MiB, max ${(rssMax / MiB).toFixed(1)} MiB; heap after GC ${(heapStart / MiB).toFixed(1)} → ${(end.heapUsed / MiB).toFixed(1)} MiB`);
if (problems.length > 0) console.log(`  problems:\n${problems.map((p) => `    - ${p}`).join("\n")}`);
process.exit(
  lossTotal === 0 && totals.unexpectedCloses === 0 && totals.connectFailures === 0 && drained ? 0 : 1,
);
