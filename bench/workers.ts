// `sockjet serve --workers N`: how the CLI server scales from one process to several on one port (issue 17
// "Also", issue 19). For each worker count, a fresh `sockjet serve --workers N` (built package, dist/;
// --quiet --no-deflate, no rate limits) is measured twice:
// - echo: the C load generator, 64 connections × 16 messages in flight, 32 B binary, on "/" (the primary
//   hands the connections round-robin to the workers);
// - fan-out: the chat room on "/chat": SUBSCRIBERS members spread over the workers (each from its own
//   loopback address, as the room limits members per address) and one publisher that sends chat messages
//   in windows, paced by the slowest member; delivered messages per second. Across workers every message
//   goes through the primary's relay (ClusterAdapter).
// The figure that matters is the ratio N workers / 1 worker. Nothing is pinned: the workers are meant to
// use every core, and the load generator and the members share them (on a 2-core machine that caps the
// scaling well below 2×: read the CPU count next to the figures).
//
//   npm run build && node --import tsx bench/workers.ts [--workers=1,2] [--runs=1] [--duration=3]
//                                                        [--subscribers=100] [--messages=2000]

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import {
  compileLoadgen,
  defaultOutDir,
  formatRate,
  loadgenArgs,
  median,
  repoRoot,
  runLoadgen,
} from "./lib.js";

export interface WorkersBenchOptions {
  /** The load generator binary (compileLoadgen()). */
  loadgen: string;
  workers: number[];
  runs: number;
  /** Echo: measured seconds and warm-up per run. */
  duration: number;
  warmup: number;
  subscribers: number;
  /** Fan-out: messages the publisher sends per run. */
  messages: number;
  log: (line: string) => void;
}

export interface WorkersResult {
  workers: number;
  /** Echo messages per second, one per run. */
  echo: number[];
  /** Fan-out deliveries per second, one per run. */
  fanout: number[];
  error?: string;
}

interface Serve {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** `sockjet serve --workers N` from dist/, on a free port. */
async function startServe(workers: number): Promise<Serve> {
  const args = [join(repoRoot, "dist", "cli", "main.js"), "serve", "--port", "0", "--host", "127.0.0.1"];
  args.push("--quiet", "--no-deflate", "--rate-limit", "0", "--byte-rate", "0", "--chat-rate", "0");
  args.push("--max-connections-per-ip", "0", "--workers", String(workers));
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve --workers ${workers} did not start`)), 30_000);
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const match = /echo\s+ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve --workers ${workers} exited with ${code}: ${stderr.trim()}`));
    });
  });
  return {
    child,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function echoRun(o: WorkersBenchOptions, port: number): Promise<number> {
  const args = loadgenArgs({ port, conns: 64, window: 16, size: 32, duration: o.duration, warmup: o.warmup });
  const run = await runLoadgen(o.loadgen, args, { timeoutMs: (o.duration + o.warmup + 30) * 1000 });
  if (!run.result || run.result.errors > 0)
    throw new Error(`echo: load generator failed: ${run.stderr.trim().split("\n").at(-1) ?? run.code}`);
  return run.result.msgsPerS;
}

/** A chat member counting the chat messages it receives. */
interface Member {
  socket: WebSocket;
  received: number;
}

/**
 * Waits, without polling (the bench shares the cores with the workers), until every member has received
 * `goal` messages: each member counts itself in once when it gets there.
 */
class Progress {
  private goal = 0;
  private reached = 0;
  private wake: (() => void) | null = null;
  constructor(readonly members: Member[]) {}

  received(m: Member): void {
    if (m.received !== this.goal) return;
    if (++this.reached === this.members.length) this.wake?.();
  }

  until(goal: number, deadline: number): Promise<void> {
    this.goal = goal;
    this.reached = this.members.filter((m) => m.received >= goal).length;
    if (this.reached === this.members.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("fan-out: the members stopped receiving")),
        Math.max(0, deadline - Date.now()),
      );
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

async function member(
  port: number,
  name: string,
  localAddress: string,
  progress: Progress | null,
): Promise<Member> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/chat?name=${name}`, ["chat"], { localAddress });
  const m: Member = { socket, received: 0 };
  let welcomed: () => void = () => {};
  const welcome = new Promise<void>((resolve) => (welcomed = resolve));
  socket.on("message", (data: Buffer) => {
    // {"type":"message",…}: a chat message; anything else is a notice or the welcome.
    if (data[9] === 0x6d && data.subarray(0, 17).toString() === '{"type":"message"') {
      m.received++;
      progress?.received(m);
    } else if (data.subarray(0, 17).toString() === '{"type":"welcome"') welcomed();
  });
  socket.on("error", () => {});
  await Promise.race([
    welcome,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${name} was not welcomed`)), 20_000)),
  ]);
  return m;
}

