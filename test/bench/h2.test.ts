// Smoke test of the h2 part of the benchmark (bench/h2.ts): sockjet's client against the h2 echo server, over
// one HTTP/2 session and over HTTP/1.1 + TLS, in short runs: echoes arrive (length and order checked by the
// driver), idle sockets are counted, and the tables show figures. Skipped without openssl or the built
// package (dist/).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type H2Context, type H2Record, h2Tables, runH2Job } from "../../bench/h2.js";
import { repoRoot, which } from "../../bench/lib.js";

const skip = !which("openssl")
  ? "openssl not found: no certificate for the TLS server"
  : existsSync(join(repoRoot, "dist", "index.js"))
    ? false
    : "dist/ is not built (npm run build): the h2 bench loads the built package";

describe("h2 benchmark", { skip }, () => {
  const ctx: H2Context = { duration: 0.4, warmup: 0.3, idleSockets: 40 };
  const records: H2Record[] = [];

  for (const transport of ["h2", "http1"] as const) {
    test(`echo over ${transport}: messages come back`, { timeout: 60_000 }, async () => {
      const record = await runH2Job({ part: "h2", task: "echo", transport, size: 1024, rep: 0 }, ctx);
      records.push(record);
      assert.equal(record.error, undefined);
      assert.ok((record.result?.msgs ?? 0) > 0, "no echo counted");
    });

    test(`idle over ${transport}: every socket stays open`, { timeout: 60_000 }, async () => {
      const record = await runH2Job({ part: "h2", task: "idle", transport, size: 0, rep: 0 }, ctx);
      records.push(record);
      assert.equal(record.error, undefined);
      assert.equal(record.result?.open, ctx.idleSockets);
    });
  }

  test("the tables show both transports", () => {
    const tables = h2Tables(records, ctx.idleSockets);
    assert.match(tables.echo, /\| 1 KiB \| \d/);
    assert.match(tables.idle, /HTTP\/2 \(one session\) \| -?\d/);
    assert.match(tables.idle, /HTTP\/1\.1 \+ TLS/);
  });
});
