import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type BrowserContext, chromium } from "playwright-core";
import { killAll, serve } from "../cli/helpers.js";
import { browserSkip } from "../support/require.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.js";

// Issue 22 item 2 in a real Chromium: a page on another origin (http://evil.test, resolved to 127.0.0.1 by
// --host-resolver-rules) cannot open /chat on `sockjet serve` (cross-site WebSocket hijacking), and the demo
// page loaded under the attacker's name (DNS rebinding: evil.test → 127.0.0.1) cannot open its WebSockets
// either; the same page under 127.0.0.1 can (the control).

const skip = browserSkip();

const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  killAll();
});

async function launch(): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), "sockjet-chromium-"));
  cleanups.push(() => rm(profile, { recursive: true, force: true }));
  const args = CHROMIUM_ARGS.filter((arg) => !arg.startsWith("--host-resolver-rules="));
  args.push(
    "--host-resolver-rules=MAP evil.test 127.0.0.1, MAP 127.0.0.1.evil.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
  );
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
  });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(10_000);
  return context;
}

/** The attacker's site: a blank page on its own port, from which the test opens a WebSocket. */
async function attackerSite(): Promise<number> {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end("<!doctype html><title>evil</title>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** Opens a WebSocket from the page; "open" or "close <code>", within 5 s. */
const tryOpen = (url: string) =>
  new Promise<string>((resolve) => {
    const socket = new WebSocket(url, "chat");
    const timer = setTimeout(() => resolve("timeout"), 5000);
    socket.onopen = () => {
      clearTimeout(timer);
      socket.close();
      resolve("open");
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      resolve(`close ${event.code}`);
    };
  });

test("Chromium: a page on another origin cannot open /chat on serve; the demo page is not served under a rebinding name (nor 127.0.0.1.evil.test)", {
  skip,
  timeout: 60_000,
}, async () => {
  const served = await serve();
  const evilPort = await attackerSite();
  const context = await launch();
  const page = await context.newPage();

  // Control: the serve's own origin may connect (so a refusal below is the policy, not a broken setup).
  await page.goto(`${served.http}/`);
  assert.equal(await page.evaluate(tryOpen, `${served.ws}/chat?name=ann`), "open");

  // Cross-site: the attacker's page opens the user's local chat.
  await page.goto(`http://evil.test:${evilPort}/`);
  assert.equal(await page.evaluate(tryOpen, `${served.ws}/chat?name=mallory`), "close 1006");
  assert.equal(await page.evaluate(tryOpen, `${served.ws}/`), "close 1006");
  await served.cli.waitFor(/refused 127\.0\.0\.1 {2}\/chat\?name=mallory {2}403 Origin not allowed/);

  // DNS rebinding: the attacker's name now points at the serve, so a page loaded under it would be
  // same-origin with the serve's WebSockets. The page itself is refused under any non-loopback Host (its
  // WebSockets would be too: test/server/serve-origins.test.ts sends those handshakes byte by byte).
  for (const name of ["evil.test", "127.0.0.1.evil.test"]) {
    const response = await page.goto(`http://${name}:${served.port}/`);
    assert.equal(response?.status(), 403, name);
    assert.match(await page.content(), /--allow-origin/, name);
  }
});
