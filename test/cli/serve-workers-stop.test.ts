import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import WebSocket from "ws";
import { killAll, ROOT, type Served, serve } from "./helpers.js";
import { openOn, until } from "./workers-helpers.js";

// How `sockjet serve` (--workers 2, and one process) stops when its signals do not come one at a time as
// from a terminal: GNU `timeout` sends SIGTERM to the process and then to its whole process group, so the
// primary sees two; a worker that does not stop in time is killed, and the exit status says so.

after(killAll);

/** `sockjet serve` in a process group of its own (as under a terminal or GNU timeout). */
class Group {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "serve", "--port", "0", "--host", "127.0.0.1", ...args],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1" },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code, signal) => resolve({ code, signal })),
    );
  }

  async served(): Promise<Served> {
    await until(() => /echo\s+ws:\/\/127\.0\.0\.1:\d+\//.test(this.stdout), "the banner", 20_000);
    const port = Number(/echo\s+ws:\/\/127\.0\.0\.1:(\d+)\//.exec(this.stdout)?.[1]);
    return { port, ws: `ws://127.0.0.1:${port}` } as Served;
  }

  kill(): void {
    try {
      process.kill(-(this.child.pid ?? 0), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

describe("sockjet serve: stopping", () => {
  test("--workers 2 under GNU timeout (SIGTERM to the primary, then to the group): 1001 everywhere, exit 0", async () => {
    const group = new Group(["--workers", "2"]);
    try {
      const served = await group.served();
      const clients = [await openOn(served, 1, "/"), await openOn(served, 2, "/")];
      // A client that does not answer the closing handshake keeps worker 1 stopping (5 s at most)…
      const slow = await openOn(served, 1, "/");
      slow.socket.pause();
      process.kill(group.child.pid ?? 0, "SIGTERM");
      await until(() => /SIGTERM: stopping 2 worker/.test(group.stdout), "the stop");
      // …while the same signal reaches the group (GNU timeout sends it there right after).
      process.kill(-(group.child.pid ?? 0), "SIGTERM");
      const closes = await Promise.all(clients.map((c) => c.closed));
      assert.deepEqual(
        closes.map((c) => c.code),
        [1001, 1001],
        group.stdout + group.stderr,
      );
      assert.deepEqual(await group.exited, { code: 0, signal: null }, group.stdout + group.stderr);
      assert.match(group.stdout, /SIGTERM: stopping 2 worker\(s\)/);
      assert.match(group.stdout, /\d\d {2}stopped\n$/);
    } finally {
      group.kill();
    }
  });

  test("one process under GNU timeout: the group's SIGTERM does not cut the graceful stop short", async () => {
    const group = new Group([]);
    try {
      const served = await group.served();
      // A client that does not answer the closing handshake keeps the stop going (5 s at most)…
      const socket = new WebSocket(`${served.ws}/`);
      socket.on("error", () => {});
      await once(socket, "open");
      socket.pause();
      process.kill(group.child.pid ?? 0, "SIGTERM");
      await until(() => /SIGTERM: closing 1 connection/.test(group.stdout), "the stop");
      // …while the same signal reaches the group (GNU timeout sends it there right after).
      process.kill(-(group.child.pid ?? 0), "SIGTERM");
      assert.deepEqual(await group.exited, { code: 0, signal: null }, group.stdout + group.stderr);
      assert.match(group.stdout, /\d\d {2}stopped\n$/);
    } finally {
      group.kill();
    }
  });

  test("a second signal later than a moment after the first still stops at once", async () => {
    const group = new Group(["--workers", "2"]);
    try {
      const served = await group.served();
      const client = await openOn(served, 1, "/");
      const worker = client.pid;
      // A worker that cannot close its connections keeps the stop going…
      process.kill(worker, "SIGSTOP");
      process.kill(group.child.pid ?? 0, "SIGINT");
      await until(() => /SIGINT: stopping 2 worker\(s\)/.test(group.stdout), "the first stop");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // …until the user presses Ctrl-C again.
      process.kill(group.child.pid ?? 0, "SIGINT");
      assert.deepEqual(await group.exited, { code: 130, signal: null });
    } finally {
      group.kill();
    }
  });

  test("a worker stuck past the stop timeout (15 s) is killed, and the exit status is 1", async () => {
    const served = await serve(["--workers", "2"]);
    try {
      const client = await openOn(served, 1, "/");
      process.kill(client.pid, "SIGSTOP");
      served.cli.kill("SIGTERM");
      const exit = await served.cli.exit(25_000);
      assert.equal(exit.code, 1, served.cli.transcript());
      assert.match(served.cli.stderr, /workers still running after 15 s: killed/);
      assert.doesNotMatch(served.cli.stdout, /\d\d {2}stopped\n$/);
    } finally {
      served.cli.kill("SIGKILL");
    }
  });
});
