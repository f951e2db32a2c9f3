import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import { launchChromium } from "../browser/chromium.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";
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
      const match = /listening on http:\/\/localhost:(\d+)\//.exec(output);
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
