// Fan-out benchmark: one publisher, 1,000 subscribers, 32 B and 1 KiB messages, delivered messages per second.
// sockjet's server.publish() (framed once, batched per connection) against the naïve loop over `ws` server
// clients (`for (const c of wss.clients) c.send(msg)`), each server alone in its own process; the 1,000
// receivers live in a separate process: raw TCP WebSocket clients that only count frames, so that the
// receiving side costs as little as possible and the servers are what is measured.
//
//   node --import tsx bench/fanout.ts [--subscribers=1000] [--sizes=32,1k] [--messages=N | --seconds=S]
//                                     [--runs=3] [--rounds=1] [--publisher=client,server] [--burst=1,16]
//                                     [--only=sockjet,ws,sockjet-resume] [--dist] [--pin=SERVER_CPU,RECEIVERS_CPU]
//                                     [--profile] [--json=FILE]
//
// --dist runs sockjet from the built package (dist/, as `npm run bench` does after building it) instead of
// src/ through tsx; --pin puts the server on one CPU and the receivers on another (taskset); --seconds sizes
// every measured run to about that long from the rate of the warm-up (instead of a fixed --messages).
//
// Publishers:
// - client: a WebSocket client sends the messages to the server, whose message handler publishes each one
//   (sockjet: server.publish; ws: the loop): the chat/feed shape. It sends in windows of 64 messages and
//   waits while the receivers are more than two windows behind. It is a raw client in the receivers'
//   process, which checks that pace after every read (until 2026-12-06 a `ws` client in this process polled
//   the receivers' count over IPC every millisecond: a pace, and noise, of the harness's own).
// - server: the server process publishes in a loop, `--burst` messages per event-loop turn (1: one publish
//   per turn, the worst case for write batching; 16: a busy publisher), waiting while more than 64 KiB per
//   subscriber is buffered.
// sockjet-resume (in `npm run bench`, not in this script's default --only): the same sockjet server with `resume: {}`, every receiver a
// resume connection (sockjet.resume.1): each publish gets a position and is kept in the memory store, and
// is framed once in its envelope; the cost of positions on live fan-out against "sockjet".
// The contenders of a case run interleaved (interleavedCase): their ratio is taken run by run
// (pairedRatioInterval in fanout-report.ts). --rounds repeats each case with fresh processes: a pair of
// processes keeps a bias of its own through its runs, so the ratio's interval is taken over rounds.
// bench/run.ts can call runFanout() and print formatFanout().

