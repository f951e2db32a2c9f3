import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as connectHttp2 } from "node:http2";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import { launchChromium } from "../browser/chromium.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";
import { selfSignedCertificate } from "../support/certificate.js";
import { browserSkip } from "../support/require.js";

// Issue 20: every example in examples/ is started as a user would (`node examples/NAME.mjs`, loading the
// built package through its own name), served HTTP and a WebSocket echo on /ws, and shut down with SIGTERM:
// the WebSocket gets 1001 and the process exits 0.

const REPO = resolve(import.meta.dirname, "../..");
const EXAMPLES = [
  { file: "node-http.mjs", greeting: "hello from node:http\n" },
  { file: "express.mjs", greeting: "hello from Express\n" },
  { file: "fastify.mjs", greeting: "hello from Fastify\n" },
];
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts an example on a port the OS picks and resolves with that port once it listens. */
function start(
  file: string,
  env: Record<string, string> = {},
  nodeOptions: string[] = [],
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [...nodeOptions, join(REPO, "examples", file)], {
    cwd: REPO,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let output = "";
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} did not listen within 15 s:\n${output}`)),
      15_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on https?:\/\/localhost:(\d+)\//.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePort({ child, port: Number(match[1]), output: () => output });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code} before listening:\n${output}`));
    });
  });
}

/** Runs a client example to its end (at most 30 s): its exit code and everything it printed. */
function run(file: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(REPO, "examples", file), ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const ended = new Promise<{ code: number | null; output: string }>((resolveEnd) =>
    child.on("exit", (code) => {
      children.delete(child);
      resolveEnd({ code, output });
    }),
  );
  return within(ended, 30_000, `${file} to finish`);
}

/** The next message of `socket` as text, within 10 s. */
function nextMessage(socket: WebSocket): Promise<string> {
  return within(
    new Promise((resolveText) => {
      socket.onmessage = (event) => resolveText(String(event.data));
    }),
    10_000,
    "a message",
  );
}

/** SIGTERMs an example: `socket` must get 1001 and the process must exit 0. */
async function stopGoingAway(child: ChildProcess, socket: WebSocket, output: () => string, what: string) {
  const closed = new Promise<number>((resolveCode) => {
    socket.onclose = (event) => resolveCode(event.code);
  });
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
  child.kill("SIGTERM");
  assert.equal(await within(closed, 10_000, "the close after SIGTERM"), 1001);
  assert.equal(await within(exited, 10_000, `${what}'s exit after SIGTERM`), 0, output());
}

function echo(port: number, text: string, path = "/ws"): Promise<{ reply: string; socket: WebSocket }> {
  return new Promise((resolveReply, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const timer = setTimeout(() => reject(new Error("no echo within 10 s")), 10_000);
    socket.onopen = () => socket.send(text);
    socket.onmessage = (event) => {
      clearTimeout(timer);
      resolveReply({ reply: String(event.data), socket });
    };
    socket.onerror = (event) => {
      clearTimeout(timer);
      reject(event.error);
    };
  });
}

