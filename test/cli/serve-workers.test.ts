import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { after, describe, test } from "node:test";
import { Cli, killAll, ROOT, run, type Served, serve } from "./helpers.js";
import { openOn, said, until, untilOpenConnections, welcome } from "./workers-helpers.js";

// `sockjet serve --workers N`: N node:cluster workers on one port. Each connection's 101 names the worker
// that took it (X-Sockjet-Worker: "<slot>; pid=<pid>"), so the tests put clients on known workers. The
// chat room is one room across workers without Redis (topic through the primary's relay, names owned by
// the primary); a killed worker is restarted and its clients can come back; SIGTERM closes every
// connection of every worker with 1001.

after(killAll);

describe("sockjet serve --workers", () => {
  test("one banner; echo on every worker; one chat room across workers with names owned by the primary", async () => {
    const served = await serve(["--workers", "2"]);
    try {
      assert.equal(served.cli.stdout.match(/listening on/g)?.length, 1, served.cli.transcript());
      assert.match(served.cli.stdout, /listening on 127\.0\.0\.1:\d+ \(2 worker processes\)\n/);

      // The echo works on both workers, each a process of its own.
      const echo1 = await openOn(served, 1, "/");
      const echo2 = await openOn(served, 2, "/");
      assert.notEqual(echo1.pid, echo2.pid);
      for (const echo of [echo1, echo2]) {
        echo.socket.send(`hello ${echo.slot}`);
        await until(() => echo.texts.length === 1, "the echo");
        assert.deepEqual(echo.texts, [`hello ${echo.slot}`]);
        echo.socket.close();
      }

      // Two members asking for the same name on two workers: the primary gives the second "sam-2".
      const sam = await openOn(served, 1, "/chat?name=sam", "chat");
      await until(() => welcome(sam) !== undefined, "sam's welcome");
      const sam2 = await openOn(served, 2, "/chat?name=sam", "chat");
      await until(() => welcome(sam2) !== undefined, "the second sam's welcome");
      assert.deepEqual(welcome(sam), { type: "welcome", user: "sam", users: 1 });
      assert.deepEqual(welcome(sam2), { type: "welcome", user: "sam-2", users: 2 });
      // Guests get distinct numbers whichever worker they are on.
      const guest1 = await openOn(served, 1, "/chat", "chat");
      const guest2 = await openOn(served, 2, "/chat", "chat");
      await until(() => welcome(guest1) !== undefined && welcome(guest2) !== undefined, "guest welcomes");
      assert.notEqual(welcome(guest1)?.user, welcome(guest2)?.user);
      assert.equal(Math.max(Number(welcome(guest1)?.users), Number(welcome(guest2)?.users)), 4);

      // The join notice of a member on worker 2 reaches worker 1, and messages cross both ways once.
      await until(() => sam.events.some((e) => e.type === "join" && e.user === "sam-2"), "sam-2's join on 1");
      sam.socket.send("from worker 1");
      sam2.socket.send("from worker 2");
      const expected = ["sam: from worker 1", "sam-2: from worker 2"].sort();
      for (const member of [sam, sam2, guest1, guest2])
        await until(() => said(member).length === 2, `messages to ${welcome(member)?.user}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const member of [sam, sam2, guest1, guest2]) assert.deepEqual(said(member).sort(), expected);

      // A member leaving on worker 2: the room on worker 1 hears it, with the whole room's count.
      sam2.socket.close();
      await until(() => sam.events.some((e) => e.type === "leave" && e.user === "sam-2"), "sam-2's leave");
      assert.equal(sam.events.find((e) => e.type === "leave")?.users, 3);
      // Its name is free again, whichever worker asks.
      const again = await openOn(served, 1, "/chat?name=sam", "chat");
      await until(() => welcome(again) !== undefined, "the new sam-2");
      assert.equal(welcome(again)?.user, "sam-2");

      // The log names the worker of each line.
      assert.match(served.cli.stdout, /\[worker 1\] {2}open {3}127\.0\.0\.1 {2}\/chat\?name=sam/);
      assert.match(served.cli.stdout, /\[worker 2\] {2}open {3}127\.0\.0\.1 {2}\/chat\?name=sam/);
      for (const c of [sam, guest1, guest2, again]) c.socket.close();
      assert.equal(served.cli.stderr, "");
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("a killed worker is restarted; its members leave the room; its clients reconnect", async () => {
    const served = await serve(["--workers", "2"]);
    try {
      const alice = await openOn(served, 1, "/chat?name=alice", "chat");
      const bob = await openOn(served, 2, "/chat?name=bob", "chat");
      await until(() => alice.events.some((e) => e.type === "join" && e.user === "bob"), "bob's join");

      process.kill(bob.pid, "SIGKILL");
      assert.equal((await bob.closed).code, 1006);
      await served.cli.waitFor(/worker 2 \(pid \d+\) was killed by SIGKILL: restarting it\n/, {
        stream: "stderr",
      });
      // The primary announces bob's leave to the room on the other worker.
      await until(() => alice.events.some((e) => e.type === "leave" && e.user === "bob"), "bob's leave");
      assert.equal(alice.events.find((e) => e.type === "leave")?.users, 1);
      await served.cli.waitFor(/worker 2 \(pid \d+\) listening\n/);

      // Bob comes back, to the new worker 2 (another process), under his own name.
      const back = await openOn(served, 2, "/chat?name=bob", "chat");
      assert.notEqual(back.pid, bob.pid);
      await until(() => welcome(back) !== undefined, "bob's new welcome");
      assert.deepEqual(welcome(back), { type: "welcome", user: "bob", users: 2 });
      back.socket.send("back");
      await until(() => said(alice).includes("bob: back"), "bob's message on worker 1");
      for (const c of [alice, back]) c.socket.close();
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("SIGTERM: every connection of every worker gets 1001; the primary exits 0", async () => {
    const served = await serve(["--workers", "2"]);
    const clients = [
      await openOn(served, 1, "/"),
      await openOn(served, 2, "/"),
      await openOn(served, 1, "/chat?name=x", "chat"),
      await openOn(served, 2, "/chat?name=y", "chat"),
    ];
    await untilOpenConnections(served, () => served.cli.stdout, clients.length);
    served.cli.kill("SIGTERM");
    const closes = await Promise.all(clients.map((c) => c.closed));
    assert.deepEqual(
      closes.map((c) => c.code),
      [1001, 1001, 1001, 1001],
    );
    const exit = await served.cli.exit();
    assert.equal(exit.code, 0, served.cli.transcript());
    assert.match(
      served.cli.stdout,
      /SIGTERM: stopping 2 worker\(s\); each closes its connections with 1001\n/,
    );
    assert.match(served.cli.stdout, /\[worker 1\] {2}SIGTERM: closing 2 connection\(s\) with 1001\n/);
    assert.match(served.cli.stdout, /\[worker 2\] {2}SIGTERM: closing 2 connection\(s\) with 1001\n/);
    assert.match(served.cli.stdout, /\d\d {2}stopped\n$/);
  });

  test("Ctrl-C (SIGINT to the whole process group): the primary stops the workers, 1001 everywhere, exit 0", async () => {
    // Its own process group, as a terminal's foreground job: the signal reaches the primary and the workers.
    const args = ["serve", "--port", "0", "--host", "127.0.0.1", "--workers", "2"];
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await until(() => /echo\s+ws:\/\/127\.0\.0\.1:\d+\//.test(stdout), "the banner", 20_000);
      const port = Number(/echo\s+ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)?.[1]);
      const served = { port, ws: `ws://127.0.0.1:${port}` } as Served;
      const clients = [await openOn(served, 1, "/"), await openOn(served, 2, "/")];
      await untilOpenConnections(served, () => stdout, clients.length);
      process.kill(-(child.pid ?? 0), "SIGINT");
      const closes = await Promise.all(clients.map((c) => c.closed));
      assert.deepEqual(
        closes.map((c) => c.code),
        [1001, 1001],
      );
      assert.equal(await exited, 0, stdout);
      assert.match(stdout, /SIGINT: stopping 2 worker\(s\)/);
      assert.match(stdout, /\[worker 1\] {2}SIGINT: closing 1 connection\(s\) with 1001/);
      assert.match(stdout, /\[worker 2\] {2}SIGINT: closing 1 connection\(s\) with 1001/);
    } finally {
      if (child.exitCode === null) process.kill(-(child.pid ?? 0), "SIGKILL");
    }
  });

  test("a primary killed outright: its workers exit at once (Node's cluster), no process is left", async () => {
    const served = await serve(["--workers", "2"]);
    const clients = [await openOn(served, 1, "/"), await openOn(served, 2, "/")];
    served.cli.kill("SIGKILL");
    // A worker whose IPC channel closes unexpectedly exits at once (node:cluster's child does so): no
    // closing handshake, the clients see the TCP connection go (1006) and reconnect.
    const closes = await Promise.all(clients.map((c) => c.closed));
    assert.deepEqual(
      closes.map((c) => c.code),
      [1006, 1006],
    );
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until(() => clients.every((c) => !alive(c.pid)), "the workers to exit");
  });

  test("--workers auto starts one worker per core (os.availableParallelism())", async () => {
    const served = await serve(["--workers", "auto"]);
    try {
      const cores = availableParallelism();
      // The banner names the count when it is more than one (serve.ts).
      const count = cores > 1 ? ` \\(${cores} worker processes\\)` : "";
      assert.match(
        served.cli.stdout,
        new RegExp(`listening on 127\\.0\\.0\\.1:\\d+${count}\\n`),
        served.cli.transcript(),
      );
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("bad --workers values are usage errors", async () => {
    for (const value of ["0", "-1", "abc", "1.5", "2x", "1025", ""]) {
      const result = await run(["serve", "--port", "0", "--workers", value]);
      assert.equal(result.code, 2, `--workers ${JSON.stringify(value)}: ${result.stderr}`);
      assert.match(result.stderr, /--workers/);
    }
  });

  test("a port in use: the primary cannot listen, says so once and exits 1, with no worker started", async () => {
    const first = await serve();
    try {
      const cli = new Cli(["serve", "--port", String(first.port), "--host", "127.0.0.1", "--workers", "2"]);
      const exit = await cli.exit(20_000);
      assert.equal(exit.code, 1, cli.transcript());
      assert.equal(cli.stderr.match(/already in use/g)?.length, 1, cli.transcript());
      assert.doesNotMatch(cli.stderr, /worker/);
      assert.doesNotMatch(cli.stdout, /listening on/);
    } finally {
      first.cli.kill("SIGTERM");
      await first.cli.exit();
    }
  });
});
