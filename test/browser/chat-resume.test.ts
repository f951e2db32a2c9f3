import assert from "node:assert/strict";
import { after, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { killAll, type Served, serve } from "../cli/helpers.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { type Relay, startRelay } from "../resume/redis-resume-helpers.js";
import { browserSkip, redisSkip } from "../support/require.js";
import { type Browser, launchChromium } from "./chromium.js";

// The demo page's chat in Chromium resumes (issue 19): after a dropped connection (memory store) and after
// its server process is restarted (`serve --redis`), the page shows every line said meanwhile, in order,
// once, and keeps its name. The page reaches its server through a TCP relay the test cuts or reroutes: the
// page itself is never reloaded.

const skip = browserSkip() || redisSkip();

let browser: Browser | undefined;
const relays: Relay[] = [];
after(async () => {
  await browser?.close();
  for (const relay of relays) relay.close();
  killAll();
});

async function context(): Promise<BrowserContext> {
  browser ??= await launchChromium();
  return browser.context;
}

/** The page at `origin`, joined to the chat as `name`; script errors and CSP violations are collected. */
async function joined(origin: string, name: string): Promise<Page & { errors: string[] }> {
  const page = (await (await context()).newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(error.message));
  page.on("console", (message) => {
    const text = message.text();
    // The reconnection attempts while the server is away are expected noise.
    if (
      message.type() === "error" &&
      !text.includes("404") &&
      !/WebSocket connection to .* failed/.test(text)
    )
      page.errors.push(text);
  });
  await page.goto(`${origin}/`);
  await page.fill("#chat-name", name);
  await page.click("#chat-join-button");
  await page.locator("#chat-log li.notice", { hasText: `you joined as ${name}` }).waitFor();
  return page;
}

async function say(page: Page, lines: string[]): Promise<void> {
  for (const line of lines) {
    await page.fill("#chat-input", line);
    await page.press("#chat-input", "Enter");
  }
}

/** The chat lines a page shows from `user`, in order. */
async function linesFrom(page: Page, user: string): Promise<string[]> {
  const texts = await page.locator("#chat-log li.in, #chat-log li.mine").allTextContents();
  const prefix = `${user}: `;
  return texts.flatMap((text) => {
    const at = text.indexOf(prefix);
    return at === -1 ? [] : [text.slice(at + prefix.length)];
  });
}

async function untilLines(page: Page, user: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const lines = await linesFrom(page, user);
    if (lines.length >= count) return lines;
    if (Date.now() > deadline)
      throw new Error(
        `${lines.length} of ${count} lines from ${user}: ${(await page.locator("#chat-log li").allTextContents()).join("\n")}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const batch = (label: string) => Array.from({ length: 5 }, (_, i) => `${label} ${i}`);

test("the demo page's chat resumes after a dropped connection: every line said meanwhile, once, same name", {
  skip: browserSkip(),
  timeout: 60_000,
}, async () => {
  const served = await serve(["--quiet"]);
  const relay = await startRelay(served.port);
  relays.push(relay);
  const ann = await joined(`http://127.0.0.1:${relay.port}`, "ann");
  const ben = await joined(served.http, "ben");
  await say(ben, batch("before"));
  await untilLines(ann, "ben", 5);

  relay.cut();
  await ann.locator("#chat-status", { hasText: "reconnecting" }).waitFor();
  await say(ben, batch("while away"));
  await ann.locator("#chat-status", { hasText: "resumed" }).waitFor();
  await ann.locator("#chat-log li.notice", { hasText: "you are back as ann" }).waitFor();
  // The replay holds the notice of her dropped connection leaving: not hers to read.
  assert.equal(await ann.locator("#chat-log li.notice", { hasText: "ann left" }).count(), 0);
  await say(ben, batch("after"));
  assert.deepEqual(await untilLines(ann, "ben", 15), [
    ...batch("before"),
    ...batch("while away"),
    ...batch("after"),
  ]);
  // ann's own lines still reach ben, under her name.
  await say(ann, ["I am back"]);
  await ben.locator("#chat-log li.in", { hasText: "ann: I am back" }).waitFor();
  assert.deepEqual(ann.errors, []);
  assert.deepEqual(ben.errors, []);
  served.cli.kill("SIGTERM");
  await served.cli.exit();
});

test("the demo page's chat resumes after its serve --redis process is restarted, without losing lines", {
  skip,
  timeout: 90_000,
}, async () => {
  const redis = await RedisServer.start();
  const running: Served[] = [];
  try {
    const [a, b] = await Promise.all([serve(["--redis", redis.url]), serve(["--redis", redis.url])]);
    running.push(a, b);
    const relay = await startRelay(a.port);
    relays.push(relay);
    const ann = await joined(`http://127.0.0.1:${relay.port}`, "ann");
    const ben = await joined(b.http, "ben");
    await say(ben, batch("before"));
    await untilLines(ann, "ben", 5);

    // a stops (Ctrl-C: 1001 to its clients), lines are said on b, a starts again.
    a.cli.kill("SIGTERM");
    await a.cli.exit();
    await ann.locator("#chat-status", { hasText: "closed 1001" }).waitFor();
    await say(ben, batch("while a was down"));
    const restarted = await serve(["--redis", redis.url]);
    running.push(restarted);
    relay.retarget(restarted.port);

    await ann.locator("#chat-status", { hasText: "resumed" }).waitFor({ timeout: 30_000 });
    await ann.locator("#chat-log li.notice", { hasText: "you are back as ann" }).waitFor();
    await say(ben, batch("after"));
    assert.deepEqual(await untilLines(ann, "ben", 15), [
      ...batch("before"),
      ...batch("while a was down"),
      ...batch("after"),
    ]);
    await say(ann, ["back on the restarted process"]);
    await ben.locator("#chat-log li.in", { hasText: "ann: back on the restarted process" }).waitFor();
    assert.deepEqual(ann.errors, []);
    assert.deepEqual(ben.errors, []);
  } finally {
    for (const served of running) served.cli.kill("SIGTERM");
    await Promise.all(running.map((served) => served.cli.exit()));
    await redis.kill();
  }
});
