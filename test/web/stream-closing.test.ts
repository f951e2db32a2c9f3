import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { WebSocketError, WebSocketServer, WebSocketStream } from "../../src/index.js";
import { rawServer } from "../support/raw-server.js";
import { within } from "./stream-helpers.js";

// WebSocketStream while it closes and while it holds unread messages, on real sockets (review 134): what a
// peer sends after our close is dropped, as the draft says; a few unread messages do not stop the socket
// from being read (Pings answered, a Close seen); a write after close() resolves without sending; abort()
// behind a write the peer never takes still closes.

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// A full collection before each reading: the reads the flood went through are garbage, not held.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** An unmasked binary frame of 64 KiB (RFC 6455 §5.2: 127, then the length in 8 bytes). */
const FLOOD_FRAME = Buffer.concat([Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), Buffer.alloc(65536, 1)]);

async function until(condition: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await sleep(10);
  }
}

describe("WebSocketStream: closing and held messages", () => {
  it("after close(), a peer that floods and withholds its Close: its messages are dropped, memory stays bounded", async (t) => {
    let flood: (() => void) | null = null;
    let sent = 0;
    const server = await rawServer(t, null, (socket: net.Socket) => {
      flood = () => {
        const stop = Date.now() + 2000;
        const pump = () => {
          while (Date.now() < stop && !socket.destroyed) {
            sent += FLOOD_FRAME.length;
            if (!socket.write(FLOOD_FRAME)) {
              socket.once("drain", pump);
              return;
            }
          }
        };
        pump();
      };
    });
    const wss = new WebSocketStream(server.url, { closeTimeoutMs: 10_000 });
    const { readable } = await within(wss.opened, 5000, "opened");
    collect();
    const before = process.memoryUsage().arrayBuffers;
    wss.close({ closeCode: 4000, reason: "done" });
    await until(() => server.frames.some((f) => f.opcode === 0x8), 5000, "our Close at the peer");
    assert.ok(flood !== null);
    (flood as () => void)();
    // Sampled through the flood (reads in flight show as up to ~16 MiB) and after it, when nothing may stay.
    let peak = 0;
    let last = 0;
    for (let i = 0; i < 25; i++) {
      await sleep(100);
      collect();
      last = process.memoryUsage().arrayBuffers - before;
      peak = Math.max(peak, last);
    }
    // The peer did write far more than the bounds (else this test could not fail).
    assert.ok(sent > 128 * MiB, `the peer wrote only ${sent} bytes`);
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    assert.ok(peak < 64 * MiB, `our ArrayBuffer memory held ${mib(peak)} (the peer wrote ${mib(sent)})`);
    assert.ok(last < 4 * MiB, `our ArrayBuffer memory held ${mib(last)} after the flood`);
    // Nothing of it reaches the readable.
    const reader = readable.getReader();
    const next = await Promise.race([reader.read(), sleep(200).then(() => "pending" as const)]);
    assert.equal(next, "pending");
    reader.releaseLock();
  });

  it("an idle stream holding one unread message still answers Pings: the server's keepalive keeps it", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", pingIntervalMs: 200 });
    t.after(() => server.close());
    await once(server, "listening");
    let serverClose: { code: number; wasClean: boolean } | null = null;
    server.on("connection", (socket) => {
      socket.send("hello");
      socket.addEventListener("close", (event) => {
        serverClose = { code: event.code, wasClean: event.wasClean };
      });
    });
    const { port } = server.address() as { port: number };
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { readable } = await within(wss.opened, 5000, "opened");
    // Five ping intervals: a peer that answers none is dropped after two.
    await sleep(1000);
    assert.equal(serverClose, null, `the server dropped the stream: ${JSON.stringify(serverClose)}`);
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: "hello", done: false });
    // And the server's Close, behind nothing now, is answered: a clean close at both ends.
    for (const socket of server.clients) socket.close(4000, "bye");
    assert.deepEqual(await within(wss.closed, 5000, "closed"), { closeCode: 4000, reason: "bye" });
    await until(() => serverClose !== null, 5000, "the server's close event");
    assert.deepEqual(serverClose, { code: 4000, wasClean: true });
  });

  it("a server's Close behind one unread message completes cleanly at the server", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", closeTimeoutMs: 3000 });
    t.after(() => server.close());
    await once(server, "listening");
    let serverClose: { code: number; wasClean: boolean; ms: number } | null = null;
    server.on("connection", (socket) => {
      const start = Date.now();
      socket.send("hello");
      socket.close(4000, "bye");
      socket.addEventListener("close", (event) => {
        serverClose = { code: event.code, wasClean: event.wasClean, ms: Date.now() - start };
      });
    });
    const { port } = server.address() as { port: number };
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    await within(wss.opened, 5000, "opened");
    await until(() => serverClose !== null, 5000, "the server's close event");
    const seen = serverClose as unknown as { code: number; wasClean: boolean; ms: number };
    assert.equal(seen.code, 4000);
    assert.equal(seen.wasClean, true);
    assert.ok(seen.ms < 2000, `the closing handshake took ${seen.ms} ms`);
  });

  it("a write after close() resolves and sends nothing (the draft, Chromium, undici)", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    t.after(() => server.close());
    await once(server, "listening");
    const received: string[] = [];
    server.on("connection", (socket) => {
      socket.addEventListener("message", (event) => received.push(String(event.data)));
    });
    const { port } = server.address() as { port: number };
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { writable } = await within(wss.opened, 5000, "opened");
    const writer = writable.getWriter();
    await writer.write("before");
    wss.close();
    await within(writer.write("after"), 5000, "the write after close()");
    await within(wss.closed, 5000, "closed");
    assert.deepEqual(received, ["before"]);
  });

  it("abort() behind a write the peer never takes: the write rejects and the stream closes", async (t) => {
    const server = await rawServer(t, null, (socket: net.Socket) => socket.pause());
    const wss = new WebSocketStream(server.url, { closeTimeoutMs: 500 });
    const { writable } = await within(wss.opened, 5000, "opened");
    const writer = writable.getWriter();
    // More than the kernel's buffers take: this write waits for a peer that never reads.
    const stuck = writer.write(new Uint8Array(32 * MiB));
    const stuckOutcome = stuck.then(
      () => "resolved",
      (error: unknown) => error,
    );
    await sleep(200);
    const reason = new WebSocketError("giving up", { closeCode: 4001 });
    const aborted = writer.abort(reason);
    assert.equal(await within(stuckOutcome, 5000, "the stuck write"), reason);
    await within(aborted, 5000, "abort()");
    const closed = await within(
      wss.closed.then(
        () => null,
        (error: unknown) => error,
      ),
      5000,
      "closed",
    );
    assert.ok(closed instanceof WebSocketError, String(closed));
  });

  it("a handshake that fails: opened and closed say why, with the HandshakeError as cause", async () => {
    // A port nothing listens on: the connection is refused.
    const probe = net.createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const [opened, closed] = await Promise.all([
      wss.opened.then(
        () => null,
        (error: unknown) => error,
      ),
      wss.closed.then(
        () => null,
        (error: unknown) => error,
      ),
    ]);
    for (const error of [opened, closed]) {
      assert.ok(error instanceof WebSocketError, String(error));
      assert.match(error.message, /^The WebSocket connection could not be established: connection refused/);
      assert.equal((error.cause as { code?: string }).code, "SJ_ERR_CONNECTION_REFUSED");
    }
    assert.equal((opened as WebSocketError).closeCode, null);
    assert.equal((closed as WebSocketError).closeCode, 1006);
  });
});