async function fanoutRun(o: WorkersBenchOptions, port: number): Promise<number> {
  const members: Member[] = [];
  const progress = new Progress(members);
  let publisher: Member | undefined;
  try {
    // One loopback address per member: the room takes at most 20 members per address (and worker).
    for (let i = 0; i < o.subscribers; i++) {
      const address = `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`;
      members.push(await member(port, `s${i}`, address, progress));
    }
    publisher = await member(port, "publisher", "127.0.0.1", null);
    // Join notices are summed up once a second: let the last summary go by.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    for (const m of members) m.received = 0;
    const text = JSON.stringify({ type: "message", text: "x".repeat(32) });
    const window = 64;
    const start = process.hrtime.bigint();
    const deadline = Date.now() + 120_000;
    let sent = 0;
    while (sent < o.messages) {
      for (let i = 0; i < window && sent < o.messages; i++, sent++) publisher.socket.send(text);
      // Paced by the slowest member: at most two windows behind.
      if (sent > 2 * window) await progress.until(sent - 2 * window, deadline);
    }
    await progress.until(o.messages, deadline);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return (o.subscribers * o.messages) / seconds;
  } finally {
    for (const m of members) m.socket.terminate();
    publisher?.socket.terminate();
  }
}

export async function runWorkersBench(o: WorkersBenchOptions): Promise<WorkersResult[]> {
  const results: WorkersResult[] = [];
  for (const workers of o.workers) {
    const result: WorkersResult = { workers, echo: [], fanout: [] };
    results.push(result);
    let serve: Serve | undefined;
    try {
      serve = await startServe(workers);
      for (let run = 0; run < o.runs; run++) {
        const echo = await echoRun(o, serve.port);
        result.echo.push(echo);
        const fanout = await fanoutRun(o, serve.port);
        result.fanout.push(fanout);
        o.log(
          `  serve --workers ${workers}, run ${run + 1}: echo ${formatRate(echo)} msg/s, ` +
            `fan-out ${formatRate(fanout)} deliveries/s`,
        );
      }
    } catch (error) {
      result.error = (error as Error).message;
      o.log(`  serve --workers ${workers}: ERROR ${result.error}`);
    } finally {
      await serve?.stop();
    }
  }
  return results;
}

/** The markdown table: medians, and each count's ratio to the first (1 worker). */
export function formatWorkers(results: WorkersResult[], o: { subscribers: number }): string {
  const base = results[0];
  const ratio = (value: number, of: number) =>
    of > 0 && Number.isFinite(value) ? `${(value / of).toFixed(2)}×` : "–";
  const lines = [
    `| workers | echo 32 B, 64 conns × 16 (msg/s) | vs 1 | chat fan-out, ${o.subscribers} members (deliveries/s) | vs 1 |`,
    "|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    if (r.error !== undefined) {
      lines.push(`| ${r.workers} | error: ${r.error} | | | |`);
      continue;
    }
    const echo = median(r.echo);
    const fanout = median(r.fanout);
    lines.push(
      `| ${r.workers} | ${formatRate(echo)} | ${ratio(echo, median(base?.echo ?? []))} | ${formatRate(fanout)} | ${ratio(fanout, median(base?.fanout ?? []))} |`,
    );
  }
  lines.push(
    "",
    `${availableParallelism()} CPU(s) available; nothing pinned: the load generator and the chat members share the cores with the workers.`,
  );
  return lines.join("\n");
}

// Run directly: node --import tsx bench/workers.ts [options]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flags = new Map(
    process.argv.slice(2).map((arg) => {
      const [key, value = ""] = arg.replace(/^--/, "").split("=");
      return [key, value] as [string, string];
    }),
  );
  const options: WorkersBenchOptions = {
    loadgen: compileLoadgen(join(defaultOutDir, "loadgen")),
    workers: (flags.get("workers") ?? "1,2").split(",").map(Number),
    runs: Number(flags.get("runs") ?? 1),
    duration: Number(flags.get("duration") ?? 3),
    warmup: 1,
    subscribers: Number(flags.get("subscribers") ?? 100),
    messages: Number(flags.get("messages") ?? 2000),
    log: (line) => console.log(line),
  };
  const results = await runWorkersBench(options);
  console.log(`\n${formatWorkers(results, options)}`);
  process.exit(results.some((r) => r.error !== undefined) ? 1 : 0);
}

/** The part of `npm run bench` (bench/run.ts): one task, and its report once it has run. */
export function workersPart(o: { runs: number; quick: boolean; log: (line: string) => void }) {
  let results: WorkersResult[] = [];
  const settings = {
    workers: [1, 2],
    runs: o.runs,
    duration: o.quick ? 1 : 3,
    warmup: o.quick ? 0.5 : 1,
    subscribers: o.quick ? 40 : 100,
    messages: o.quick ? 300 : 2000,
    log: o.log,
  };
  return {
    estimateS: settings.workers.length * (8 + o.runs * (settings.duration + settings.warmup + 6)),
    task: {
      label: "serve --workers",
      quiet: true,
      async run(prefix: string) {
        o.log(`${prefix} sockjet serve with 1 and 2 worker processes: echo and chat fan-out`);
        const loadgen = compileLoadgen(join(defaultOutDir, "loadgen"));
        results = await runWorkersBench({ ...settings, loadgen });
        return { contended: false };
      },
    },
    failed: () => results.some((r) => r.error !== undefined),
    table: () => formatWorkers(results, settings),
    markdown: () =>
      results.length === 0
        ? ""
        : `\n## \`sockjet serve --workers\`: 1 → 2 processes (bench/workers.ts)\n\n${formatWorkers(results, settings)}\n`,
  };
}
