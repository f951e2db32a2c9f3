import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { killAll, run, serve } from "./helpers.js";

// `sockjet bench` says why connections failed (the server's status and reason, grouped), and for a 429 how
// to lift serve's per-address limit; before, the summary said only "connection failed N".

after(killAll);

describe("sockjet bench: failed connections", () => {
  test("4 connections against serve --max-connections-per-ip 2: '2 × … HTTP 429 …' on stderr with the --max-connections-per-ip 0 hint", async () => {
    const served = await serve(["--quiet", "--max-connections-per-ip", "2"]);
    try {
      const result = await run(["bench", "-c", "4", "-i", "1", "-d", "0.3", `${served.ws}/`]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stdout, /connection failed\s+2\n/);
      assert.match(
        result.stderr,
        /^sockjet bench: 2 connections failed:\n {2}2 × the server answered HTTP 429 Too Many Requests: Too many connections from this address\n/,
      );
      assert.match(result.stderr, /--max-connections-per-ip 0/);
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
