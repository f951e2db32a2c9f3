// The cost of resume positions on live fan-out, per delivery (issue 19): the server's CPU time per delivered
// message, plain subscribers against sockjet.resume.1 subscribers. It runs in rounds: each round runs every
// mode once (a fresh server and receivers, `--runs` measured runs after a warm-up), in an order rotated by one
// each round; the "paired" line is the median over rounds of each mode's figure ÷ the first mode's in the
// same round. Its server is a standalone process that exits cleanly, so that `--profile` gets its V8 CPU
// profile. The receivers are bench/fanout-roles.ts's (raw TCP clients that count frames); the server
// publishes in a loop, `--burst` publishes per event-loop turn. An A/A run (--modes=plain,plain) shows this
// machine's noise: at 3 rounds ±10% between identical builds; use 8 or more rounds for a few percent.
//
//   npm run build && node bench/micro/resume-fanout-cpu.mjs [--subscribers=1000] [--size=32] [--burst=16]
//       [--messages=3000] [--runs=3] [--rounds=3] [--modes=plain,resume] [--pin=0,1] [--profile]
//
// A mode is "plain", "resume" or "resume:N" (resume subscribers, the store keeping N messages per topic
// instead of 1000), optionally with "@DIR": the build to run (default dist/), so that two builds are compared
// in one run, e.g. --modes=resume@/tmp/dist-before,resume.
//
// SJ_FRESH=1 in the environment: each publish is a new ArrayBuffer (as a publishing client's messages are,
// bench/fanout.ts's client publisher) instead of one Buffer for all (1 KiB, burst 16, 5 rounds: 1.05×).
//
// Prints, per mode, the median of the runs: server CPU µs per delivery (process.cpuUsage(), user + system,
// from the first publish until every subscriber's bytes were handed to the kernel) and deliveries per second
// (until the receivers counted them all). --profile writes bench/out/profiles/resume-fanout-<mode>.cpuprofile.

import { fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const thisFile = fileURLToPath(import.meta.url);
const benchDir = join(dirname(thisFile), "..");
const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=");
    return [key, value ?? "true"];
  }),
);
const subscribers = Number(args.subscribers ?? 1000);
const size = Number(args.size ?? 32);
const burst = Number(args.burst ?? 16);
const messages = Number(args.messages ?? 3000);
const runs = Number(args.runs ?? 3);
const modes = (args.modes ?? "plain,resume").split(",");
const pin = args.pin?.split(",").map(Number);

// ---- server role -------------------------------------------------------------------------------------------

async function serverRole(mode, dist) {
  const { WebSocketServer } = await import(pathToFileURL(join(dist, "index.js")).href);
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    pingIntervalMs: 0,
    maxConnections: 100_000,
    maxBufferedBytes: 1 << 30,
    // "resume:N": a store that keeps N messages per topic (default 1000), to see what keeping costs
    resume: mode.startsWith("resume")
      ? mode.includes(":")
        ? { maxMessagesPerTopic: Number(mode.split(":")[1]) }
        : {}
      : null,
  });
  server.on("connection", (socket) => socket.subscribe("bench"));
  await once(server, "listening");
  const buffered = () => {
    let total = 0;
    for (const client of server.clients) total += client.bufferedAmount;
    return total;
  };
  process.send({ type: "listening", port: server.address().port });
  process.on("message", async (command) => {
    if (command.cmd === "exit") {
      await server.close();
      process.exit(0);
    }
    const payload = Buffer.alloc(command.size, 0x61);
    const limit = 64 * 1024 * subscribers;
    const cpu0 = process.cpuUsage();
    const delivered0 = server.pubsubStats.delivered;
    for (let sent = 0; sent < command.count; ) {
      const n = Math.min(command.burst, command.count - sent);
      // SJ_FRESH=1: a new ArrayBuffer per publish, as a publishing client's messages are.
      if (process.env.SJ_FRESH)
        for (let i = 0; i < n; i++) server.publish("bench", new Uint8Array(payload).buffer);
      else for (let i = 0; i < n; i++) server.publish("bench", payload);
      sent += n;
      await new Promise((resolve) => setImmediate(resolve));
      while (buffered() > limit) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Drained: polled every 20 ms, since a poll reads 1,000 sockets' bufferedAmount (with a 1 ms poll, a
    // case whose receivers lag spent more on polling than on delivering).
    for (let waited = 0; buffered() > 0 && waited < 3000; waited++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const cpu = process.cpuUsage(cpu0);
    process.send({
      type: "published",
      cpuMicros: cpu.user + cpu.system,
      systemMicros: cpu.system,
      delivered: server.pubsubStats.delivered - delivered0,
    });
  });
}

// ---- orchestration -----------------------------------------------------------------------------------------

function start(file, execArgv, argv, cpu) {
  const stdio = ["ignore", "inherit", "inherit", "ipc"];
  if (cpu === undefined) return fork(file, argv, { execArgv, stdio });
  return spawn("taskset", ["-c", String(cpu), process.execPath, ...execArgv, file, ...argv], { stdio });
}

function next(proc, type, command) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${type}'`)), 120_000);
    const onMessage = (message) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      proc.off("message", onMessage);
      resolve(message);
    };
    proc.on("message", onMessage);
    if (command !== undefined) proc.send(command);
  });
}

