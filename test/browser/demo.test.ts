import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { killAll, ROOT, type Served, serve } from "../cli/helpers.js";
import { browserSkip } from "../support/require.js";
import { type Browser, launchChromium } from "./chromium.js";

// The demo page of `sockjet serve` in the system's Chromium (headless, fresh profile, no network but
// 127.0.0.1): echo, binary sizes, the chat between two pages, the negotiated extensions, and the close code
// when the server goes away. The screenshot goes to a temporary folder; `npm run demo:picture` (which sets
// SOCKJET_DEMO_PICTURE=1) writes it to the tracked docs/demo.png on purpose.

// Skips when /usr/bin/chromium is missing, unless SOCKJET_REQUIRE_BROWSER=1 (CI): then it fails.
const skip = browserSkip();

let browser: Browser | undefined;
const scratch = mkdtempSync(join(tmpdir(), "sockjet-demo-"));
after(async () => {
  await browser?.close();
  killAll();
  rmSync(scratch, { recursive: true, force: true });
});

const picture =
  process.env.SOCKJET_DEMO_PICTURE === "1" ? join(ROOT, "docs/demo.png") : join(scratch, "demo.png");

async function launch(): Promise<BrowserContext> {
  browser = await launchChromium();
  return browser.context;
}

async function openPage(context: BrowserContext, served: Served): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    // A favicon 404 and the chat's reconnection attempts while the server is gone are the only noise
    // allowed; a CSP violation or a script error fails the test.
    const text = message.text();
    if (
      message.type() === "error" &&
      !text.includes("404") &&
      !/WebSocket connection to .* failed/.test(text)
    )
      errors.push(text);
  });
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(`${served.http}/`);
  await page.locator("#echo-status", { hasText: "open" }).waitFor();
  return page;
}

function pageErrors(page: Page): string[] {
  return (page as Page & { errors: string[] }).errors;
}

async function send(page: Page, input: string, text: string): Promise<void> {
  await page.fill(input, text);
  await page.press(input, "Enter");
}

/** Waits for a log line (an `li` of `list` whose text contains `text`) and returns its full text. */
async function logLine(page: Page, list: string, kind: string, text: string): Promise<string> {
  const line = page.locator(`${list} li.${kind}`, { hasText: text }).last();
  await line.waitFor();
  return (await line.textContent()) ?? "";
}

