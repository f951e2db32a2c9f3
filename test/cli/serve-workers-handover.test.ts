import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import { killAll, serve } from "./helpers.js";
import { open, until } from "./workers-helpers.js";

// A worker of `sockjet serve --workers` killed while clients connect: every connection made in that moment
// opens, on the worker that lives or on the one restarted (serve-handover.ts). With node:cluster's own
// round-robin, a connection handed to the worker that had just died stayed open in the primary, unanswered,
// and its client waited in CONNECTING for ever (one in four, right after a SIGKILL).

after(killAll);

const ROUNDS = 3;
const CONNECTIONS = 8;

describe("sockjet serve --workers: connections while a worker dies", () => {
  test("connections opened right after a worker's SIGKILL all open and echo", async () => {
    const served = await serve(["--workers", "2"]);
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const probe = await open(served, "/");
        probe.socket.close();
        await probe.closed;
        process.kill(probe.pid, "SIGKILL");
        // At once, as a dead worker's clients reconnect: open() fails after 10 s without its 101.
        const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => open(served, "/")));
        for (const client of clients) {
          assert.notEqual(client.pid, probe.pid, "a connection went to the dead worker and opened there?");
          client.socket.send(`round ${round}`);
          const [data] = await once(client.socket, "message");
          assert.equal(String(data), `round ${round}`);
          client.socket.close();
        }
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
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