async function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.send({ cmd: "exit" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function oneMode(mode) {
  const execArgv = [];
  if (args.profile === "true") {
    const dir = join(benchDir, "out", "profiles");
    mkdirSync(dir, { recursive: true });
    const name = mode.replace(/[^a-z0-9]+/gi, "-");
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=resume-fanout-${name}.cpuprofile`);
  }
  const [kind, dist = join(benchDir, "..", "dist")] = mode.split("@");
  const server = start(thisFile, execArgv, ["--role=server", `--mode=${kind}`, `--dist=${dist}`], pin?.[0]);
  let receivers;
  try {
    const { port } = await next(server, "listening");
    receivers = start(
      join(benchDir, "fanout.ts"),
      ["--import", "tsx"],
      [
        "--role=receivers",
        `--port=${port}`,
        `--count=${subscribers}`,
        ...(kind.startsWith("resume") ? ["--resume"] : []),
      ],
      pin?.[1],
    );
    await next(receivers, "connected");
    const result = { mode, cpuPerDelivery: [], systemPerDelivery: [], rate: [] };
    let base = 0;
    // Run 0 warms up (the JIT); its figures are dropped.
    for (let run = 0; run <= runs; run++) {
      const count = run === 0 ? Math.max(10, Math.round(messages / 3)) : messages;
      const started = performance.now();
      const published = await next(server, "published", { cmd: "publish", size, count, burst });
      const target = base + count * subscribers;
      for (;;) {
        const { total } = await next(receivers, "count", { cmd: "count" });
        if (total >= target) break;
        if (performance.now() - started > 120_000) throw new Error(`only ${total - base} delivered`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const ms = performance.now() - started;
      base = target;
      if (published.delivered !== count * subscribers)
        throw new Error(`${published.delivered} deliveries, expected ${count * subscribers}`);
      if (run === 0) continue;
      result.cpuPerDelivery.push(published.cpuMicros / published.delivered);
      result.systemPerDelivery.push(published.systemMicros / published.delivered);
      result.rate.push((count * subscribers) / (ms / 1000));
    }
    return result;
  } finally {
    await Promise.all([server, receivers].filter(Boolean).map(stop));
  }
}

async function main() {
  if (args.role === "server") return serverRole(args.mode, args.dist);
  console.log(
    `resume fan-out cost: ${subscribers} subscribers, ${size} B, burst ${burst}, ${messages} publishes, ` +
      `${runs} runs per mode, modes in rounds (order rotated each round)`,
  );
  const byMode = new Map(modes.map((mode) => [mode, { cpu: [], system: [], rate: [] }]));
  const rounds = args.profile === "true" ? 1 : Number(args.rounds ?? 3);
  for (let round = 0; round < rounds; round++) {
    // Rotated by one each round, so that no mode always goes first (each gets a fresh server either way).
    const k = round % modes.length;
    for (const mode of [...modes.slice(k), ...modes.slice(0, k)]) {
      const result = await oneMode(mode);
      const cpu = median(result.cpuPerDelivery);
      const rate = median(result.rate);
      const system = median(result.systemPerDelivery);
      byMode.get(mode).system.push(system);
      byMode.get(mode).cpu.push(cpu);
      byMode.get(mode).rate.push(rate);
      console.log(
        `  round ${round + 1} ${mode.padEnd(12)} ${cpu.toFixed(3)} µs CPU/delivery (system ${system.toFixed(3)})  ${(rate / 1e6).toFixed(2)} M deliveries/s`,
      );
    }
  }
  // Each round's ratio to the first mode's figure of the same round (neighbours in time share the machine's
  // state): the median of these is steadier than the ratio of the medians.
  const [first] = modes;
  for (const mode of modes.slice(1)) {
    const ratios = byMode.get(mode).cpu.map((cpu, round) => cpu / byMode.get(first).cpu[round]);
    console.log(
      `paired ${mode} ÷ ${first}: CPU per delivery ${median(ratios).toFixed(3)}× (rounds: ${ratios.map((r) => r.toFixed(2)).join(" ")})`,
    );
  }
  for (const [mode, { cpu, system, rate }] of byMode)
    console.log(
      `median ${mode.padEnd(12)} ${median(cpu).toFixed(3)} µs CPU/delivery (system ${median(system).toFixed(3)})  ${(median(rate) / 1e6).toFixed(2)} M deliveries/s`,
    );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
