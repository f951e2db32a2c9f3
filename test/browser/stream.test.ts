import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type net from "node:net";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { WebSocketServer, WebSocketStream } from "../../src/index.js";
import { browserSkip } from "../support/require.js";
import { type Browser, launchChromium } from "./chromium.js";

// Issue 16: Chromium's own WebSocketStream as the peer of our server streams (WebSocketStream.from()):
// text and binary both ways, close codes both ways, and backpressure over a page that does not read.
//
// Skips when /usr/bin/chromium is missing, unless SOCKJET_REQUIRE_BROWSER=1 (CI): then it fails.

const skip = browserSkip();
const HOST = "127.0.0.1";
const MESSAGE_BYTES = 64 * 1024;
const FLOOD_MESSAGES = 800; // 50 MiB
const MiB = 1024 * 1024;

// Plain browser JavaScript (a string, so no transpiler helper can leak into it).
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sockjet WebSocketStream</title>
<script>
async function echo(url) {
  const wss = new WebSocketStream(url);
  const { readable, writable, protocol } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write("héllo 😀");
  await writer.write(new Uint8Array([1, 2, 3]));
  const text = await reader.read();
  const binary = await reader.read();
  wss.close({ closeCode: 4321, reason: "page" });
  const closed = await wss.closed;
  return {
    text: text.value,
    binaryClass: binary.value.constructor.name,
    // ArrayBuffer in Chromium 156; Uint8Array in the draft and WPT read.any.js (and ours): both read so.
    bytes: Array.from(new Uint8Array(binary.value)),
    closed,
  };
}

async function closedBy(url) {
  const wss = new WebSocketStream(url);
  return await wss.closed;
}

async function slowReader(url) {
  const wss = new WebSocketStream(url);
  const { readable } = await wss.opened;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const startedReading = Date.now();
  const reader = readable.getReader();
  let messages = 0;
  let bytes = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    messages++;
    bytes += value.byteLength;
  }
  return { startedReading, messages, bytes, closed: await wss.closed };
}
</script>`;

interface Progress {
  at: number;
  bytes: number;
}

describe("WebSocketStream with Chromium's WebSocketStream as the peer", { skip }, () => {
  let site: http.Server;
  let browser: Browser;
  let page: Page;
  let server: WebSocketServer;
  let wsUrl: string;
  const floodProgress: Progress[] = [];
  const serverClosed: unknown[] = [];

  before(async () => {
    server = new WebSocketServer({ port: 0, host: HOST });
    await once(server, "listening");
    server.on("connection", async (socket, request) => {
      const path = new URL(request.url ?? "/", "ws://x").pathname;
      const wss = WebSocketStream.from(socket);
      wss.closed.then(
        (info) => serverClosed.push(info),
        (error) => serverClosed.push(error),
      );
      const { readable, writable } = await wss.opened;
      if (path === "/echo") {
        readable.pipeTo(writable).catch(() => {});
      } else if (path === "/close") {
        wss.close({ closeCode: 4000, reason: "server says bye" });
      } else if (path === "/flood") {
        const writer = writable.getWriter();
        const chunk = new Uint8Array(MESSAGE_BYTES).fill(5);
        let bytes = 0;
        for (let i = 0; i < FLOOD_MESSAGES; i++) {
          await writer.write(chunk);
          bytes += MESSAGE_BYTES;
          floodProgress.push({ at: Date.now(), bytes });
        }
        await writer.close();
      }
    });
    wsUrl = `ws://${HOST}:${(server.address() as net.AddressInfo).port}`;
    site = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(PAGE);
    });
    site.listen(0, HOST);
    await once(site, "listening");
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(`http://${HOST}:${(site.address() as net.AddressInfo).port}/`);
    assert.equal(await page.evaluate("typeof WebSocketStream"), "function", "Chromium has WebSocketStream");
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    site?.close();
  });

  test("text and binary echo; the page's close code and reason reach the server and come back", async () => {
    const result = (await page.evaluate(`echo("${wsUrl}/echo")`)) as { binaryClass: string };
    console.log(`Chromium's binary chunks: ${result.binaryClass}`);
    assert.ok(["Uint8Array", "ArrayBuffer"].includes(result.binaryClass), result.binaryClass);
    assert.deepEqual(result, {
      text: "héllo 😀",
      binaryClass: result.binaryClass,
      bytes: [1, 2, 3],
      closed: { closeCode: 4321, reason: "page" },
    });
    assert.deepEqual(serverClosed.at(-1), { closeCode: 4321, reason: "page" });
  });

  test("the server's close code and reason reach the page", async () => {
    assert.deepEqual(await page.evaluate(`closedBy("${wsUrl}/close")`), {
      closeCode: 4000,
      reason: "server says bye",
    });
  });

  test("a page that does not read for 2 s holds our writer back; then all 50 MiB arrive", async () => {
    const result = (await page.evaluate(`slowReader("${wsUrl}/flood")`)) as {
      startedReading: number;
      messages: number;
      bytes: number;
      closed: { closeCode: number };
    };
    assert.equal(result.messages, FLOOD_MESSAGES);
    assert.equal(result.bytes, FLOOD_MESSAGES * MESSAGE_BYTES);
    assert.equal(result.closed.closeCode, 1005);
    const beforeReading = floodProgress.filter((p) => p.at < result.startedReading).at(-1)?.bytes ?? 0;
    console.log(
      `Chromium slow reader: ${(beforeReading / MiB).toFixed(1)} MiB written before the page read, of ${(
        (FLOOD_MESSAGES * MESSAGE_BYTES) / MiB
      ).toFixed(0)} MiB`,
    );
    assert.ok(beforeReading < 24 * MiB, `the writer was not held back: ${beforeReading} bytes`);
  });
});
