// How many garbage collections an echo server makes under load, and how long its full ones take: runs a
// server script from bench/servers/ under `node --trace-gc` (pinned to CPU 0), drives it with the C load
// generator for 3 s (pinned to CPU 1; 64 connections × 16 in flight), and prints the counts and the rate.
//
//   npm run build && node bench/micro/echo-gc.mjs bench/servers/sockjet-echo.mjs [--size=64k] [NODE_FLAG…]
//
// It needs the load generator, bench/out/loadgen: `gcc -O2 -o bench/out/loadgen bench/loadgen/loadgen.c`
// (`npm run bench` builds it too). Measured with it (64 KiB; single runs swing): sockjet-echo 3–5
// Mark-Compacts in 4 s, `sockjet serve` (more code loaded) 55–92, and sockjet-echo-heap.mjs (app-heap.mjs
// beside it) 23–31.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const loadgen = join(dirname(fileURLToPath(import.meta.url)), "..", "out", "loadgen");
const args = process.argv.slice(2);
const script = args.find((a) => !a.startsWith("--"));
const size = args.find((a) => a.startsWith("--size="))?.slice(7) ?? "64k";
const nodeFlags = args.filter((a) => a.startsWith("--") && !a.startsWith("--size="));
if (script === undefined) {
  console.error("usage: node bench/micro/echo-gc.mjs SERVER_SCRIPT [--size=64k] [NODE_FLAG…]");
  process.exit(2);
}
if (!existsSync(loadgen)) {
  console.error(`no load generator at ${loadgen}: gcc -O2 -o bench/out/loadgen bench/loadgen/loadgen.c`);
  process.exit(2);
}

const server = spawn("taskset", ["-c", "0", process.execPath, "--trace-gc", ...nodeFlags, script, "0"], {
  stdio: ["ignore", "pipe", "inherit"],
});
let output = "";
let started = false;
server.on("error", (error) => {
  console.error(`cannot start the server: ${error.message}`);
  process.exit(1);
});
server.on("exit", (code, signal) => {
  if (started) return;
  console.error(`${script} exited (${signal ?? code}) before it printed LISTENING`);
  process.exit(1);
});
server.stdout.on("data", (chunk) => {
  output += chunk;
  const port = /LISTENING (\d+)/.exec(output)?.[1];
  if (port === undefined || started) return;
  started = true;
  const load = ["-p", port, "-c", "64", "-w", "16", "-s", size, "-d", "3", "-W", "1", "-q"];
  if (script.endsWith("raw-echo.mjs")) load.push("-r"); // plain TCP: no handshake, no frames
  // Asynchronous, so that the server's --trace-gc lines are read while it runs (a full pipe would stall it).
  execFile("taskset", ["-c", "1", loadgen, ...load], { encoding: "utf8" }, (error, result, stderr) => {
    server.once("exit", () => report(error === null ? result : null, stderr));
    server.kill("SIGTERM");
  });
});

function report(result, stderr) {
  if (result === null) {
    console.error(`the load generator failed: ${stderr.trim()}`);
    process.exitCode = 1;
    return;
  }
  const lines = output.split("\n");
  const fullGcs = lines.filter((l) => l.includes("Mark-Compact"));
  const fullMs = fullGcs.reduce((sum, l) => sum + Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0), 0);
  const rate = /msgs_per_s=(\d+)/.exec(result)?.[1];
  console.log(
    `${script}: ${rate} msg/s; ${lines.filter((l) => l.includes("Scavenge")).length} scavenges, ` +
      `${fullGcs.length} Mark-Compacts (${fullMs.toFixed(0)} ms)`,
  );
  if (process.env.SHOW_FULL_GCS) for (const line of fullGcs) console.log(line);
}
