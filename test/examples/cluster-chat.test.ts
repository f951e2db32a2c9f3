import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { after, test } from "node:test";
import { WebSocket } from "../../src/index.js";

// examples/cluster-chat.mjs, run as a user would (`node examples/cluster-chat.mjs`, the built package):
// two workers on one port; clients spread over both see each other's messages once; SIGTERM → 1001, exit 0;
// Ctrl-C (SIGINT to the process group) the same.

const REPO = resolve(import.meta.dirname, "../..");
let child: ChildProcess | undefined;
after(() => child?.kill("SIGKILL"));

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

test("examples/cluster-chat.mjs: one chat across two workers, 1001 on SIGTERM", async () => {
  child = spawn(process.execPath, [join(REPO, "examples", "cluster-chat.mjs")], {
    cwd: REPO,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", WORKERS: "2" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const port = await within(
    new Promise<number>((resolvePort) =>
      child?.stdout?.on("data", () => {
        const match = /listening on http:\/\/localhost:(\d+)\/ \(2 workers\)/.exec(output);
        if (match) resolvePort(Number(match[1]));
      }),
    ),
    20_000,
    "listening line",
  );
  // Four clients, handed round-robin: two on each worker.
  const clients: { socket: WebSocket; got: string[] }[] = [];
  for (let i = 0; i < 4; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    const got: string[] = [];
    socket.onmessage = (event) => got.push(String(event.data));
    await within(once(socket, "open"), 10_000, "open");
    clients.push({ socket, got });
  }
  // Subscriptions reach the relay asynchronously: publish until the first message gets everywhere.
  for (let attempt = 0; clients.slice(1).some((c) => c.got.length === 0); attempt++) {
    assert.ok(attempt < 100, output);
    clients[0].socket.send(`hello ${attempt}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const sent = clients[1].got.length;
  clients[3].socket.send("from the last");
  await within(
    (async () => {
      while (!clients.slice(0, 3).every((c) => c.got.includes("from the last")))
        await new Promise((r) => setTimeout(r, 10));
    })(),
    10_000,
    "the message on every client",
  );
  await new Promise((r) => setTimeout(r, 200));
  for (const c of clients.slice(0, 3)) assert.equal(c.got.filter((m) => m === "from the last").length, 1);
  assert.deepEqual(clients[3].got.includes("from the last"), false, "not back to its sender");
  assert.ok(sent > 0);

  const closes = clients.map(
    (c) => new Promise<number>((r) => (c.socket.onclose = (event) => r(event.code))),
  );
  const exited = new Promise<number | null>((r) => child?.on("exit", (code) => r(code)));
  child.kill("SIGTERM");
  assert.deepEqual(await within(Promise.all(closes), 10_000, "closes"), [1001, 1001, 1001, 1001]);
  assert.equal(await within(exited, 10_000, "exit"), 0, output);
});

test("examples/cluster-chat.mjs: Ctrl-C (SIGINT to the whole process group) → 1001 everywhere, exit 0", async () => {
  // Its own process group, as a terminal's foreground job: the signal reaches the primary and the workers.
  const group = spawn(process.execPath, [join(REPO, "examples", "cluster-chat.mjs")], {
    cwd: REPO,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", WORKERS: "2" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child = group;
  let output = "";
  group.stdout?.on("data", (chunk) => (output += chunk));
  group.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((r) => group.on("exit", (code) => r(code)));
  try {
    const port = await within(
      new Promise<number>((resolvePort) =>
        group.stdout?.on("data", () => {
          const match = /listening on http:\/\/localhost:(\d+)\/ \(2 workers\)/.exec(output);
          if (match) resolvePort(Number(match[1]));
        }),
      ),
      20_000,
      "listening line",
    );
    const closes: Promise<number>[] = [];
    for (let i = 0; i < 4; i++) {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
      closes.push(new Promise<number>((r) => (socket.onclose = (event) => r(event.code))));
      await within(once(socket, "open"), 10_000, "open");
    }
    process.kill(-(group.pid ?? 0), "SIGINT");
    assert.deepEqual(await within(Promise.all(closes), 10_000, "closes"), [1001, 1001, 1001, 1001], output);
    assert.equal(await within(exited, 10_000, "exit"), 0, output);
  } finally {
    if (group.exitCode === null) process.kill(-(group.pid ?? 0), "SIGKILL");
  }
});
