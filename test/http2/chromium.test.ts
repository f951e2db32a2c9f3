import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { chromium } from "playwright-core";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../browser/chromium.js";
import { selfSignedCert, shutDown } from "../server/helpers.js";
import { browserSkip } from "../support/require.js";

// A real peer: Chromium loads a page over HTTP/2 from an Http2SecureServer (self-signed, accepted with
// --ignore-certificate-errors) and opens WebSockets to the same origin. Chromium uses RFC 8441 when the
// page's origin is already on h2 and the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1: the server must
// see httpVersion 2.0 on the page's own session, and echo, topics and close codes must work.

const skip = browserSkip();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("Chromium opens wss: WebSockets over the page's HTTP/2 session: echo, a topic, close codes", {
  skip,
  timeout: 60_000,
}, async (t) => {
  const cert = await selfSignedCert();
  if (cert === null) return t.skip("openssl is not installed");
  const pageSessions: unknown[] = [];
  const h2 = http2.createSecureServer({ ...cert, allowHTTP1: true }, (request, response) => {
    pageSessions.push(request.stream.session);
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><title>h2 page</title><p>served over HTTP/${request.httpVersion}`);
  });
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => h2.close(resolve)));
  const wss = new WebSocketServer({ server: h2 });
  cleanups.push(() => shutDown(wss));
  const seen: { version: string; session: unknown; path: string }[] = [];
  wss.on("connection", (ws, request) => {
    seen.push({
      version: request.httpVersion,
      session: (request as unknown as { stream: http2.ServerHttp2Stream }).stream.session,
      path: request.url ?? "",
    });
    if (request.url === "/chat") {
      ws.subscribe("room");
      ws.onmessage = (event) => wss.publish("room", `said: ${event.data}`);
    } else {
      ws.onmessage = (event) => {
        if (event.data === "bye") ws.close(4001, "server says bye");
        else ws.send(`echo:${event.data}`);
      };
    }
  });
  const port = (h2.address() as AddressInfo).port;

  const profile = await mkdtemp(join(tmpdir(), "sockjet-chromium-"));
  cleanups.push(() => rm(profile, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, "--ignore-certificate-errors"],
  });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const loaded = await page.goto(`https://127.0.0.1:${port}/`);
  assert.equal(await loaded?.text(), "<!doctype html><title>h2 page</title><p>served over HTTP/2.0");

  // A string, not a function: tsx would add its __name helper, which the page does not have.
  const result = await page.evaluate(`(async () => {
    const opened = (path) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(\`wss://\${location.host}\${path}\`);
        socket.onopen = () => resolve(socket);
        socket.onerror = () => reject(new Error(\`\${path} failed\`));
      });
    const next = (socket) =>
      new Promise((resolve) => {
        socket.onmessage = (event) => resolve(String(event.data));
      });
    const echo = await opened("/echo");
    const chatA = await opened("/chat");
    const chatB = await opened("/chat");
    const echoed = next(echo);
    echo.send("hello");
    const toA = next(chatA);
    const toB = next(chatB);
    chatA.send("hi all");
    const chat = [await toA, await toB];
    const closed = new Promise((resolve) => {
      echo.onclose = (event) => resolve(\`\${event.code} \${event.reason} \${event.wasClean}\`);
    });
    const first = await echoed;
    echo.send("bye");
    const chatClosed = new Promise((resolve) => {
      chatB.onclose = (event) => resolve(\`\${event.code} \${event.wasClean}\`);
    });
    chatB.close(3000, "leaving");
    return {
      echo: first,
      chat,
      close: await closed,
      clientClose: await chatClosed,
    };
  })()`);
  assert.deepEqual(result, {
    echo: "echo:hello",
    chat: ["said: hi all", "said: hi all"],
    close: "4001 server says bye true",
    clientClose: "3000 true",
  });
  assert.equal(seen.length, 3);
  for (const connection of seen) {
    assert.equal(connection.version, "2.0", `${connection.path} came over HTTP/2`);
    assert.equal(connection.session, pageSessions[0], `${connection.path} shares the page's session`);
  }
});
