import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { compileLoadgen, loadgenArgs, runLoadgen, which } from "../../bench/lib.js";
import { commandLineGrowingPercent, growingPercentFor } from "../../src/heap/growing-percent.js";
import { DEFAULT_HEAP_HEADROOM, keepHeapHeadroom } from "../../src/heap/index.js";

const MiB = 1024 * 1024;
const V8_11 = process.versions.v8.startsWith("11.");
const gccMissing = which("gcc") ? false : "gcc not found on PATH: the load generator cannot be built";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const APP_ECHO = fileURLToPath(new URL("./app-echo.ts", import.meta.url));
const WORKER_CALL = new URL("./worker-call.ts", import.meta.url);
const children = new Set<ChildProcess>();

after(() => {
  for (const child of children) child.kill("SIGKILL");
});

const GB = 1024 * MiB;

interface GcCount {
  markCompacts: number;
  gigabytes: number;
}

/**
 * Mark-Compacts of an echo server beside a 20 MB heap (app-echo.ts) while the C load generator keeps 64
 * connections × 16 messages of 64 KiB in flight for 2 s (the benchmark's 64 KiB echo), and the GB echoed.
 */
async function underLoad(loadgen: string, headroom: boolean): Promise<GcCount> {
  const child = spawn(
    process.execPath,
    ["--trace-gc", "--import", "tsx", APP_ECHO, headroom ? "headroom" : "plain"],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.add(child);
  let out = "";
  child.stdout.setEncoding("utf8");
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (chunk: string) => {
        out += chunk;
        const match = /LISTENING (\d+)/.exec(out);
        if (match !== null) resolve(Number(match[1]));
      });
      child.on("exit", (code) =>
        reject(new Error(`app-echo.ts exited with ${code} before listening:\n${out}`)),
      );
    });
    const before = out.split("Mark-Compact").length - 1;
    const args = loadgenArgs({ port, conns: 64, window: 16, size: 64 * 1024, duration: 2, warmup: 0 });
    const run = await runLoadgen(loadgen, args, { timeoutMs: 60_000 });
    assert.ok(
      run.result !== undefined && run.code === 0,
      `load generator failed: ${run.stdout}${run.stderr}`,
    );
    return {
      markCompacts: out.split("Mark-Compact").length - 1 - before,
      gigabytes: (run.result.msgs * 64 * 1024) / GB,
    };
  } finally {
    child.kill("SIGKILL");
    children.delete(child);
  }
}

describe("keepHeapHeadroom()", () => {
  it("asks V8 for a limit of at least the live heap plus the headroom, and leaves larger heaps to V8", () => {
    assert.equal(growingPercentFor(8 * MiB, 64 * MiB), 800);
    assert.equal(growingPercentFor(32 * MiB, 64 * MiB), 200);
    assert.equal(growingPercentFor(48 * MiB, 64 * MiB), 134);
    assert.equal(growingPercentFor(10 * MiB, 128 * MiB), 1280);
    // A heap under 8 MiB counts as 8 MiB: the factor set now is applied to the heap at the next full
    // collection, which may have grown a lot by then (a factor of at most 9 with the default).
    assert.equal(growingPercentFor(0, 64 * MiB), 800);
    assert.equal(growingPercentFor(3 * MiB, 64 * MiB), 800);
    assert.equal(growingPercentFor(64 * MiB, 64 * MiB), 0);
    assert.equal(growingPercentFor(500 * MiB, 64 * MiB), 0);
  });

  it("reads a --heap-growing-percent given to node, to restore it when stopped", () => {
    assert.equal(commandLineGrowingPercent([]), 0);
    assert.equal(commandLineGrowingPercent(["--heap-growing-percent=50"]), 50);
    assert.equal(commandLineGrowingPercent(["--import", "tsx", "--heap_growing_percent", "30"]), 30);
    assert.equal(commandLineGrowingPercent(["--heap-growing-percent=20", "--heap-growing-percent=40"]), 40);
    assert.equal(commandLineGrowingPercent(["--heap-growing-percent=x"]), 0);
  });

  it("turns an echo server's Mark-Compacts under 64 KiB messages, beside an application's heap, into a few", {
    timeout: 180_000,
    skip: gccMissing,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockjet-heap-"));
    let plain: GcCount;
    let kept: GcCount;
    try {
      const loadgen = compileLoadgen(join(dir, "loadgen"));
      plain = await underLoad(loadgen, false);
      kept = await underLoad(loadgen, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const perGb = (count: GcCount) => count.markCompacts / count.gigabytes;
    const said = (count: GcCount) =>
      `${count.markCompacts} Mark-Compacts in ${count.gigabytes.toFixed(2)} GB`;
    // Measured here: 10-17 per GB without (17-24 in 1.4-1.7 GB), 1.6 with (3 in 1.9 GB).
    // The behaviour this works around, measured on V8 11 (Node 20); other versions' heuristics may differ.
    if (V8_11)
      assert.ok(perGb(plain) >= 6, `without headroom: ${said(plain)} (the V8 behaviour it works around)`);
    // "A few": at most 3 per GB, or 3 in all when a loaded machine moves less than a GB (one Mark-Compact in
    // 0.22 GB is not a rate: a CI run beside other load failed on exactly that).
    assert.ok(kept.markCompacts <= Math.max(3, 3 * kept.gigabytes), `with headroom: ${said(kept)}`);
  });

  it("rejects a headroom that is not a number of bytes from 1 MiB to 16 GiB, saying what to pass", () => {
    assert.equal(DEFAULT_HEAP_HEADROOM, 64 * MiB);
    assert.throws(() => keepHeapHeadroom("64mb" as unknown as number), {
      name: "TypeError",
      message: /number of bytes, e\.g\. 128 \* 1024 \* 1024, not a string/,
    });
    assert.throws(() => keepHeapHeadroom(null as unknown as number), TypeError);
    // 64 is MiB meant as bytes: refused, not silently ignored.
    for (const bad of [64, 0, -1, MiB - 1, Number.NaN, Number.POSITIVE_INFINITY, 17 * 1024 * MiB]) {
      assert.throws(() => keepHeapHeadroom(bad), { name: "RangeError", message: /from 1 MiB/ }, String(bad));
    }
    keepHeapHeadroom(MiB)();
  });

  it("refuses to run in a worker thread, whose V8 setting would be the whole process's", async () => {
    // Workers do not inherit tsx's hooks: register them, then load the TypeScript worker.
    const code = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_CALL.href)}); })`;
    const worker = new Worker(code, { eval: true });
    const [outcome] = (await once(worker, "message")) as [string];
    assert.match(outcome, /^Error: keepHeapHeadroom: call it from the main thread/);
  });

  it("returns a stop function per call, of which only the latest one's stops it", () => {
    const first = keepHeapHeadroom(32 * MiB);
    const second = keepHeapHeadroom(48 * MiB);
    assert.notEqual(first, second);
    first();
    second();
    second();
  });
});
