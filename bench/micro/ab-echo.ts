// A/B of echo servers in one interleaved run (A, B, A, B, …; medians): for judging a change on a shared,
// noisy machine. Each contender is a `node` script path (plus arguments) that prints "LISTENING <port>",
// e.g. the sockjet echo of this tree and of a build of another commit:
//
//   node --import tsx bench/micro/ab-echo.ts --size=64k --reps=3 --seconds=3 [--text] [--no-pin] \
//     bench/servers/sockjet-echo.mjs /tmp/base/bench/servers/sockjet-echo.mjs bench/servers/ws-echo.mjs
//
// A contender with arguments is one quoted argument: "bench/servers/sockjet-echo.mjs --arraybuffer".
// --no-pin: neither the server nor the load generator is pinned to a CPU (a server's own threads, such as
// V8's, then run on other cores, as they do in production).
//
// Prints each run's msg/s, server CPU (and per message) and others' CPU (contended runs are flagged), then
// the medians.
import { readFileSync } from "node:fs";
import {
  choosePinning,
  compileLoadgen,
  formatRate,
  loadgenArgs,
  median,
  parseSize,
  runLoadgen,
  startListening,
} from "../lib.js";

/** The process's minor page faults so far (/proc/PID/stat, field 10). */
function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  const arg = process.argv.slice(2).find((a) => a.startsWith(prefix));
  return arg === undefined ? fallback : arg.slice(prefix.length);
}

const size = parseSize(option("size", "64k"));
const reps = Number(option("reps", "3"));
const seconds = Number(option("seconds", "3"));
const window = Number(option("window", size >= 1024 * 1024 ? "2" : "16"));
const conns = Number(option("conns", "64"));
/** --text: text frames (printable ASCII) instead of binary */
const text = process.argv.includes("--text");
const scripts = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (scripts.length === 0) throw new Error("give the echo server scripts to compare");
const pinning = process.argv.includes("--no-pin") ? { note: "not pinned: --no-pin" } : choosePinning();
const loadgen = compileLoadgen();
const rates = scripts.map((): number[] => []);
// Server CPU µs per echoed message: less disturbed than msg/s by other work on the machine.
const costs = scripts.map((): number[] => []);
for (let rep = 0; rep < reps; rep++) {
  for (const [i, script] of scripts.entries()) {
    const [path, ...args] = script.split(" ").filter((part) => part !== "");
    const isRaw = path.endsWith("raw-echo.mjs");
    const server = await startListening(script, process.execPath, [path, ...args, "0"], {
      cpu: pinning.server,
    });
    const faultsBefore = minorFaults(server.pid);
    const run = await runLoadgen(
      loadgen,
      loadgenArgs({
        port: server.port,
        conns,
        window,
        size,
        duration: seconds,
        warmup: 1,
        raw: isRaw,
        text,
        verify: rep === 0,
        serverPid: server.pid,
      }),
      { cpu: pinning.loadgen, timeoutMs: (seconds + 60) * 1000 },
    );
    const faults = minorFaults(server.pid) - faultsBefore;
    await server.stop();
    if (run.result === undefined) throw new Error(`${script}: load generator failed: ${run.stderr.trim()}`);
    const r = run.result;
    rates[i].push(r.msgsPerS);
    const cost = (r.serverCpu / 100 / r.msgsPerS) * 1e6;
    costs[i].push(cost);
    console.log(
      `rep ${rep + 1} ${script}: ${formatRate(r.msgsPerS)} msg/s, server ${r.serverCpu.toFixed(0)}% CPU ` +
        `(${cost.toFixed(1)} µs per message), ${(faults / (r.msgsPerS * (seconds + 1))).toFixed(2)} page faults ` +
        "per message (warm-up included), " +
        `latency p50/p99/max ${(r.p50Us / 1000).toFixed(1)}/${(r.p99Us / 1000).toFixed(1)}/${(r.maxUs / 1000).toFixed(0)} ms, ` +
        `loadgen ${r.clientCpu.toFixed(0)}%, others ${r.otherCpu.toFixed(0)}%${r.otherCpu >= 20 ? " (contended)" : ""}`,
    );
  }
}
console.log(
  `\nmedians, ${size} B${text ? " text" : ""}, ${conns} × ${window} in flight, ${reps} × ${seconds} s (${pinning.note}):`,
);
const base = median(rates[0]);
const baseCost = median(costs[0]);
for (const [i, script] of scripts.entries()) {
  const m = median(rates[i]);
  const c = median(costs[i]);
  console.log(
    `  ${formatRate(m).padStart(7)} msg/s  ${(m / base).toFixed(2)}× the first; ` +
      `${c.toFixed(1).padStart(6)} server CPU µs per message  ${(c / baseCost).toFixed(2)}× the first  ${script}`,
  );
}