/** `promise`, or a failure naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("examples/", () => {
  test("the package is built (the examples load it as `sockjet`, from dist/)", () => {
    assert.ok(existsSync(join(REPO, "dist/index.js")), "run `npm run build` (npm test does)");
  });

  for (const { file, greeting } of EXAMPLES) {
    test(`${file}: HTTP on /, a WebSocket echo on /ws, and SIGTERM closes it with 1001 and exits 0`, async () => {
      const { child, port, output } = await start(file);
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), greeting);

      const { reply, socket } = await echo(port, `hello ${file}`);
      assert.equal(reply, `hello ${file}`);

      const closed = new Promise<number>((resolveCode) => {
        socket.onclose = (event) => resolveCode(event.code);
      });
      const exited = new Promise<number | null>((resolveExit) =>
        child.on("exit", (code) => resolveExit(code)),
      );
      child.kill("SIGTERM");
      assert.equal(await within(closed, 10_000, "the close after SIGTERM"), 1001);
      assert.equal(await within(exited, 10_000, `${file}'s exit after SIGTERM`), 0, output());
    });
  }

  test("streams/: the client pipes a file through the server's WebSocketStream echo and gets every byte back", async () => {
    // 4 MiB: far more than the sockets' buffers, so both pipes run under backpressure.
    const dir = mkdtempSync(join(tmpdir(), "sockjet-example-"));
    try {
      const file = join(dir, "data.bin");
      const data = randomBytes(4 * 1024 * 1024);
      writeFileSync(file, data);
      const { child, port, output } = await start("streams/server.mjs");
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await response.text(), "hello from the streams example\n");

      const client = await run("streams/client.mjs", [file, `ws://127.0.0.1:${port}/ws`]);
      assert.equal(client.code, 0, client.output);
      const sha256 = createHash("sha256").update(data).digest("hex");
      assert.equal(client.output, `echoed ${data.byteLength} bytes, sha256 ${sha256}, closed 1000\n`);

      // Text goes through the stream echo too; SIGTERM closes the stream's socket with 1001.
      const { reply, socket } = await echo(port, "hello streams");
      assert.equal(reply, "hello streams");
      await stopGoingAway(child, socket, output, "streams/server.mjs");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("http2/: WebSockets over h2 (RFC 8441) and HTTP/1.1 on one TLS port; the h2-only client gets its echo", async (t) => {
    const cert = selfSignedCertificate();
    if (cert === null) return t.skip("openssl is not installed");
    const dir = mkdtempSync(join(tmpdir(), "sockjet-example-"));
    try {
      const files = { TLS_CERT: join(dir, "cert.pem"), TLS_KEY: join(dir, "key.pem") };
      writeFileSync(files.TLS_CERT, cert.cert);
      writeFileSync(files.TLS_KEY, cert.key);
      const { child, port, output } = await start("http2/server.mjs", files);
      const origin = `https://127.0.0.1:${port}`;

      // The page, over h2.
      const session = connectHttp2(origin, { ca: cert.cert });
      const page = await within(
        new Promise<string>((resolvePage, reject) => {
          const request = session.request({ ":path": "/" });
          let body = "";
          request.setEncoding("utf8");
          request.on("data", (chunk) => (body += chunk));
          request.on("end", () => resolvePage(body));
          request.on("error", reject);
        }),
        10_000,
        "the page over h2",
      );
      session.close();
      assert.equal(page, "hello over HTTP/2.0\n");

      // The example client: h2 only, no fallback.
      const client = await run("http2/client.mjs", [`wss://127.0.0.1:${port}/ws`], {
        TLS_CA: files.TLS_CERT,
      });
      assert.equal(client.code, 0, client.output);
      assert.equal(client.output, "connected over HTTP/2.0\nhello over h2\nclosed 1000\n");

      // allowHTTP1: an HTTP/1.1 upgrade on the same port.
      const http1 = new WebSocket(`wss://127.0.0.1:${port}/ws`, [], { ca: cert.cert, http2: "never" });
      assert.equal(await nextMessage(http1), "connected over HTTP/1.1");
      http1.close();

      // SIGTERM: an h2 WebSocket gets 1001, the process exits 0.
      const h2 = new WebSocket(`wss://127.0.0.1:${port}/ws`, [], { ca: cert.cert, http2: "always" });
      assert.equal(await nextMessage(h2), "connected over HTTP/2.0");
      h2.send("hello again");
      assert.equal(await nextMessage(h2), "hello again");
      await stopGoingAway(child, h2, output, "http2/server.mjs");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("redis-chat.mjs: two processes, one room: a message sent to one reaches a client of the other", {
    skip: redisSkipReason() ?? false,
  }, async () => {
    const redis = await RedisServer.start();
    try {
      const env = { REDIS_URL: redis.url };
      const [first, second] = await Promise.all([start("redis-chat.mjs", env), start("redis-chat.mjs", env)]);
      // Each client waits for "joined": its subscription has reached Redis.
      const join = (port: number) =>
        new Promise<{ socket: WebSocket; next: () => Promise<string> }>((resolveJoin, reject) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
          const queue: string[] = [];
          const waiters: ((text: string) => void)[] = [];
          socket.onmessage = (event) => {
            const text = String(event.data);
            if (text === "joined") resolveJoin({ socket, next });
            else if (waiters.length > 0) waiters.shift()!(text);
            else queue.push(text);
          };
          socket.onerror = (event) => reject(event.error);
          const next = () =>
            queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<string>((r) => waiters.push(r));
        });
      const alice = await within(join(first.port), 10_000, "alice joined");
      const bob = await within(join(second.port), 10_000, "bob joined");
      alice.socket.send("hello from alice");
      assert.equal(await within(bob.next(), 10_000, "bob's message"), "hello from alice");
      bob.socket.send("hello from bob");
      assert.equal(await within(alice.next(), 10_000, "alice's message"), "hello from bob");

      for (const { child, output } of [first, second]) {
        const exited = new Promise<number | null>((resolveExit) =>
          child.on("exit", (code) => resolveExit(code)),
        );
        child.kill("SIGTERM");
        assert.equal(await within(exited, 10_000, "redis-chat.mjs's exit after SIGTERM"), 0, output());
      }
    } finally {
      await redis.kill();
    }
  });

  test("typescript/: type-checks with strict tsc (nodenext, no DOM lib) and, run with tsx, answers typed JSON", async () => {
    const tsc = join(REPO, "node_modules/typescript/bin/tsc");
    const checked = await new Promise<{ code: number | null; output: string }>((resolveCheck) => {
      const child = spawn(process.execPath, [tsc, "-p", join(REPO, "examples/typescript")], { cwd: REPO });
      children.add(child);
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      child.on("exit", (code) => {
        children.delete(child);
        resolveCheck({ code, output });
      });
    });
    assert.equal(checked.code, 0, checked.output);

    const { child, port, output } = await start("typescript/server.ts", {}, ["--import", "tsx"]);
    const { reply, socket } = await echo(port, JSON.stringify({ text: "typed" }), "/");
    assert.equal(JSON.parse(reply).text, "TYPED");
    const closed = new Promise<number>((resolveCode) => {
      socket.onclose = (event) => resolveCode(event.code);
    });
    const exited = new Promise<number | null>((resolveExit) => child.on("exit", (code) => resolveExit(code)));
    child.kill("SIGTERM");
    assert.equal(await within(closed, 10_000, "the close after SIGTERM"), 1001);
    assert.equal(await within(exited, 10_000, "server.ts's exit after SIGTERM"), 0, output());
  });

  test("browser/: Chromium loads the page, which sends a message over /ws and shows the echo", {
    skip: browserSkip(),
  }, async () => {
    const { child, port, output } = await start("browser/server.mjs");
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.locator("#log li", { hasText: "connected" }).waitFor();
      await page.fill("#text", "hello from Chromium");
      await page.click("button");
      await page.locator("#log li", { hasText: "echo: hello from Chromium" }).waitFor();

      const exited = new Promise<number | null>((resolveExit) =>
        child.on("exit", (code) => resolveExit(code)),
      );
      child.kill("SIGTERM");
      // The page sees the server's going-away close.
      await page.locator("#log li", { hasText: "closed: 1001" }).waitFor();
      assert.equal(await within(exited, 10_000, "browser/server.mjs's exit after SIGTERM"), 0, output());
    } finally {
      await browser.close();
    }
  });
});
