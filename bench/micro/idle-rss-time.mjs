// Idle memory over time: for the raw TCP, sockjet and ws echo servers (bench/servers/, sockjet from dist/) in
// turn, opens N idle connections with the C load generator (after a warm-up, as bench/echo.ts runIdle does)
// and prints the RSS growth per connection 1, 3, 6, 10, 15, 20 and 30 s after they opened. It shows when V8's
// memory reducer gives back what the connection storm grew (run a server with `node --trace-gc` to see its
// "Mark-Compact (reduce)"), which is why `npm run bench` also reads idle memory once settled (SETTLE_S).
//
//   npm run build && node bench/micro/idle-rss-time.mjs [connections=10000] [warm-up=100]
//
// bench/out/loadgen is built by `npm run bench` (or bench/lib.ts).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";

const N = Number(process.argv[2] ?? 10_000);
const warm = Number(process.argv[3] ?? 100);
const loadgen = new URL("../out/loadgen", import.meta.url).pathname;
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: run npm run bench once (it builds it)`);
const servers = { raw: "raw-echo.mjs", sockjet: "sockjet-echo.mjs", ws: "ws-echo.mjs" };

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
    const line = [];
    let t = 0;
    for (const at of [1, 3, 6, 10, 15, 20, 30]) {
      await sleep((at - t) * 1000);
      t = at;
      line.push(`${at}s ${(((rssKiB(server.pid) - before) * 1024) / N).toFixed(0)}`);
    }
    console.log(name, line.join("  "));
    await stop();
  } finally {
    server.kill();
  }
}
for (const name of ["raw", "sockjet", "ws"]) await measure(name);
