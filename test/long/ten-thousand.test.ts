// 10,000 concurrent connections on one server (our WebSocketServer, defaults except the listen backlog),
// the clients (our WebSocket) in a child process so each process holds 10,000 sockets. Every client sends
// numbered messages; the server checks each connection's messages arrive once, in order, and echoes them;
// the clients check the echoes the same way. Skips, saying why, when the fd limit cannot be raised.

import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { within } from "../conformance/peers.js";

const CONNECTIONS = 10_000;
const MESSAGES = 20;
const NEEDED_FDS = CONNECTIONS + 300;

function fdLimit(): number {
  // `ulimit -n` of a child shell is ours (the soft limit is inherited).
  const out = execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim();
  return out === "unlimited" ? Number.POSITIVE_INFINITY : Number(out);
}

const limit = fdLimit();
const skip =
  limit < NEEDED_FDS
    ? `needs ulimit -n ≥ ${NEEDED_FDS} in the test process (have ${limit}); run 'ulimit -n ${NEEDED_FDS}' first`
    : undefined;

test(`${CONNECTIONS.toLocaleString("en-US")} concurrent connections each send ${MESSAGES} numbered messages: all arrive once, in order`, {
  skip,
  timeout: 600_000,
}, async (t) => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", backlog: 4096, pingIntervalMs: 0 });
  t.after(() => server.close());
  await within(once(server, "listening"), 5000, "listening");
  const port = (server.address() as AddressInfo).port;

  let maxOpen = 0;
  let serverReceived = 0;
  let serverOutOfOrder = 0;
  const errors: Error[] = [];
  server.on("error", (error) => errors.push(error));
  server.on("connection", (ws) => {
    maxOpen = Math.max(maxOpen, server.clients.size);
    let expected = 0;
    let who = -1;
    ws.onmessage = (event) => {
      const data = event.data as string;
      const colon = data.indexOf(":");
      const client = Number(data.slice(0, colon));
      const seq = Number(data.slice(colon + 1));
      if (who === -1) who = client;
      if (client !== who || seq !== expected) serverOutOfOrder++;
      else expected++;
      serverReceived++;
      ws.send(data);
    };
  });

  // The child raises its own limit if it can; exit code 77 means the OS refused.
  const script = fileURLToPath(new URL("./fixtures/many-clients.ts", import.meta.url));
  const child: ChildProcess = spawn(
    "sh",
    [
      "-c",
      `ulimit -n ${NEEDED_FDS} 2>/dev/null || [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge ${NEEDED_FDS} ] || exit 77; exec "$0" --import tsx "$@"`,
      process.execPath,
      script,
      `ws://127.0.0.1:${port}/`,
      String(CONNECTIONS),
      String(MESSAGES),
      "500",
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  t.after(() => child.kill());
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = once(child, "exit");
  const nextLine = async (ms: number, what: string) => {
    const result = await within(Promise.race([lines.next(), exited.then(() => null)]), ms, what);
    if (result === null || result.done) {
      const code = child.exitCode;
      if (code === 77) t.skip(`the OS refused to raise the child's fd limit to ${NEEDED_FDS}`);
      throw new Error(`client process exited (code ${code}) while waiting for ${what}`);
    }
    return JSON.parse(result.value) as Record<string, number>;
  };

  const rssBefore = process.memoryUsage().rss;
  const opened = await nextLine(300_000, "every connection to open");
  t.diagnostic(`opened ${opened.opened}, failed ${opened.failed} in ${(opened.ms / 1000).toFixed(1)} s`);
  if (child.exitCode === 77) return;
  assert.equal(opened.failed, 0);
  assert.equal(opened.opened, CONNECTIONS);
  assert.equal(server.clients.size, CONNECTIONS, "all open at once on the server");
  const rssOpen = process.memoryUsage().rss;

  child.stdin!.write("go\n");
  const done = await nextLine(300_000, "every echo");
  t.diagnostic(`${done.received} echoes in ${(done.ms / 1000).toFixed(1)} s`);
  assert.equal(done.outOfOrder, 0, "client side: echoes once each, in order");
  assert.equal(done.closedEarly, 0);
  assert.equal(done.received, CONNECTIONS * MESSAGES);
  assert.equal(serverReceived, CONNECTIONS * MESSAGES);
  assert.equal(serverOutOfOrder, 0, "server side: messages once each, in order");
  assert.equal(maxOpen, CONNECTIONS);
  assert.deepEqual(errors, []);
  const mib = (n: number) => (n / 1048576).toFixed(0);
  t.diagnostic(
    `server process RSS ${mib(rssBefore)} MiB before, ${mib(rssOpen)} MiB with ${CONNECTIONS} open (${((rssOpen - rssBefore) / CONNECTIONS / 1024).toFixed(1)} KiB per connection), ${mib(process.memoryUsage().rss)} MiB after the messages`,
  );
  child.stdin!.write("close\n");
  await within(exited, 30_000, "the client process to exit");
});
