import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { after, before, describe, type TestContext, test } from "node:test";
import type { Page } from "playwright-core";
import { WebSocketServer, type WebSocketServerOptions } from "../../src/index.js";
import { browserSkip } from "../support/require.js";
import { type Browser, launchChromium } from "./chromium.js";

// permessage-deflate with a real browser (issue 6): Chromium offers it on every connection. A page opens
// `new WebSocket(url)` to an echo server, with deflate on as `perMessageDeflate: true` (no context takeover
// either way) and with context takeover both ways; it sends compressible JSON (100 KiB), random binary
// (64 KiB), a repeated incompressible text, and hundreds of small text and binary messages, and checks every
// echo byte for byte. Between the two, a TCP proxy reads the frame headers on the wire: which messages were
// compressed (RSV1) in each direction, and how large they were.
//
// Skips when /usr/bin/chromium is missing, unless SOCKJET_REQUIRE_BROWSER=1 (CI): then it fails.

const skip = browserSkip();
const HOST = "127.0.0.1";
/** The server's default thresholdBytes: shorter messages are sent uncompressed. */
const THRESHOLD = 1024;

// The page's code: plain browser JavaScript (a string, so no transpiler helper can leak into it).
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sockjet deflate</title>
<script>
function randomBytes(n) {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  return bytes;
}

