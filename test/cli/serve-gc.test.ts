import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { echoThrough } from "./echo-through.js";
import { killAll, serve } from "./helpers.js";

// `sockjet serve` echoing large messages must not run a Mark-Compact every few dozen messages (V8 counts the
// ArrayBuffers allocated since the last one against a limit sized to a small live heap;
// src/heap/index.ts). The server runs with --trace-gc, and its Mark-Compacts are counted while 400 MB
// go through its echo.

after(killAll);

describe("sockjet serve: large messages and V8's heap limit", () => {
  it("echoes 400 MB of 64 KiB messages with few Mark-Compacts", { timeout: 60_000 }, async () => {
    const served = await serve(["--quiet"], ["--trace-gc"]);
    const before = served.cli.stdout.split("Mark-Compact").length - 1;
    await echoThrough(served.ws);
    const markCompacts = served.cli.stdout.split("Mark-Compact").length - 1 - before;
    // Without the headroom this process ran 66-89 here (one per 5-6 MB of messages); with it, 0-2.
    assert.ok(markCompacts <= 8, `${markCompacts} Mark-Compacts while 400 MB were echoed`);
    served.cli.kill("SIGTERM");
    await served.cli.exit();
  });
});
