import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { after, describe, test } from "node:test";
import { killAll, run, serve } from "./helpers.js";
import { openOn, until } from "./workers-helpers.js";

// What keeps the primary of `sockjet serve --workers N` up: a worker whose channel closes while the primary
// hands it a connection (EPIPE, an 'error' on the worker) is logged and restarted, not a crash of the
// primary; and a count of workers far past the cores is refused up front.

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

/** CPU time (ticks) a process has used. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Until a process has used no CPU for a second (booted, and waiting). */
async function idle(pid: number): Promise<void> {
  let last = -1;
  for (let i = 0; i < 60; i++) {
    const now = cpuTicks(pid);
    if (now === last) return;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`process ${pid} never went idle`);
}

describe("sockjet serve --workers: guards", () => {
  test("a worker that dies while the primary answers its listen (EPIPE on its channel): logged, no crash", async () => {
    const served = await serve(["--workers", "2"]);
    const primary = served.cli.process.pid ?? 0;
    try {
      const first = await openOn(served, 1, "/");
      const other = await openOn(served, 2, "/");
      first.socket.close();
      other.socket.close();
      process.kill(first.pid, "SIGKILL");
      await until(
        () => /worker 1 \(pid \d+\) was killed by SIGKILL: restarting it/.test(served.cli.stderr),
        "the restart",
      );
      // Stalled, the primary cannot answer the new worker's listen request: the worker boots, asks, waits…
      process.kill(primary, "SIGSTOP");
      let restarted = 0;
      try {
        await until(() => childrenOf(primary).length === 2, "the new worker");
        restarted = childrenOf(primary).find((pid) => pid !== other.pid) ?? 0;
        await idle(restarted);
        // …and dies before the answer: the primary, resumed, writes it to a closed channel.
        process.kill(restarted, "SIGKILL");
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        process.kill(primary, "SIGCONT");
      }
      // Before: "Emitted 'error' event on Worker instance", and the primary was gone.
      await served.cli.waitFor(/worker 1 \(pid \d+\): write EPIPE/, { stream: "stderr" });
      await until(() => (served.cli.stderr.match(/restarting it/g) ?? []).length === 2, "the second restart");
      const back = await openOn(served, 1, "/");
      back.socket.close();
      served.cli.kill("SIGTERM");
      const exit = await served.cli.exit();
      assert.equal(exit.code, 0, served.cli.transcript());
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
