import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { after, describe, test } from "node:test";
import { killAll, run, serve } from "./helpers.js";
import { attempt, openOn, until } from "./workers-helpers.js";

// What keeps the primary of `sockjet serve --workers N` up: a worker whose channel closes while the primary
// hands it connections is restarted, and those connections go to another worker or are closed, never a
// hang nor a crash of the primary; and a count of workers far past the cores is refused up front.

after(killAll);

function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .trim()
      .split(/\s+/)
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether a process is gone (or a zombie: its parent, stopped, has not reaped it). */
function dead(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");
  } catch {
    return true;
  }
}

describe("sockjet serve --workers: guards", () => {
  test("a worker that dies while the primary is stalled: the connections that queued meanwhile echo or end, none hangs, no crash", async () => {
    const served = await serve(["--workers", "2"]);
    const primary = served.cli.process.pid ?? 0;
    try {
      const first = await openOn(served, 1, "/");
      const other = await openOn(served, 2, "/");
      first.socket.close();
      other.socket.close();
      // Stalled, the primary learns of the death only after the connections below wait in its backlog:
      // it may deal some to the dead worker (a write on its closed channel fails: that one goes to the
      // live worker; one queued behind it is closed when the primary sees the exit).
      process.kill(primary, "SIGSTOP");
      let attempts: Promise<string>[] = [];
      try {
        process.kill(first.pid, "SIGKILL");
        await until(() => dead(first.pid), "the worker's death");
        attempts = Array.from({ length: 6 }, (_, i) => attempt(served, `queued ${i}`));
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        process.kill(primary, "SIGCONT");
      }
      // Each opens on the live worker, or (dealt to the dead one before the primary saw it die) ends at once.
      const outcomes = await Promise.all(attempts);
      assert.ok(!outcomes.includes("hung"), JSON.stringify(outcomes));
      assert.ok(outcomes.includes("echoed"), JSON.stringify(outcomes));
      await until(
        () => /worker 1 \(pid \d+\) was killed by SIGKILL: restarting it/.test(served.cli.stderr),
        "the restart",
      );
      await served.cli.waitFor(/worker 1 \(pid \d+\) listening/);
      const back = await openOn(served, 1, "/");
      back.socket.close();
      served.cli.kill("SIGTERM");
      const exit = await served.cli.exit();
      assert.equal(exit.code, 0, served.cli.transcript());
      assert.equal(childrenOf(primary).length, 0);
    } finally {
      served.cli.kill("SIGKILL");
    }
  });

  test(`more than 16 workers per core are refused (${16 * availableParallelism()} here)`, async () => {
    const result = await run(["serve", "--port", "0", "--workers", String(16 * availableParallelism() + 1)]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `--workers.*expected 1 to ${16 * availableParallelism()} processes \\(16 per core of this machine\\)`,
      ),
    );
  });
});
