import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { killAll, serve } from "./helpers.js";
import { attempt, open, until } from "./workers-helpers.js";

// A worker of `sockjet serve --workers` killed while clients connect: every connection made in that moment
// opens and echoes, or ends at once (one the dead worker was handed: its client reconnects); none hangs
// (serve-handover.ts). With node:cluster's own round-robin, a connection handed to the worker that had
// just died stayed open in the primary, unanswered, and its client waited in CONNECTING for ever (one in
// four, right after a SIGKILL).

after(killAll);

const ROUNDS = 3;
const CONNECTIONS = 8;
describe("sockjet serve --workers: connections while a worker dies", () => {
  test("connections opened right after a worker's SIGKILL each echo or end at once: none hangs", async () => {
    const served = await serve(["--workers", "2"]);
    const outcomes: string[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const probe = await open(served, "/");
        probe.socket.close();
        await probe.closed;
        process.kill(probe.pid, "SIGKILL");
        // At once, as a dead worker's clients reconnect.
        outcomes.push(
          ...(await Promise.all(
            Array.from({ length: CONNECTIONS }, () => attempt(served, `round ${round}`)),
          )),
        );
        // The next round once the killed worker is back.
        await until(
          () => (served.cli.stderr.match(/restarting it/g) ?? []).length === round,
          `restart ${round}`,
        );
        await until(() => {
          const lines = served.cli.stdout.match(/worker \d \(pid \d+\) listening/g) ?? [];
          return lines.length === round;
        }, `worker back ${round}`);
      }
      assert.equal(outcomes.filter((o) => o === "hung").length, 0, JSON.stringify(outcomes));
      // Most go to the live worker and echo; only those handed to the dead one in its last moment end.
      assert.ok(
        outcomes.filter((o) => o === "echoed").length >= ROUNDS * (CONNECTIONS / 2),
        JSON.stringify(outcomes),
      );
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
