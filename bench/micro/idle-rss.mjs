// The benchmark's idle-memory figure alone, for quick before/after checks: starts the raw TCP and the sockjet
// echo servers (bench/servers/, the built package) in turn, as bench/echo.ts runIdle does (100 connections
// first, then N idle ones held by the C load generator, RSS read from /proc before and after), and prints the
// RSS per connection of each and the difference, per repetition and as medians.
//
//   npm run build && node bench/micro/idle-rss.mjs [connections=10000] [repetitions=3] [warm-up=100]
//
// The benchmark warms up with 100 connections: the 10,000 then also pay for what the process grows once (V8's
// young generation, optimized code, malloc arenas). A larger warm-up (e.g. 3000, opened and closed first)
// leaves closer to the steady cost of one more idle connection.
//
// bench/out/loadgen is built by `npm run bench` (or bench/lib.ts).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";

const N = Number(process.argv[2] ?? 10_000);
const reps = Number(process.argv[3] ?? 3);
const warm = Number(process.argv[4] ?? 100);
const loadgen = new URL("../out/loadgen", import.meta.url).pathname;
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: run npm run bench once (it builds it)`);
const servers = { raw: "raw-echo.mjs", sockjet: "sockjet-echo.mjs" };

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
    await sleep(1000);
    const after = rssKiB(server.pid);
    await stop();
    return ((after - before) * 1024) / N;
  } finally {
    server.kill();
  }
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
