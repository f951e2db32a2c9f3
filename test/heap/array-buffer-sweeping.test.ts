import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { applyHeapSettings } from "../../src/cli/heap-setting.js";
import { commandLineConcurrentSweeping } from "../../src/heap/array-buffer-sweeping.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHILD = fileURLToPath(new URL("./sweep-child.ts", import.meta.url));
const WORKER_CALL = new URL("./worker-call.ts", import.meta.url);

/**
 * Where a child's 2,000,000 ArrayBuffers of 32 B were freed (sweep-child.ts): the CPU ms of its main thread
 * and of its other threads. Measured on 2 cores: V8's background sweeping 940-1,060 ms on other threads (110
 * with every thread on one CPU), in the pause 0-10.
 */
async function sweepCpu(
  mode: "none" | "call" | "call-stop" | "stale-stop" | "cli",
  options: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<{ main: number; others: number }> {
  const { stdout } = await run(
    process.execPath,
    [...(options.nodeFlags ?? []), "--import", "tsx", CHILD, mode],
    { cwd: ROOT, env: { ...process.env, ...options.env }, timeout: 60_000 },
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  assert.equal(result.bytes, 64_000_000);
  return result;
}

/** More than this on other threads: V8 swept there. */
const SWEPT_ELSEWHERE_MS = 60;
/** At most this: V8 swept in the pause (its other threads did next to nothing). */
const SWEPT_IN_PAUSE_MS = 30;

describe("sweepArrayBuffersInPause()", () => {
  it("moves the freeing of dead ArrayBuffers from V8's background threads to the main thread", async () => {
    const plain = await sweepCpu("none");
    const inPause = await sweepCpu("call");
    assert.ok(
      plain.others > SWEPT_ELSEWHERE_MS,
      `without it, V8's other threads should free the buffers: ${JSON.stringify(plain)}`,
    );
    assert.ok(
      inPause.others <= SWEPT_IN_PAUSE_MS,
      `with it, the main thread should free them: ${JSON.stringify(inPause)}`,
    );
  });

  it("gives the freeing back to the background when stopped, unless node was started with it off", async () => {
    const stopped = await sweepCpu("call-stop");
    assert.ok(stopped.others > SWEPT_ELSEWHERE_MS, `stopped: ${JSON.stringify(stopped)}`);
    const offOnCommandLine = await sweepCpu("call-stop", {
      nodeFlags: ["--no-concurrent-array-buffer-sweeping"],
    });
    assert.ok(
      offOnCommandLine.others <= SWEPT_IN_PAUSE_MS,
      `stopped, with --no-concurrent-array-buffer-sweeping given to node: ${JSON.stringify(offOnCommandLine)}`,
    );
  });

  it("is stopped only by the latest call's stop function", async () => {
    const stale = await sweepCpu("stale-stop");
    assert.ok(stale.others <= SWEPT_IN_PAUSE_MS, `an earlier call's stop: ${JSON.stringify(stale)}`);
  });

  it("refuses worker threads with an Error that says to call it from the main thread", async () => {
    const worker = new Worker(
      `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(WORKER_CALL.href)}); })`,
      { eval: true, argv: ["sweepArrayBuffersInPause"] },
    );
    const [message] = (await new Promise((resolve, reject) => {
      worker.once("message", (m) => resolve([m]));
      worker.once("error", reject);
    })) as [string];
    await worker.terminate();
    assert.match(message, /^Error: sweepArrayBuffersInPause: call it from the main thread/);
  });

  it("reads the flag node was started with, the last one given winning", () => {
    assert.equal(commandLineConcurrentSweeping([]), undefined);
    assert.equal(commandLineConcurrentSweeping(["--no-concurrent-array-buffer-sweeping"]), false);
    assert.equal(commandLineConcurrentSweeping(["--concurrent_array_buffer_sweeping"]), true);
    assert.equal(
      commandLineConcurrentSweeping([
        "--concurrent-array-buffer-sweeping",
        "--max-old-space-size=64",
        "--no_concurrent_array_buffer_sweeping",
      ]),
      false,
    );
    assert.equal(commandLineConcurrentSweeping(["--concurrent-array-buffer-sweeping-x"]), undefined);
  });
});

describe("the sockjet command's SOCKJET_ARRAYBUFFER_SWEEPING", () => {
  it("sweeps in the pause by default, and leaves V8's rule with =concurrent or node's own flag", async () => {
    const byDefault = await sweepCpu("cli");
    assert.ok(byDefault.others <= SWEPT_IN_PAUSE_MS, `default: ${JSON.stringify(byDefault)}`);
    const concurrent = await sweepCpu("cli", { env: { SOCKJET_ARRAYBUFFER_SWEEPING: "concurrent" } });
    assert.ok(concurrent.others > SWEPT_ELSEWHERE_MS, `=concurrent: ${JSON.stringify(concurrent)}`);
    const nodeFlag = await sweepCpu("cli", { nodeFlags: ["--concurrent-array-buffer-sweeping"] });
    assert.ok(
      nodeFlag.others > SWEPT_ELSEWHERE_MS,
      `node --concurrent-array-buffer-sweeping: ${JSON.stringify(nodeFlag)}`,
    );
  });

  it("rejects any other value with a message that names both", () => {
    const problem = applyHeapSettings({ SOCKJET_ARRAYBUFFER_SWEEPING: "off" }, []);
    assert.match(
      problem ?? "",
      /SOCKJET_ARRAYBUFFER_SWEEPING must be "pause" .* or "concurrent" .*; got "off"/,
    );
  });
});
