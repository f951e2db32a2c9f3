// Smoke test of the benchmark's C load generator (bench/loadgen/loadgen.c): it builds, drives the raw and ws
// echo servers with every echo verified, answers pings and reassembles fragments, and fails loudly on a wrong
// handshake or a wrong echo. Skipped when gcc is missing.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type WebSocket, WebSocketServer } from "ws";
import {
  CONTENDERS,
  compileLoadgen,
  holdIdle,
  type LoadgenRun,
  loadgenArgs,
  runLoadgen,
  type ServerHandle,
  startServer,
  which,
} from "../../bench/lib.js";

const skip = which("gcc") ? false : "gcc not found on PATH: the load generator cannot be built";

function listen(server: Server | WebSocketServer): Promise<number> {
  return new Promise((resolve, reject) => {
    if (server instanceof WebSocketServer) {
      server.once("listening", () => resolve((server.address() as { port: number }).port));
      server.once("error", reject);
    } else {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
    }
  });
}

function closeWss(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}

function explain(run: LoadgenRun): string {
  return `exit ${run.code} signal ${run.signal}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
}

describe("bench load generator", { skip }, () => {
  let dir = "";
  let bin = "";

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sockjet-loadgen-"));
    bin = compileLoadgen(join(dir, "loadgen"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function echoRun(name: "raw" | "ws", extra: { text?: boolean; size?: number } = {}): Promise<void> {
    const contender = CONTENDERS[name];
    const server: ServerHandle = await startServer(contender);
    try {
      const args = loadgenArgs({
        port: server.port,
        conns: 8,
        window: 4,
        size: extra.size ?? 1024,
        duration: 1,
        warmup: 0.2,
        raw: contender.protocol === "raw",
        text: extra.text,
        verify: true,
        serverPid: server.pid,
      });
      const run = await runLoadgen(bin, args, { timeoutMs: 60_000 });
      assert.equal(run.code, 0, explain(run));
      const r = run.result;
      assert.ok(r, `no RESULT line\n${explain(run)}`);
      assert.equal(r.mode, contender.protocol);
      assert.ok(r.msgsPerS > 0, `msgs_per_s=${r.msgsPerS}`);
      assert.equal(r.errors, 0);
      assert.ok(r.p50Us > 0 && r.p99Us >= r.p50Us && r.maxUs >= r.p99Us, JSON.stringify(r));
      assert.ok(r.serverCpu >= 0, "server CPU is read from /proc");
      assert.equal(server.exitInfo(), undefined, "the server is still running");
    } finally {
      await server.stop();
    }
  }

  test("drives the raw TCP echo server, every echo verified", () => echoRun("raw"));

  test("drives the ws echo server, binary and text, every echo verified", async () => {
    await echoRun("ws", { size: 32 });
    await echoRun("ws", { text: true, size: 70_000 });
  });

  test("answers pings and reassembles fragmented echoes", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    let pongs = 0;
    let pings = 0;
    wss.on("connection", (ws: WebSocket) => {
      ws.on("pong", () => pongs++);
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        // three fragments, a ping in between (control frames may interleave with fragments)
        const a = Math.floor(data.length / 3);
        const b = Math.floor((2 * data.length) / 3);
        ws.send(data.subarray(0, a), { binary: isBinary, fin: false });
        ws.ping(Buffer.from(`p${pings++}`));
        ws.send(data.subarray(a, b), { binary: isBinary, fin: false });
        ws.send(data.subarray(b), { binary: isBinary, fin: true });
      });
    });
    try {
      const port = await listen(wss);
      const args = loadgenArgs({
        port,
        conns: 4,
        window: 2,
        size: 3000,
        duration: 0.5,
        warmup: 0.1,
        verify: true,
      });
      const run = await runLoadgen(bin, args, { timeoutMs: 60_000 });
      assert.equal(run.code, 0, explain(run));
      assert.ok(run.result && run.result.msgsPerS > 0 && run.result.errors === 0, explain(run));
      assert.ok(pongs > 0, "the load generator answered pings");
    } finally {
      await closeWss(wss);
    }
  });

  test("exits non-zero when an echo comes back altered", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    wss.on("connection", (ws: WebSocket) => {
      ws.on("message", (data: Buffer, isBinary: boolean) => {
        const copy = Buffer.from(data);
        copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 1;
        ws.send(copy, { binary: isBinary });
      });
    });
    try {
      const port = await listen(wss);
      const args = loadgenArgs({
        port,
        conns: 2,
        window: 2,
        size: 100,
        duration: 0.3,
        warmup: 0,
        verify: true,
      });
      const run = await runLoadgen(bin, args, { timeoutMs: 60_000 });
      assert.equal(run.code, 3, explain(run));
      assert.ok(Number(run.result?.fields.verify_errors) > 0, explain(run));
      assert.match(run.stderr, /differs from the message sent/);
    } finally {
      await closeWss(wss);
    }
  });

  test("rejects a handshake with a wrong Sec-WebSocket-Accept", async () => {
    const requests: string[] = [];
    const server = createServer((socket) => {
      let head = "";
      socket.on("error", () => {});
      socket.on("data", (chunk) => {
        head += chunk.toString("latin1");
        if (!head.includes("\r\n\r\n")) return;
        requests.push(head);
        const key = /^Sec-WebSocket-Key: *(\S+)/im.exec(head)?.[1] ?? "";
        // the accept value for a different key
        const wrong = createHash("sha1")
          .update(`${key}x258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        socket.end(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wrong}\r\n\r\n`,
        );
      });
    });
    try {
      const port = await listen(server);
      const run = await runLoadgen(bin, ["-p", String(port), "-c", "1", "-d", "1", "-W", "0", "-q"], {
        timeoutMs: 30_000,
      });
      assert.notEqual(run.code, 0, explain(run));
      assert.equal(run.timedOut, false);
      assert.match(run.stderr, /wrong Sec-WebSocket-Accept/);
      assert.equal(requests.length, 1);
      assert.match(requests[0]!, /^GET \/ HTTP\/1\.1\r\n/);
      assert.match(requests[0]!, /\r\nSec-WebSocket-Version: 13\r\n/i);
      assert.match(requests[0]!, /\r\nSec-WebSocket-Key: [A-Za-z0-9+/]{22}==\r\n/i);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("idle mode holds the connections until told to stop", async () => {
    const server = await startServer(CONTENDERS.ws);
    try {
      const hold = await holdIdle(bin, { port: server.port, conns: 50, holdSecs: 30, timeoutMs: 30_000 });
      assert.equal(hold.ready.open, 50);
      assert.equal(hold.ready.failed, 0);
      const end = await hold.release();
      assert.equal(end.code, 0, end.stderr);
      assert.equal(end.done.open, 50);
      assert.equal(end.done.closed_early, 0);
    } finally {
      await server.stop();
    }
  });
});
