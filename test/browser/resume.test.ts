// The resume client module (src/resume/client.ts) in a real Chromium, loaded as the server serves it
// (/sockjet-resume.js, an ES module with no import) on the browser's own WebSocket: the page's connection is
// cut at the TCP level (a relay), messages are published meanwhile, and the page gets every one after it
// reconnects, in order, once, then the live ones.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import ts from "typescript";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { startRelay, until } from "../resume/helpers.js";
import { browserSkip } from "../support/require.js";
import { launchChromium } from "./chromium.js";

const skip = browserSkip();

/** The module as the build makes it (one import-free file: transpiling it alone is what tsc does to it). */
function clientModule(): string {
  const source = readFileSync(new URL("../../src/resume/client.ts", import.meta.url), "utf8");
  return ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
}

const PAGE = `<!doctype html><title>resume</title><script type="module">
import { ResumableWebSocket } from "/sockjet-resume.js";
window.received = []; window.events = [];
const socket = new ResumableWebSocket(new URLSearchParams(location.search).get("ws"), { initialDelayMs: 20, maxDelayMs: 100 });
socket.addEventListener("message", (e) => window.received.push(e.topic === null ? e.data : e.topic + ":" + e.data));
for (const type of ["session", "reset", "resumed", "disconnect"]) socket.addEventListener(type, () => window.events.push(type));
</script>`;

test("the served resume module resumes in Chromium: every message missed while cut off, in order, once", {
  skip,
}, async (t) => {
  const httpServer = http.createServer((request, response) => {
    if (request.url === "/sockjet-resume.js") {
      response.writeHead(200, { "Content-Type": "text/javascript" });
      response.end(clientModule());
      return;
    }
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end(PAGE);
  });
  const server = new WebSocketServer({ server: httpServer, resume: {}, pingIntervalMs: 0 });
  server.on("connection", (socket) => {
    if (!socket.resumed) socket.subscribe("feed");
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    await server.close();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  });
  const port = (httpServer.address() as AddressInfo).port;
  const relay = await startRelay(t, `ws://127.0.0.1:${port}/`);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`http://127.0.0.1:${port}/?ws=${encodeURIComponent(relay.url)}`);
  await until(() => server.subscriberCount("feed") === 1, 10_000, "the page's subscription");
  server.publish("feed", "first");
  await page.waitForFunction(() => (window as unknown as { received: string[] }).received.length === 1);

  relay.cutClients();
  await page.waitForFunction(() => (window as unknown as { events: string[] }).events.includes("disconnect"));
  for (let i = 0; i < 200; i++) server.publish("feed", `m${i}`);
  await page.waitForFunction(() => (window as unknown as { events: string[] }).events.includes("resumed"));
  server.publish("feed", "live");
  await page.waitForFunction(() => (window as unknown as { received: string[] }).received.length === 202);
  const received = await page.evaluate(() => (window as unknown as { received: string[] }).received);
  const events = await page.evaluate(() => (window as unknown as { events: string[] }).events);
  assert.deepEqual(received, [
    "feed:first",
    ...Array.from({ length: 200 }, (_, i) => `feed:m${i}`),
    "feed:live",
  ]);
  assert.deepEqual(events, ["session", "disconnect", "session", "resumed"]);
});