test("the demo page in Chromium: echo, binary, chat between two pages, extensions, close code 1001", {
  skip,
  timeout: 60_000,
}, async () => {
  const served = await serve();
  const context = await launch();
  const page = await openPage(context, served);

  // Connection status and what was negotiated, as the page's own WebSocket reports it.
  assert.equal(await page.locator("#echo-url").textContent(), `${served.ws}/`);
  assert.equal(await page.locator("#echo-protocol").textContent(), "none");
  // The page's script is classic: its top-level `echo` is reachable by name, not as a property of window.
  const negotiated = await page.evaluate<string>("echo.socket.extensions");
  assert.equal(await page.locator("#echo-extensions").textContent(), negotiated === "" ? "none" : negotiated);
  // Whatever was negotiated is what the server says it accepted, and messages pass through it below.
  const logged = await served.cli.waitFor(/open {3}127\.0\.0\.1 {2}\/ {2}\((.*)\)\n/);
  assert.equal(logged[1], negotiated === "" ? "no subprotocol" : `no subprotocol, ${negotiated}`);

  // Echo: text, then binary received as a Blob, then as an ArrayBuffer.
  await send(page, "#echo-input", "hello from Chromium");
  assert.match(
    await logLine(page, "#echo-log", "in", "hello from Chromium"),
    /^\d\d:\d\d:\d\d\.\d{3}←hello from Chromium$/,
  );
  await page.check("#echo-binary");
  await send(page, "#echo-input", "bin");
  await logLine(page, "#echo-log", "out", "binary, 3 bytes: 62 69 6e");
  await page.locator("#echo-log li.in", { hasText: "Blob, 3 bytes: 62 69 6e" }).waitFor();
  await page.selectOption("#echo-binary-type", "arraybuffer");
  await send(page, "#echo-input", "sockjet");
  await logLine(page, "#echo-log", "in", "ArrayBuffer, 7 bytes: 73 6f 63 6b 6a 65 74");
  await page.uncheck("#echo-binary");
  await send(page, "#echo-input", "text again");
  await logLine(page, "#echo-log", "in", "text again");

  // Chat between two pages; markup in a message stays text.
  await page.fill("#chat-name", "ann");
  await page.click("#chat-join-button");
  await page.locator("#chat-status", { hasText: "joined" }).waitFor();
  // The chat is a resumable session (docs/resume.md).
  assert.equal(await page.locator("#chat-protocol").textContent(), "sockjet.resume.1");
  await logLine(page, "#chat-log", "notice", "you joined as ann (1 online)");

  const other = await openPage(context, served);
  await other.fill("#chat-name", "ben");
  await other.click("#chat-join-button");
  await logLine(other, "#chat-log", "notice", "you joined as ben (2 online)");
  await logLine(page, "#chat-log", "notice", "ben joined (2 online)");
  assert.equal(await page.locator("#chat-users").textContent(), "2 online");

  await send(page, "#chat-input", "<b>hi</b> ben, <img src=x onerror=alert(1)>");
  assert.match(
    await logLine(other, "#chat-log", "in", "ann"),
    /ann: <b>hi<\/b> ben, <img src=x onerror=alert\(1\)>$/,
  );
  assert.equal(await other.locator("#chat-log b, #chat-log img").count(), 0);
  await send(other, "#chat-input", "hello ann, schön dich zu sehen");
  assert.match(await logLine(page, "#chat-log", "in", "hello ann"), /ben: hello ann, schön dich zu sehen$/);

  // One's own chat lines look different from the others'.
  await logLine(page, "#chat-log", "out.mine", "ann: <b>hi</b>");
  assert.equal(await page.locator("#chat-log li.in", { hasText: "ann:" }).count(), 0);
  // The name is locked while joined.
  assert.equal(await page.locator("#chat-name").isDisabled(), true);

  await page.screenshot({ path: picture });

  // The server goes away: both panels show the close code.
  served.cli.kill("SIGTERM");
  await page.locator("#echo-status", { hasText: "closed 1001" }).waitFor();
  await logLine(page, "#echo-log", "info", 'closed: code 1001, reason "Server shutting down", clean');
  await page.locator("#chat-status", { hasText: "closed 1001" }).waitFor();
  await other.locator("#chat-status", { hasText: "closed 1001" }).waitFor();
  // Closed: Close is disabled. The chat waits for the server to come back (it resumes then): still joined.
  assert.equal(await page.locator("#echo-close").isDisabled(), true);
  await page.locator("#chat-status", { hasText: "reconnecting" }).waitFor();
  assert.equal(await page.locator("#chat-name").isDisabled(), true);
  assert.equal((await served.cli.exit()).code, 0, served.cli.transcript());

  assert.deepEqual(pageErrors(page), []);
  assert.deepEqual(pageErrors(other), []);
});

test("the page shows 'none' for extensions when the server runs with --no-deflate", {
  skip,
  timeout: 30_000,
}, async () => {
  const served = await serve(["--no-deflate", "--quiet"]);
  const context = browser?.context ?? (await launch());
  const page = await openPage(context, served);
  assert.equal(await page.locator("#echo-extensions").textContent(), "none");
  await send(page, "#echo-input", "uncompressed");
  await logLine(page, "#echo-log", "in", "uncompressed");
  served.cli.kill("SIGTERM");
  await page.locator("#echo-status", { hasText: "closed 1001" }).waitFor();
  // Reconnect: the server is gone, so the new socket fails and the page says so.
  await page.click("#echo-reconnect");
  await page.locator("#echo-status", { hasText: "closed 1006" }).waitFor();
  await logLine(page, "#echo-log", "error", "error event");
  await logLine(page, "#echo-log", "error", "the server could not be reached");
});

test("a long message is shown cut with its size; the rows do not change height when they reset", {
  skip,
  timeout: 30_000,
}, async () => {
  const served = await serve(["--quiet"]);
  const context = browser?.context ?? (await launch());
  const page = await openPage(context, served);
  const rows = page.locator("#echo dl");
  const heightWith = async (text: string) => {
    await page.evaluate(`document.getElementById("echo-extensions").textContent = ${JSON.stringify(text)}`);
    return (await rows.boundingBox())?.height;
  };
  const long = "permessage-deflate; client_max_window_bits=15; server_no_context_takeover; ".repeat(3);
  assert.equal(await heightWith(long), await heightWith("—"));

  // 600,000 characters, 600,001 bytes of UTF-8: the echo's line shows 300 of them and the size.
  await page.evaluate(`echo.send("é" + "x".repeat(599999))`);
  const line = await logLine(page, "#echo-log", "in", "(585.9 KiB)");
  assert.ok(line.length < 400, `${line.length} characters shown`);
  assert.match(line, /←éx{299}… \(585\.9 KiB\)$/);
  served.cli.kill("SIGTERM");
  await served.cli.exit();
  assert.deepEqual(pageErrors(page), []);
});
