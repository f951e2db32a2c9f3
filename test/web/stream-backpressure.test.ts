import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { WebSocketServer, WebSocketStream } from "../../src/index.js";
import { within } from "./stream-helpers.js";

// Issue 16: WebSocketStream's backpressure reaches the socket, both ways, measured with real sockets. The
// peer runs in a child process (stream-flood-peer.mjs), so this process's memory is the stream's own.

const PEER = fileURLToPath(new URL("./stream-flood-peer.mjs", import.meta.url));
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
/** The bound on this process's growth while 1 GiB is pushed at it, or by it. */
const RSS_BOUND = 16 * MiB;

interface Peer {
  child: ChildProcess;
  port: Promise<number>;
  /** Bytes the peer has sent (taken by its kernel) or read, as last reported. */
  bytes(): number;
  /** Resolves once the peer's count has not moved for `quietMs` (the peer is blocked), within `ms`. */
  stalled(quietMs: number, ms: number): Promise<number>;
}

function startPeer(t: TestContext, args: string[]): Peer {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  t.after(() => {
    child.stdin?.end();
    child.kill();
  });
  let last = 0;
  let resolvePort!: (port: number) => void;
  const port = new Promise<number>((resolve) => {
    resolvePort = resolve;
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const report = JSON.parse(line) as { port?: number; bytes?: number };
    if (report.port !== undefined) resolvePort(report.port);
    if (report.bytes !== undefined) last = report.bytes;
  });
  return {
    child,
    port,
    bytes: () => last,
    stalled: async (quietMs, ms) => {
      const deadline = Date.now() + ms;
      let seen = -1;
      let since = Date.now();
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (last !== seen) {
          seen = last;
          since = Date.now();
        } else if (Date.now() - since >= quietMs && seen > 0) {
          return seen;
        }
      }
      throw new Error(`the peer did not stall within ${ms} ms (at ${last} bytes)`);
    },
  };
}

function settleMemory(): number {
  globalThis.gc?.();
  return process.memoryUsage.rss();
}

describe("WebSocketStream receive backpressure reaches the socket", () => {
  it("a 1 GiB flood into a client stream nobody reads: the flooder is blocked, our RSS grows < 16 MiB", async (t) => {
    const peer = startPeer(t, ["flood-server", String(GiB)]);
    const port = await within(peer.port, 5000, "the flooder's port");
    const before = settleMemory();
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const { readable } = await within(wss.opened, 5000, "opened");
    // Nobody reads: the flooder must stop, far below 1 GiB, with TCP's buffers full.
    const sentWhenStalled = await peer.stalled(500, 20_000);
    const growth = settleMemory() - before;
    console.log(
      `receive flood: flooder blocked after ${(sentWhenStalled / MiB).toFixed(1)} MiB; RSS +${(growth / MiB).toFixed(1)} MiB`,
    );
    assert.ok(sentWhenStalled < 64 * MiB, `the flooder was not blocked: ${sentWhenStalled} bytes sent`);
    assert.ok(growth < RSS_BOUND, `RSS grew by ${growth} bytes`);
    // Reading resumes the flow: 200 more messages (12.5 MiB) arrive, each a 64 KiB Uint8Array.
    const reader = readable.getReader();
    for (let i = 0; i < 200; i++) {
      const { value, done } = await within(reader.read(), 5000, `message ${i}`);
      assert.equal(done, false);
      assert.equal((value as Uint8Array).byteLength, 64 * 1024);
    }
    // (The peer reports every 50 ms: wait for a report after our reads.)
    for (let i = 0; i < 100 && peer.bytes() <= sentWhenStalled; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(peer.bytes() > sentWhenStalled, "the flooder moved on once we read");
    reader.releaseLock();
    await readable.cancel();
    await within(
      wss.closed.catch(() => {}),
      15_000,
      "closed",
    );
  });
});

describe("WebSocketStream send backpressure", () => {
  it("a server stream writing 1 GiB to a slow reader: writes wait for the peer, our RSS grows < 16 MiB", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    t.after(() => server.close());
    const streams: WebSocketStream[] = [];
    server.on("connection", (socket) => streams.push(WebSocketStream.from(socket)));
    const { port } = server.address() as { port: number };
    // The peer reads 64 KiB every 10 ms: about 6 MiB/s.
    const peer = startPeer(t, ["slow-client", String(port), String(64 * 1024)]);
    const deadline = Date.now() + 10_000;
    while (streams.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const wss = streams[0];
    assert.ok(wss !== undefined, "the server accepted the connection");
    const { writable } = await within(wss.opened, 5000, "opened");
    const writer = writable.getWriter();
    const chunk = new Uint8Array(64 * 1024).fill(1);
    const before = settleMemory();
    // A producer that awaits its writes, trying to send 1 GiB, for 3 seconds.
    let written = 0;
    const stopAt = Date.now() + 3000;
    while (written < GiB && Date.now() < stopAt) {
      await within(writer.write(chunk), 10_000, "a write");
      written += chunk.byteLength;
    }
    const growth = settleMemory() - before;
    const read = peer.bytes();
    console.log(
      `send: wrote ${(written / MiB).toFixed(1)} MiB in 3 s, the peer read ${(read / MiB).toFixed(1)} MiB; RSS +${(growth / MiB).toFixed(1)} MiB`,
    );
    assert.ok(written < 256 * MiB, `writes did not wait for the peer: ${written} bytes in 3 s`);
    // What the writes claim sent, and the peer has not read, is in the kernel's buffers (a few MiB on
    // loopback) plus our high-water mark: not in our memory.
    assert.ok(written - read < 32 * MiB, `${written - read} bytes written but not read`);
    assert.ok(growth < RSS_BOUND, `RSS grew by ${growth} bytes`);
    writer.releaseLock();
    await writable.abort();
    peer.child.kill();
    await within(
      wss.closed.catch(() => {}),
      15_000,
      "closed",
    );
  });
});