import { type ChildProcess, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { caseLabel, formatFanout, formatRate, formatSize } from "./fanout-report.js";
import { receiversRole, serverRole } from "./fanout-roles.js";
import { CONTENDED_CPU, median } from "./lib.js";

const benchDir = dirname(fileURLToPath(import.meta.url));
const thisFile = fileURLToPath(import.meta.url);

export type FanoutContender = "sockjet" | "ws" | "sockjet-resume";

export type FanoutPublisher = "client" | "server";

export interface FanoutOptions {
  subscribers: number;
  sizes: number[];
  publishers: FanoutPublisher[];
  /** Messages per event-loop turn for the "server" publisher. */
  bursts: number[];
  /** Messages published per run; default: enough for 3 M deliveries (32 B) or 1 M (1 KiB). */
  messages?: number;
  /**
   * Instead of `messages`: size every measured run to last about this long, from the rate measured in the
   * warm-up (at least 10 messages, at most the default count).
   */
  seconds?: number;
  /** Run sockjet from the built package (dist/) rather than src/ through tsx. */
  dist?: boolean;
  /** Pin the server and the receivers to these CPUs (taskset), when given. */
  cpus?: { server?: number; receivers?: number };
  runs: number;
  /**
   * Rounds of `runs` runs, each with freshly started servers and receivers (default 1). One pair of processes
   * carries a bias of its own through all its runs (an A/A run of two identical sockjet servers measured
   * 1.06×, interval 1.04–1.07×, over 31 runs), so a ratio whose confidence matters is judged over rounds.
   * With several, ws runs in one more round of its own beside sockjet (roundsOfCase).
   */
  rounds?: number;
  contenders: FanoutContender[];
  /** Write V8 CPU profiles of the servers to bench/out/profiles. */
  profile?: boolean;
  log?: (line: string) => void;
}

export interface FanoutResult {
  contender: FanoutContender;
  size: number;
  publisher: FanoutPublisher;
  /** "server" publisher only. */
  burst: number;
  subscribers: number;
  messages: number;
  /** Median of the runs. */
  deliveredPerSecond: number;
  runs: number[];
  /** The runs of each round (fresh processes each), in order; `runs` is them all. */
  roundRuns: number[][];
  /**
   * ws only: sockjet's delivered messages/s in the same round (the #10 speed-up is taken within it; with
   * several rounds, ws runs in a round of its own beside sockjet).
   */
  alongside?: number;
  /** sockjet only: frames built per published message (1 = framed once). */
  framesPerMessage?: number;
  serverCpuPercent: number;
  receiverCpuPercent: number;
  /**
   * CPU used by everything else on the machine during the measured runs (busy time from /proc/stat minus the
   * server, the receivers and this process), % of one CPU: the noisy-neighbour check; NaN when unknown.
   */
  otherCpuPercent: number;
}

const LABELS: Record<FanoutContender, string> = {
  sockjet: "sockjet server.publish()",
  ws: "ws: for (c of wss.clients) c.send()",
  "sockjet-resume": "sockjet publish(), resume on",
};

// ---- orchestration ----------------------------------------------------------------------------------------

function child(args: string[], profile: boolean, cpu?: number): ChildProcess {
  const execArgv = ["--import", "tsx"];
  if (profile) {
    const dir = join(benchDir, "out", "profiles");
    mkdirSync(dir, { recursive: true });
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
  }
  const stdio: ["ignore", "inherit", "inherit", "ipc"] = ["ignore", "inherit", "inherit", "ipc"];
  if (cpu === undefined) return fork(thisFile, args, { execArgv, stdio });
  // taskset execs node, which inherits the IPC channel (NODE_CHANNEL_FD) like a forked child
  return spawn("taskset", ["-c", String(cpu), process.execPath, ...execArgv, thisFile, ...args], { stdio });
}

/** The whole machine's busy jiffies (user, nice, system, irq, softirq; USER_HZ = 100), or NaN. */
function busyJiffies(): number {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return v[0] + v[1] + v[2] + v[5] + v[6];
  } catch {
    return Number.NaN;
  }
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Sends `command` (if any) and resolves with the child's next message of `type`. */
function ask(proc: ChildProcess, type: string, command?: Record<string, unknown>, ms = 120_000) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      proc.off("message", onMessage);
      proc.off("exit", onExit);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for '${type}'`));
    }, ms);
    const onMessage = (message: unknown) => {
      const m = message as Record<string, unknown>;
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited (${code}) while waiting for '${type}'`));
    };
    proc.on("message", onMessage);
    proc.on("exit", onExit);
    if (command !== undefined) proc.send(command);
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.send({ cmd: "exit" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function delivered(r: CaseRunner): Promise<number> {
  return (await ask(r.receiver, "count", { cmd: "count", group: r.group })).total as number;
}

/**
 * One contender of a case: its server, its group of receivers (in the case's one receivers process), alive
 * for the whole case, and what its runs measured.
 */
interface CaseRunner {
  contender: FanoutContender;
  server: ChildProcess;
  /** The case's receivers process, shared by its contenders, and this contender's group in it. */
  receiver: ChildProcess;
  group: number;
  port: number;
  /** Messages per measured run: the default or --messages, then what the warm-up sized. */
  messages: number;
  /** Deliveries the receivers had counted when the current run started. */
  base: number;
  published: number;
  rates: number[];
  serverCpu: number;
  receiverCpu: number;
  otherCpu: number;
  elapsed: number;
}

async function openRunner(
  contender: FanoutContender,
  group: number,
  receiver: ChildProcess,
  size: number,
  options: FanoutOptions,
  children: ChildProcess[],
): Promise<CaseRunner> {
  const subscribers = options.subscribers;
  const serverArgs = ["--role=server", `--contender=${contender}`, `--subscribers=${subscribers}`];
  if (options.dist === true) serverArgs.push("--dist");
  const server = child(serverArgs, options.profile === true, options.cpus?.server);
  children.push(server);
  const { port } = (await ask(server, "listening")) as { port: number };
  const resume = contender === "sockjet-resume";
  await ask(receiver, "connected", { cmd: "connect", group, port, resume });
  const messages = options.messages ?? defaultMessages(size, subscribers);
  return {
    contender,
    server,
    receiver,
    group,
    port,
    messages,
    base: 0,
    published: 0,
    rates: [],
    serverCpu: 0,
    receiverCpu: 0,
    otherCpu: 0,
    elapsed: 0,
  };
}

function defaultMessages(size: number, subscribers: number): number {
  return Math.round((size <= 64 ? 3_000_000 : 1_000_000) / subscribers);
}

/** One run of `r` of `count` messages; returns its duration in ms (counted in `r` unless `warmUp`). */
async function runOnce(
  r: CaseRunner,
  count: number,
  warmUp: boolean,
  size: number,
  publisher: FanoutPublisher,
  burst: number,
  options: FanoutOptions,
): Promise<number> {
  const subscribers = options.subscribers;
  await ask(r.server, "cpu", { cmd: "cpu" });
  await ask(r.receiver, "cpu", { cmd: "cpu" });
  const busy0 = busyJiffies();
  const own0 = ownCpuMs();
  const started = performance.now();
  const target = r.base + count * subscribers;
  if (publisher === "client") {
    // the receivers' process publishes, paced by its own count, and answers once all is delivered
    await ask(
      r.receiver,
      "delivered",
      { cmd: "publish", group: r.group, size, messages: count, base: r.base },
      600_000,
    );
  } else {
    await ask(r.server, "published", { cmd: "publish", size, count, burst }, 600_000);
  }
  for (;;) {
    const total = await delivered(r);
    if (total >= target) break;
    if (performance.now() - started > 600_000)
      throw new Error(`only ${total - r.base} of ${target - r.base} delivered`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const ms = performance.now() - started;
  r.base = target;
  r.published += count;
  const sCpu = (await ask(r.server, "cpu", { cmd: "cpu" })).cpuMs as number;
  const rCpu = (await ask(r.receiver, "cpu", { cmd: "cpu" })).cpuMs as number;
  const busyMs = (busyJiffies() - busy0) * 10;
  const ownMs = ownCpuMs() - own0;
  if (warmUp) return ms;
  r.messages = count;
  r.rates.push((count * subscribers) / (ms / 1000));
  r.serverCpu += sCpu;
  r.receiverCpu += rCpu;
  r.otherCpu += Math.max(0, busyMs - sCpu - rCpu - ownMs);
  r.elapsed += ms;
  return ms;
}

/** A warm-up run lasts at least this long before its rate sizes the measured runs. */
const SIZING_MS = 400;

/**
 * Warms `r` up (the JIT, the sockets' buffers) and returns its rate in messages per second: runs that double
 * in size until one lasts SIZING_MS (at most 8 of them, and never past `fallback` messages).
 */
async function warmUp(
  r: CaseRunner,
  fallback: number,
  size: number,
  publisher: FanoutPublisher,
  burst: number,
  options: FanoutOptions,
): Promise<number> {
  let count = Math.max(10, Math.round(fallback / 60));
  let ms = await runOnce(r, count, true, size, publisher, burst, options);
  for (let i = 0; i < 8 && ms < SIZING_MS && count < fallback; i++) {
    count = Math.min(fallback, count * 2);
    ms = await runOnce(r, count, true, size, publisher, burst, options);
  }
  return (count * 1000) / ms;
}

async function resultOf(
  r: CaseRunner,
  size: number,
  publisher: FanoutPublisher,
  burst: number,
  subscribers: number,
): Promise<FanoutResult> {
  const { framesEncoded } = (await ask(r.server, "stats", { cmd: "stats" })) as { framesEncoded: number };
  return {
    contender: r.contender,
    size,
    publisher,
    burst: publisher === "server" ? burst : 0,
    subscribers,
    messages: r.messages,
    deliveredPerSecond: median(r.rates),
    runs: r.rates,
    roundRuns: [r.rates],
    framesPerMessage: r.contender !== "ws" ? framesEncoded / r.published : undefined,
    serverCpuPercent: (100 * r.serverCpu) / r.elapsed,
    receiverCpuPercent: (100 * r.receiverCpu) / r.elapsed,
    otherCpuPercent: (100 * r.otherCpu) / r.elapsed,
  };
}

/**
 * One case, every contender's server and receivers started up front and their runs interleaved: run 1 of
 * each, then run 2 of each, …, in an order that never runs one contender twice in a row (a run right after
 * its own is faster: its caches and the receivers are hot). The machine's slow drifts (another VM, the CPU's
 * clock) then fall on every contender alike, and `runs[i]` of two contenders are neighbours in time, so their
 * ratio can be taken run by run (pairedRatioInterval). sockjet and sockjet-resume run the same number of messages
 * (sized from the faster of the two), so that what a run costs besides its messages (its start, the wait
 * for the receivers' count) weighs the same on both; ws, much slower on most cases, is sized on its own.
 */
async function interleavedCase(
  size: number,
  publisher: FanoutPublisher,
  burst: number,
  options: FanoutOptions,
): Promise<FanoutResult[]> {
  const children: ChildProcess[] = [];
  try {
    const receiver = child(
      ["--role=receivers", `--count=${options.subscribers}`],
      false,
      options.cpus?.receivers,
    );
    children.push(receiver);
    await ask(receiver, "ready");
    const runners: CaseRunner[] = [];
    for (const [group, contender] of options.contenders.entries())
      runners.push(await openRunner(contender, group, receiver, size, options, children));
    const fallback = defaultMessages(size, options.subscribers);
    const rates = new Map<CaseRunner, number>();
    for (const r of runners) rates.set(r, await warmUp(r, fallback, size, publisher, burst, options));
    const countOf = (r: CaseRunner): number => {
      if (options.messages !== undefined || options.seconds === undefined) return r.messages;
      const group = runners.filter((other) => sizingGroup(other.contender) === sizingGroup(r.contender));
      const rate = Math.max(...group.map((other) => rates.get(other)!));
      return Math.min(fallback, Math.max(10, Math.round(rate * options.seconds)));
    };
    const counts = new Map(runners.map((r) => [r, countOf(r)]));
    for (let run = 0; run < options.runs; run++)
      for (const r of runOrder(runners, run))
        await runOnce(r, counts.get(r)!, false, size, publisher, burst, options);
    const results: FanoutResult[] = [];
    for (const r of runners) {
      results.push(await resultOf(r, size, publisher, burst, options.subscribers));
    }
    return results;
  } finally {
    await Promise.all(children.map(stop));
  }
}

/** Contenders sized together run the same number of messages per run. */
function sizingGroup(contender: FanoutContender): string {
  return contender === "ws" ? "ws" : "sockjet";
}

/**
 * The order of run `run`: with three or more contenders, rotated by one each run (S R W, R W S, W S R: no
 * contender twice in a row across runs); two alternate in one order (S R S R…), since reversing would put
 * one twice in a row.
 */
export function runOrder<T>(runners: T[], run: number): T[] {
  if (runners.length < 3) return runners;
  const k = run % runners.length;
  return [...runners.slice(k), ...runners.slice(0, k)];
}

export async function runFanout(options: FanoutOptions): Promise<FanoutResult[]> {
  const rounds = options.rounds ?? 1;
  if (!Number.isSafeInteger(rounds) || rounds < 1)
    throw new Error(`rounds must be a positive integer, not ${rounds}`);
  if (!Number.isSafeInteger(options.runs) || options.runs < 1)
    throw new Error(`runs must be a positive integer, not ${options.runs}`);
  const log = options.log ?? ((line: string) => console.log(line));
  const results: FanoutResult[] = [];
  for (const size of options.sizes) {
    for (const publisher of options.publishers) {
      for (const burst of publisher === "server" ? options.bursts : [0]) {
        for (const result of await roundsOfCase(size, publisher, burst, options)) {
          log(
            `  ${formatSize(size).padStart(6)}  ${caseLabel(result).padEnd(22)} ${LABELS[result.contender].padEnd(38)} ` +
              `${formatRate(result.deliveredPerSecond).padStart(8)} msg/s  (server CPU ` +
              `${result.serverCpuPercent.toFixed(0)}%, receivers CPU ${result.receiverCpuPercent.toFixed(0)}%)`,
          );
          results.push(result);
        }
      }
    }
  }
  return results;
}

/**
 * A case in `options.rounds` rounds, each an interleaved case with fresh processes, merged per contender (by
 * its place in `options.contenders`, so that an A/A pair of one contender stays two): runs concatenated.
 * With several rounds every round runs the same contenders (sockjet and sockjet-resume alternating, in
 * the opposite order every other round), and ws runs in one more round of its own beside sockjet, whose rate there is the ws
 * result's `alongside` (its speed-up is taken within that round). With one round, everything runs in it.
 */
async function roundsOfCase(
  size: number,
  publisher: FanoutPublisher,
  burst: number,
  options: FanoutOptions,
): Promise<FanoutResult[]> {
  const rounds = options.rounds ?? 1;
  const places = options.contenders.map((contender, place) => ({ contender, place }));
  const perPlace: FanoutResult[][] = places.map(() => []);
  const runRound = async (chosen: typeof places): Promise<FanoutResult[]> => {
    const results = await interleavedCase(size, publisher, burst, {
      ...options,
      contenders: chosen.map(({ contender }) => contender),
    });
    for (const [i, result] of results.entries()) perPlace[chosen[i].place].push(result);
    return results;
  };
  const withWs = rounds > 1 && places.some(({ contender }) => contender === "ws");
  const paired = withWs ? places.filter(({ contender }) => contender !== "ws") : places;
  // Odd rounds run the contenders in the opposite order (processes started, receivers connected, and the
  // order of each run pair): an A/A run of the 1 KiB publishing client with one order measured the second
  // 1.03× the first (1.01–1.05×, 12 rounds, 2026-12-06), a bias of the place that alternation cancels.
  if (paired.length > 0)
    for (let round = 0; round < rounds; round++)
      await runRound(round % 2 === 0 ? paired : [...paired].reverse());
  const merged = perPlace.map((results) => (results.length === 0 ? undefined : mergeRounds(results)));
  if (withWs) {
    // ws's round: beside sockjet (when it is a contender), whose result of that round stays out of the merge
    const sockjet = places.find(({ contender }) => contender === "sockjet");
    const wsPlaces = places.filter(({ contender }) => contender === "ws");
    const results = await interleavedCase(size, publisher, burst, {
      ...options,
      contenders: [
        ...(sockjet === undefined ? [] : ["sockjet" as const]),
        ...wsPlaces.map(() => "ws" as const),
      ],
    });
    const alongside = sockjet === undefined ? undefined : results.shift()!.deliveredPerSecond;
    for (const [i, result] of results.entries()) merged[wsPlaces[i].place] = { ...result, alongside };
  } else {
    const sockjet = merged.find((r) => r?.contender === "sockjet");
    for (const [place, result] of merged.entries())
      if (result?.contender === "ws" && sockjet !== undefined)
        merged[place] = { ...result, alongside: sockjet.deliveredPerSecond };
  }
  return merged as FanoutResult[];
}

/** One contender's rounds as one result: runs concatenated, CPU shares averaged, the worst of the rest. */
export function mergeRounds(rounds: FanoutResult[]): FanoutResult {
  if (rounds.length === 1) return rounds[0];
  const mean = (pick: (r: FanoutResult) => number) =>
    rounds.reduce((sum, r) => sum + pick(r), 0) / rounds.length;
  const runs = rounds.flatMap((r) => r.runs);
  const frames = rounds.map((r) => r.framesPerMessage);
  return {
    ...rounds[0],
    deliveredPerSecond: median(runs),
    runs,
    roundRuns: rounds.map((r) => r.runs),
    framesPerMessage: frames.includes(undefined) ? undefined : Math.max(...(frames as number[])),
    serverCpuPercent: mean((r) => r.serverCpuPercent),
    receiverCpuPercent: mean((r) => r.receiverCpuPercent),
    // The noisy-neighbour check: a case is as contended as its most contended round.
    otherCpuPercent: Math.max(...rounds.map((r) => r.otherCpuPercent)),
  };
}

// ---- command line -----------------------------------------------------------------------------------------

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of argv) {
    const match = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (match) out[match[1]] = match[2] ?? "true";
  }
  return out;
}

export function parseSize(text: string): number {
  const match = /^(\d+)\s*([kKmM]?)/.exec(text.trim());
  if (match === null) throw new Error(`bad size '${text}'`);
  const unit = match[2].toLowerCase();
  return Number(match[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.role === "server")
    return serverRole(args.contender as FanoutContender, Number(args.subscribers), args.dist === "true");
  if (args.role === "receivers") return receiversRole(Number(args.count));
  const options: FanoutOptions = {
    subscribers: Number(args.subscribers ?? 1000),
    sizes: (args.sizes ?? "32,1k").split(",").map(parseSize),
    publishers: (args.publisher ?? "client,server").split(",") as FanoutPublisher[],
    bursts: (args.burst ?? "1,16").split(",").map(Number),
    messages: args.messages === undefined ? undefined : Number(args.messages),
    seconds: args.seconds === undefined ? undefined : Number(args.seconds),
    dist: args.dist === "true",
    cpus:
      args.pin === undefined
        ? undefined
        : { server: Number(args.pin.split(",")[0]), receivers: Number(args.pin.split(",")[1]) },
    runs: Number(args.runs ?? 3),
    rounds: Number(args.rounds ?? 1),
    contenders: (args.only ?? "sockjet,ws").split(",") as FanoutContender[],
    profile: args.profile === "true",
  };
  console.log(
    `fan-out: 1 publisher → ${options.subscribers} subscribers (receivers in a separate process), ` +
      `${options.rounds ?? 1} round(s) of ${options.runs} runs (fresh processes each round)`,
  );
  const results = await runFanout(options);
  console.log(`\n${formatFanout(results, { contendedCpu: CONTENDED_CPU })}`);
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
