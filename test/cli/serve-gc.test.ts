import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import WS from "ws";
import { growingPercentFor } from "../../src/cli/heap-headroom.js";
import { killAll, serve } from "./helpers.js";

// `sockjet serve` echoing large messages must not run a Mark-Compact every few dozen messages (V8 counts the
// ArrayBuffers allocated since the last one against a limit sized to a small live heap;
// src/cli/heap-headroom.ts). The server runs with --trace-gc, and its Mark-Compacts are counted while 400 MB
// go through its echo.

after(killAll);

const MESSAGE = 64 * 1024;
const MESSAGES = 6400;
const CONNECTIONS = 8;
const IN_FLIGHT = 4;

/** Echoes MESSAGES binary messages of MESSAGE bytes over CONNECTIONS sockets, IN_FLIGHT each at a time. */
async function echoThrough(url: string): Promise<void> {
  const payload = Buffer.alloc(MESSAGE, 0x5a);
  let sent = 0;
  await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<void>((resolve, reject) => {
          const ws = new WS(url);
          let pending = 0;
          const sendOne = () => {
            if (sent >= MESSAGES) return false;
            sent++;
            pending++;
            ws.send(payload);
            return true;
          };
          ws.on("open", () => {
            for (let i = 0; i < IN_FLIGHT; i++) sendOne();
          });
          ws.on("message", (data: Buffer) => {
            pending--;
            if (data.length !== MESSAGE) reject(new Error(`echo of ${data.length} bytes`));
            if (!sendOne() && pending === 0) ws.close();
          });
          ws.on("close", () => resolve());
          ws.on("error", reject);
        }),
    ),
  );
  assert.equal(sent, MESSAGES);
}

describe("sockjet serve: large messages and V8's heap limit", () => {
  it("echoes 400 MB of 64 KiB messages with few Mark-Compacts", { timeout: 60_000 }, async () => {
    const served = await serve(["--quiet"], ["--trace-gc"]);
    const before = served.cli.stdout.split("Mark-Compact").length - 1;
    await echoThrough(served.ws);
    const markCompacts = served.cli.stdout.split("Mark-Compact").length - 1 - before;
    // Without the headroom this process ran 60-80 here (one per 5-7 MB of messages); with it, 0-2.
    assert.ok(markCompacts <= 8, `${markCompacts} Mark-Compacts while 400 MB were echoed`);
    served.cli.kill("SIGTERM");
    await served.cli.exit();
  });

  it("asks for HEADROOM (64 MiB) above a live heap smaller than that, and leaves larger heaps to V8", () => {
    const MiB = 1024 * 1024;
    assert.equal(growingPercentFor(8 * MiB), 800);
    assert.equal(growingPercentFor(32 * MiB), 200);
    assert.equal(growingPercentFor(48 * MiB), 134);
    // A heap under 1 MiB is taken as 1 MiB: a factor of 65, not an unbounded one.
    assert.equal(growingPercentFor(0), 6400);
    assert.equal(growingPercentFor(64 * MiB), 0);
    assert.equal(growingPercentFor(500 * MiB), 0);
  });
});
