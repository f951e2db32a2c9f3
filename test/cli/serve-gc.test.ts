import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { WebSocket } from "../../src/index.js";
import { echoThrough } from "./echo-through.js";
import { Cli, killAll, serve } from "./helpers.js";

// `sockjet serve` echoing large messages must not run a Mark-Compact every few dozen messages (V8 counts the
// ArrayBuffers allocated since the last one against a limit sized to a small live heap;
// src/heap/index.ts). The server runs with --trace-gc, and its Mark-Compacts are counted while 400 MB
// go through its echo.

after(killAll);

/** Mark-Compacts of `sockjet serve` (run with --trace-gc) while 400 MB of 64 KiB messages go through its echo. */
async function markCompactsOfServe(env: Record<string, string> = {}): Promise<number> {
  const served = await serve(["--quiet"], ["--trace-gc"], env);
  const before = served.cli.stdout.split("Mark-Compact").length - 1;
  await echoThrough(served.ws);
  const markCompacts = served.cli.stdout.split("Mark-Compact").length - 1 - before;
  served.cli.kill("SIGTERM");
  await served.cli.exit();
  return markCompacts;
}

describe("sockjet serve: large messages and V8's heap limit", () => {
  it("echoes 400 MB of 64 KiB messages with few Mark-Compacts", { timeout: 60_000 }, async () => {
    const markCompacts = await markCompactsOfServe();
    // Without the headroom this process ran 66-89 here (one per 5-6 MB of messages); with it, 0-2.
    assert.ok(markCompacts <= 8, `${markCompacts} Mark-Compacts while 400 MB were echoed`);
  });

  // V8 11's (Node 20's) behaviour, which the headroom works around; other versions' heuristics may differ.
  const v8Skip = process.versions.v8.startsWith("11.")
    ? false
    : `measured on V8 11; this is ${process.versions.v8}`;
  it("leaves V8's own rule with SOCKJET_HEAP_HEADROOM=0", { timeout: 60_000, skip: v8Skip }, async () => {
    const markCompacts = await markCompactsOfServe({ SOCKJET_HEAP_HEADROOM: "0" });
    assert.ok(markCompacts >= 20, `${markCompacts} Mark-Compacts while 400 MB were echoed`);
  });

  it("refuses a SOCKJET_HEAP_HEADROOM that is not a number of bytes, and says what it takes", async () => {
    for (const value of ["64", "64mb", "-1"]) {
      const cli = new Cli(["serve", "--port", "0"], { SOCKJET_HEAP_HEADROOM: value });
      const exit = await cli.exit();
      assert.equal(exit.code, 2, value);
      assert.match(
        cli.stderr,
        /SOCKJET_HEAP_HEADROOM must be a number of bytes from 1048576 \(1 MiB\).*or 0/,
      );
      assert.equal(cli.stdout, "");
    }
  });
});

describe("sockjet: SOCKJET_ARRAYBUFFER_SWEEPING", () => {
  it("refuses a value other than pause or concurrent, and says which it takes", async () => {
    for (const value of ["off", "PAUSE", "1"]) {
      const cli = new Cli(["serve", "--port", "0"], { SOCKJET_ARRAYBUFFER_SWEEPING: value });
      const exit = await cli.exit();
      assert.equal(exit.code, 2, value);
      assert.match(cli.stderr, /SOCKJET_ARRAYBUFFER_SWEEPING must be "pause" .* or "concurrent"/);
      assert.equal(cli.stdout, "");
    }
  });

  it("accepts pause and concurrent: serve starts and echoes", { timeout: 30_000 }, async () => {
    for (const value of ["pause", "concurrent"]) {
      const served = await serve(["--quiet"], [], { SOCKJET_ARRAYBUFFER_SWEEPING: value });
      const socket = new WebSocket(served.ws);
      const echoed = new Promise<string>((resolve, reject) => {
        socket.onopen = () => socket.send(`hello with ${value}`);
        socket.onmessage = (event) => resolve(String(event.data));
        socket.onerror = () => reject(new Error(`the echo failed with ${value}`));
      });
      assert.equal(await echoed, `hello with ${value}`);
      socket.close();
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