/** What to send, in order; sizes are the messages' bytes (UTF-8 for text). */
function messages() {
  const out = [];
  const record = JSON.stringify({ id: 12345, name: "sockjet", tags: ["websocket", "deflate"], ok: true, score: 98.6, note: "plain ASCII" });
  let json = "[" + record;
  while (json.length < 100 * 1024 - record.length - 2) json += "," + record;
  out.push(json + "]");
  out.push(randomBytes(64 * 1024));
  // Incompressible by itself, twice in a row: with context takeover the second is a back-reference.
  let binary = "";
  for (const byte of randomBytes(6 * 1024)) binary += String.fromCharCode(byte);
  const pair = btoa(binary);
  out.push(pair, pair);
  for (let i = 0; i < 400; i++) {
    if (i === 0) out.push("");
    else if (i === 1) out.push(new Uint8Array(0));
    else if (i % 2 === 0) out.push("small " + i + " " + "äö€😀".repeat(i % 7));
    else out.push(randomBytes(i % 97));
  }
  return out;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function runDeflateTest(url) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const received = [];
  let wake = null;
  ws.onmessage = (event) => {
    received.push(event.data);
    if (wake) wake();
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("error event before open"));
  });
  const sent = messages();
  for (const message of sent) ws.send(message);
  const deadline = Date.now() + 15000;
  while (received.length < sent.length && Date.now() < deadline) {
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, 100);
    });
  }
  const failures = [];
  const encoder = new TextEncoder();
  sent.forEach((message, i) => {
    const echo = received[i];
    if (typeof message === "string") {
      if (echo !== message) failures.push(i + ": text echo differs (" + typeof echo + ")");
    } else if (!(echo instanceof ArrayBuffer) || !sameBytes(new Uint8Array(echo), message)) {
      failures.push(i + ": binary echo differs (" + Object.prototype.toString.call(echo) + ")");
    }
  });
  const closed = new Promise((resolve) => (ws.onclose = (event) => resolve(event.code)));
  ws.close(1000, "done");
  return {
    extensions: ws.extensions,
    received: received.length,
    sent: sent.map((m) => typeof m === "string" ? { text: true, size: encoder.encode(m).length } : { text: false, size: m.length }),
    failures,
    closeCode: await closed,
  };
}
</script>`;

interface PageResult {
  extensions: string;
  received: number;
  sent: { text: boolean; size: number }[];
  failures: string[];
  closeCode: number;
}

/** One data message as seen on the wire: its first frame's RSV1 and opcode, and its payload bytes. */
interface WireMessage {
  rsv1: boolean;
  opcode: number;
  wireBytes: number;
  frames: number;
}

/** Reads WebSocket frame headers from one direction of a connection (after the HTTP head) and skips payloads. */
class FrameTap {
  readonly messages: WireMessage[] = [];
  readonly rsv1OnControlOrContinuation: number[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private inHead = true;
  private skip = 0;

  push(chunk: Buffer): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let i = 0;
    if (this.inHead) {
      const end = data.indexOf("\r\n\r\n");
      if (end === -1) {
        this.pending = data;
        return;
      }
      i = end + 4;
      this.inHead = false;
    }
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - i);
        this.skip -= n;
        i += n;
        if (this.skip > 0) break;
      }
      if (data.length - i < 2) break;
      const b0 = data[i];
      const b1 = data[i + 1];
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - i < 4) break;
        length = data.readUInt16BE(i + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - i < 10) break;
        length = Number(data.readBigUInt64BE(i + 2));
        header = 10;
      }
      if (b1 & 0x80) header += 4;
      if (data.length - i < header) break;
      const opcode = b0 & 0x0f;
      const rsv1 = (b0 & 0x40) !== 0;
      if (opcode === 1 || opcode === 2) {
        this.messages.push({ rsv1, opcode, wireBytes: length, frames: 1 });
      } else {
        if (rsv1) this.rsv1OnControlOrContinuation.push(opcode);
        if (opcode === 0) {
          const last = this.messages.at(-1);
          if (last !== undefined) {
            last.wireBytes += length;
            last.frames++;
          }
        }
      }
      i += header;
      this.skip = length;
    }
    this.pending = Buffer.from(data.subarray(i));
  }
}

interface Tapped {
  toServer: FrameTap;
  toBrowser: FrameTap;
}

/** A TCP proxy in front of `port` that taps the frames of every connection through it. */
async function tapProxy(port: number): Promise<{ port: number; taps: Tapped[]; close(): Promise<void> }> {
  const taps: Tapped[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((browser) => {
    const server = net.connect(port, HOST);
    const tap = { toServer: new FrameTap(), toBrowser: new FrameTap() };
    taps.push(tap);
    for (const s of [browser, server]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        browser.destroy();
        server.destroy();
      });
    }
    browser.on("data", (chunk: Buffer) => {
      tap.toServer.push(chunk);
      server.write(chunk);
    });
    server.on("data", (chunk: Buffer) => {
      tap.toBrowser.push(chunk);
      browser.write(chunk);
    });
    browser.on("end", () => server.end());
    server.on("end", () => browser.end());
  });
  proxy.listen(0, HOST);
  await once(proxy, "listening");
  return {
    port: (proxy.address() as net.AddressInfo).port,
    taps,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

interface EchoServer {
  server: WebSocketServer;
  port: number;
  /** What the server side of each connection negotiated and received. */
  connections: { extensions: string; messages: number; texts: number }[];
}

async function echoServer(
  perMessageDeflate: WebSocketServerOptions["perMessageDeflate"],
): Promise<EchoServer> {
  const server = new WebSocketServer({ port: 0, host: HOST, perMessageDeflate, pingIntervalMs: 0 });
  const connections: EchoServer["connections"] = [];
  server.on("connection", (socket) => {
    const seen = { extensions: socket.extensions, messages: 0, texts: 0 };
    connections.push(seen);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      seen.messages++;
      if (typeof event.data === "string") seen.texts++;
      socket.send(event.data as string | ArrayBuffer);
    });
  });
  await once(server, "listening");
  return { server, port: (server.address() as net.AddressInfo).port, connections };
}

describe("permessage-deflate with Chromium", { skip, timeout: 40_000 }, () => {
  let browser: Browser;
  let page: Page;
  let site: http.Server;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    site = http.createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      response.end(PAGE);
    });
    site.listen(0, HOST);
    await once(site, "listening");
    browser = await launchChromium();
    page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`http://${HOST}:${(site.address() as net.AddressInfo).port}/`);
    assert.equal(await page.evaluate("typeof runDeflateTest"), "function", errors.join("\n"));
  });

  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
  });

  /** Runs the page against an echo server behind the tapping proxy. */
  async function exchange(
    perMessageDeflate: WebSocketServerOptions["perMessageDeflate"],
  ): Promise<{ result: PageResult; echo: EchoServer; tap: Tapped }> {
    const echo = await echoServer(perMessageDeflate);
    cleanups.push(() => echo.server.close());
    const proxy = await tapProxy(echo.port);
    cleanups.push(() => proxy.close());
    const result = await page.evaluate<PageResult>(`runDeflateTest("ws://${HOST}:${proxy.port}/")`);
    assert.equal(proxy.taps.length, 1);
    return { result, echo, tap: proxy.taps[0] };
  }

  /** Checks common to both configurations; returns the wire messages of each direction. */
  function checkExchange(t: TestContext, result: PageResult, echo: EchoServer, tap: Tapped): void {
    assert.deepEqual(result.failures, []);
    assert.equal(result.received, result.sent.length);
    assert.equal(result.closeCode, 1000);
    assert.equal(result.sent.length, 404);
    assert.match(result.extensions, /^permessage-deflate(;|$)/);
    // What the browser reports is what the server side negotiated.
    assert.equal(echo.connections.length, 1);
    assert.equal(echo.connections[0].extensions, result.extensions);
    assert.equal(echo.connections[0].messages, result.sent.length);
    assert.equal(echo.connections[0].texts, result.sent.filter((m) => m.text).length);

    const up = tap.toServer.messages;
    const down = tap.toBrowser.messages;
    assert.equal(up.length, result.sent.length, "messages from the browser on the wire");
    assert.equal(down.length, result.sent.length, "echoes on the wire");
    assert.deepEqual(tap.toServer.rsv1OnControlOrContinuation, []);
    assert.deepEqual(tap.toBrowser.rsv1OnControlOrContinuation, []);
    result.sent.forEach((m, i) => {
      const opcode = m.text ? 1 : 2;
      assert.equal(up[i].opcode, opcode, `message ${i} from the browser`);
      assert.equal(down[i].opcode, opcode, `echo ${i}`);
      // The server compresses exactly the messages of at least thresholdBytes (default 1024).
      assert.equal(down[i].rsv1, m.size >= THRESHOLD, `echo ${i} (${m.size} bytes): RSV1`);
    });
    // Chromium compresses every message it sends once deflate is agreed, the empty ones included: the server
    // received nothing but compressed messages.
    const compressedUp = up.filter((m) => m.rsv1).length;
    assert.equal(compressedUp, up.length, "messages from the browser with RSV1");
    const compressedDown = down.filter((m) => m.rsv1).length;
    t.diagnostic(
      `${result.extensions}: ${compressedUp}/${up.length} compressed from the browser, ${compressedDown} back; ` +
        `JSON ${result.sent[0].size} → ${up[0].wireBytes} / ${down[0].wireBytes} bytes; ` +
        `repeat ${up[2].wireBytes} then ${up[3].wireBytes} / ${down[2].wireBytes} then ${down[3].wireBytes}`,
    );
    assert.ok(compressedUp >= result.sent.length / 2, `${compressedUp} of the browser's messages compressed`);

    // 100 KiB of repeated JSON: a few KiB on the wire, both ways.
    const json = result.sent[0].size;
    assert.ok(json >= 100 * 1024 - 200 && json <= 100 * 1024, `JSON of ${json} bytes`);
    assert.ok(up[0].wireBytes < json / 10, `browser → server: ${up[0].wireBytes} bytes for ${json}`);
    assert.ok(down[0].wireBytes < json / 10, `server → browser: ${down[0].wireBytes} bytes for ${json}`);
    // Random bytes do not shrink: deflate costs a few bytes of framing at most.
    const random = result.sent[1].size;
    assert.equal(random, 64 * 1024);
    assert.ok(
      down[1].wireBytes >= random && down[1].wireBytes < random + 64,
      `random echo: ${down[1].wireBytes}`,
    );
  }

  test("perMessageDeflate: true — no context takeover either way", async (t) => {
    const { result, echo, tap } = await exchange(true);
    checkExchange(t, result, echo, tap);
    assert.match(result.extensions, /server_no_context_takeover/);
    assert.match(result.extensions, /client_no_context_takeover/);
    // The same incompressible text twice: without context takeover the second costs as much as the first.
    for (const [direction, wire] of [
      ["browser → server", tap.toServer.messages],
      ["server → browser", tap.toBrowser.messages],
    ] as const) {
      assert.ok(
        wire[3].wireBytes > wire[2].wireBytes * 0.9,
        `${direction}: the repeat took ${wire[3].wireBytes} bytes after ${wire[2].wireBytes}`,
      );
    }
  });

  test("context takeover both ways (serverNoContextTakeover: false, clientNoContextTakeover: false)", async (t) => {
    const { result, echo, tap } = await exchange({
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
    });
    checkExchange(t, result, echo, tap);
    assert.doesNotMatch(result.extensions, /no_context_takeover/);
    // With the window kept between messages, the repeat is a back-reference to the previous message.
    for (const [direction, wire] of [
      ["browser → server", tap.toServer.messages],
      ["server → browser", tap.toBrowser.messages],
    ] as const) {
      assert.ok(wire[2].wireBytes > 5 * 1024, `${direction}: the first took ${wire[2].wireBytes} bytes`);
      assert.ok(
        wire[3].wireBytes < wire[2].wireBytes / 20,
        `${direction}: the repeat took ${wire[3].wireBytes} bytes after ${wire[2].wireBytes}`,
      );
    }
  });
});
