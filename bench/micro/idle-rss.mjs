// The benchmark's idle-memory figure alone, for quick before/after checks: starts the raw TCP and the sockjet
// echo servers (bench/servers/, the built package) in turn, as bench/echo.ts runIdle does (100 connections
// first, then N idle ones held by the C load generator, RSS read from /proc before and after), and prints the
// RSS per connection of each and the difference, per repetition and as medians.
//
//   npm run build && node bench/micro/idle-rss.mjs [connections=10000] [repetitions=3] [warm-up=100]
//   npm run build && node bench/micro/idle-rss.mjs --over-time [connections=10000]
//
// --over-time: for the raw TCP, sockjet and ws servers in turn, the RSS growth per connection 1, 3, 6, 10, 15,
// 20 and 30 s after the connections opened: when V8's memory reducer gives back what the connection storm grew
// (`node --trace-gc` shows its "Mark-Compact (reduce)"), which is why `npm run bench` also reads idle memory
// once settled (bench/echo.ts SETTLE_S).
//
// The benchmark warms up with 100 connections: the 10,000 then also pay for what the process grows once (V8's
// young generation, optimized code, malloc arenas). A larger warm-up (e.g. 3000, opened and closed first)
// leaves closer to the steady cost of one more idle connection.
//
// bench/out/loadgen is built by `npm run bench` (or bench/lib.ts).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";

const overTime = process.argv.includes("--over-time");
const numbers = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const N = Number(numbers[0] ?? 10_000);
const reps = Number(numbers[1] ?? 3);
const warm = Number(numbers[2] ?? 100);
const loadgen = new URL("../out/loadgen", import.meta.url).pathname;
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: run npm run bench once (it builds it)`);
const servers = { raw: "raw-echo.mjs", sockjet: "sockjet-echo.mjs", ws: "ws-echo.mjs" };
const OVER_TIME_S = [1, 3, 6, 10, 15, 20, 30];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);

async function hold(port, raw, conns) {
  const args = ["-p", String(port), "-c", String(conns), "-I", "120", "-q"];
  if (raw) args.push("-r");
  const idle = spawn(loadgen, args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    idle.stdout.on("data", (d) => String(d).includes("READY") && resolve());
    idle.on("exit", () => reject(new Error("the load generator exited before READY")));
  });
  return async () => {
    idle.kill();
    await once(idle, "exit").catch(() => {});
  };
}

async function measure(name) {
  const script = new URL(`../servers/${servers[name]}`, import.meta.url).pathname;
  const server = spawn(process.execPath, [script, "0"], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise((resolve, reject) => {
      server.stdout.on("data", (d) => {
        const m = /LISTENING (\d+)/.exec(String(d));
        if (m) resolve(Number(m[1]));
      });
      server.on("exit", () => reject(new Error(`${name} server exited`)));
    });
    await (await hold(port, name === "raw", warm))();
    await sleep(1000);
    const before = rssKiB(server.pid);
    const stop = await hold(port, name === "raw", N);
    const perConnection = () => ((rssKiB(server.pid) - before) * 1024) / N;
    if (overTime) {
      const readings = [];
      let elapsed = 0;
      for (const at of OVER_TIME_S) {
        await sleep((at - elapsed) * 1000);
        elapsed = at;
        readings.push(`${at} s ${perConnection().toFixed(0)} B`);
      }
      console.log(`${name.padEnd(8)} ${readings.join("  ")}`);
      await stop();
      return Number.NaN;
    }
    await sleep(1000);
    const after = perConnection();
    await stop();
    return after;
  } finally {
    server.kill();
  }
}

if (overTime) {
  console.log(`RSS growth per connection after ${N} idle connections opened (warm-up ${warm}):`);
  for (const name of ["raw", "sockjet", "ws"]) await measure(name);
  process.exit(0);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = { raw: [], sockjet: [] };
for (let rep = 0; rep < reps; rep++) {
  for (const name of ["raw", "sockjet"]) results[name].push(await measure(name));
  const [raw, sockjet] = [results.raw[rep], results.sockjet[rep]];
  console.log(
    `run ${rep + 1}: raw ${raw.toFixed(0)} B, sockjet ${sockjet.toFixed(0)} B per connection: raw + ${(sockjet - raw).toFixed(0)} B`,
  );
}
const [raw, sockjet] = [median(results.raw), median(results.sockjet)];
console.log(
  `median of ${reps}, ${N} idle connections after ${warm} warm-up ones: raw ${raw.toFixed(0)} B, sockjet ${sockjet.toFixed(0)} B: raw + ${(sockjet - raw).toFixed(0)} B (${((sockjet - raw) / 1024).toFixed(2)} KiB)`,
);
