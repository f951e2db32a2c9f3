// `npm run bench` (= node --import tsx bench/run.ts; see --help), in four parts, each selectable with --only:
// - echo: sockjet's server against npm `ws` and a raw TCP echo server in Node's `net`, driven by our own C load
//   generator (bench/loadgen/loadgen.c): throughput, 1,000 connections, text vs binary, idle memory;
// - client: one connection from sockjet's client, `ws` and undici against a C echo server (bench/client.ts);
// - deflate: sockjet's server against `ws`'s with permessage-deflate on, ~1 KiB JSON (bench/client.ts);
// - fanout: 1 publisher → 1,000 subscribers, sockjet's publish() against a naïve `ws` loop (bench/fanout.ts);
// - h2: sockjet's client and server (`http2: true` + TLS), sockets on one HTTP/2 session (RFC 8441) vs a TLS
//   connection each: echo throughput and idle memory per socket (bench/h2.ts).
// It writes docs/BENCHMARKS.md (on a full default run) with every target of issues 9 and 10 judged ✅/❌ — except
// on contended runs, which are flagged and not judged.
//
// Exits non-zero only when something went wrong (build failure, a server crashing, a wrong or missing echo,
// a failed connection), never because of the figures. A contender that cannot start at all is reported as
// unavailable and skipped.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CLIENT_NAMES,
  type ClientName,
  type ClientRecord,
  clientRuns,
  clientTables,
  compileEchoServer,
  DEFLATE_LOAD,
  type DeflateRecord,
  deflateRuns,
  describeClientJob,
  planClientJobs,
  planDeflateJobs,
  runClientJob,
  runDeflateJob,
  stat,
} from "./client.js";
import { type FanoutResult, fanoutContended, fanoutPairs, formatFanout, runFanout } from "./fanout.js";
import {
  describeH2Job,
  H2_IDLE_SOCKETS,
  H2_LOAD,
  type H2Record,
  h2Tables,
  planH2Jobs,
  runH2Job,
} from "./h2.js";
import {
  allowedCpus,
  CONTENDER_NAMES,
  CONTENDERS,
  type ContenderName,
  choosePinning,
  compileLoadgen,
  defaultOutDir,
  ECHO_ONLY_CONTENDERS,
  formatRate,
  formatSize,
  holdIdle,
  killAll,
  type LoadgenResult,
  loadgenArgs,
  machineBusyPercent,
  median,
  parseSize,
  readRssKiB,
  repoRoot,
  runLoadgen,
  type ServerHandle,
  startServer,
  which,
} from "./lib.js";
import { workersPart } from "./workers.js";

const PART_NAMES = ["echo", "client", "deflate", "fanout", "h2", "workers"] as const;
type PartName = (typeof PART_NAMES)[number];

const USAGE = `usage: npm run bench -- [options]
  --quick            1 run per case, 1 s measured (0.5 s warm-up), 2,000 idle connections: a smoke test
  --only=LIST        parts to run: echo, client, deflate, fanout, h2, workers (default: all); and/or echo servers to run
                     (raw, ws, sockjet, sockjet-ab; alone, they select the echo part: --only=raw,ws)
  --clients=LIST     clients of the client part (default sockjet,sockjet-ab,ws,undici)
  --sizes=32,1k      echo payload sizes (default 32,1k,64k,1m)
  --runs=N           repetitions of every case (default 3)
  --duration=SECS    measured seconds per run (default 5 for echo, 3 for client and deflate)
  --no-verify        do not check every echoed byte (lengths, opcodes and order are still checked)
  --docs / --no-docs write docs/BENCHMARKS.md and docs/bench-echo.svg (default: only for a full default run;
                     otherwise the report goes to bench/out/)`;

interface Options {
  quick: boolean;
  parts: PartName[];
  clients: ClientName[];
  only: ContenderName[];
  sizes: number[];
  runs: number;
  duration: number;
  warmup: number;
  /** client and deflate parts: measured seconds and warm-up per run */
  clientDuration: number;
  clientWarmup: number;
  /** fan-out: each measured run lasts about this long */
  fanoutSeconds: number;
  idleConns: number;
  verify: boolean;
  docs: boolean;
}

function parseOptions(argv: string[]): Options {
  let quick = false;
  let parts: PartName[] = [...PART_NAMES];
  let clients: ClientName[] = [...CLIENT_NAMES];
  let only: ContenderName[] = [...CONTENDER_NAMES];
  let sizes = [32, 1024, 64 * 1024, 1024 * 1024];
  let runs: number | undefined;
  let duration: number | undefined;
  let verify = true;
  let docs: boolean | undefined;
  let partial = false;
  for (const arg of argv) {
    const [key, value] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg];
    if (key === "--help" || key === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (key === "--quick") {
      quick = true;
    } else if (key === "--only" && value) {
      const names = value.split(",");
      for (const name of names) {
        if (
          !(PART_NAMES as readonly string[]).includes(name) &&
          !(CONTENDER_NAMES as string[]).includes(name)
        )
          throw new Error(`unknown part or contender '${name}' (parts: ${PART_NAMES.join(", ")})`);
      }
      const servers = names.filter((n) => (CONTENDER_NAMES as string[]).includes(n)) as ContenderName[];
      const chosen = names.filter((n) => (PART_NAMES as readonly string[]).includes(n)) as PartName[];
      if (servers.length > 0) only = servers;
      parts = chosen.length > 0 ? chosen : ["echo"];
      if (servers.length > 0 && !parts.includes("echo")) parts.push("echo");
      partial = true;
    } else if (key === "--clients" && value) {
      clients = value.split(",").map((name) => {
        if (!(CLIENT_NAMES as readonly string[]).includes(name)) throw new Error(`unknown client '${name}'`);
        return name as ClientName;
      });
      partial = true;
    } else if (key === "--sizes" && value) {
      sizes = value.split(",").map(parseSize);
      if (sizes.some((s) => s < 0 || s > 0xffffffff)) throw new Error("sizes must be between 0 and 4 GiB");
      partial = true;
    } else if (key === "--runs" && value) {
      runs = Number(value);
      if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error("--runs must be 1..20");
      partial = true;
    } else if (key === "--duration" && value) {
      duration = Number(value);
      if (!(duration > 0 && duration <= 60)) throw new Error("--duration must be in (0, 60]");
      partial = true;
    } else if (key === "--no-verify") {
      verify = false;
    } else if (key === "--docs") {
      docs = true;
    } else if (key === "--no-docs") {
      docs = false;
    } else {
      throw new Error(`unknown option '${arg}'\n${USAGE}`);
    }
  }
  return {
    quick,
    parts: PART_NAMES.filter((p) => parts.includes(p)),
    clients,
    only,
    sizes,
    runs: runs ?? (quick ? 1 : 3),
    duration: duration ?? (quick ? 1 : 5),
    warmup: quick ? 0.5 : 1,
    clientDuration: duration ?? (quick ? 1 : 3),
    clientWarmup: quick ? 0.5 : 1,
    fanoutSeconds: quick ? 0.5 : 1.5,
    idleConns: quick ? 2000 : 10_000,
    verify,
    docs: docs ?? !(quick || partial),
  };
}

// ---------------------------------------------------------------------------------------------------------------

type Scenario = "echo" | "conns" | "text" | "idle";

interface Job {
  scenario: Scenario;
  contender: ContenderName;
  size: number;
  conns: number;
  window: number;
  text: boolean;
  rep: number;
}

interface Record_ extends Job {
  result?: LoadgenResult;
  /** other processes used ≥ CONTENDED_CPU % of a CPU during the run */
  contended?: boolean;
  idle?: { beforeKiB: number; afterKiB: number; open: number; connectS: number; perConnKiB: number };
  error?: string;
  skipped?: boolean;
}

const MANY_CONNS = 1000;
const MANY_CONNS_WINDOW = 4;
const CONNS = 64;

function windowFor(size: number): number {
  return size >= 1024 * 1024 ? 2 : 16;
}

/** rotates the contender order from one repetition to the next, so that no contender always runs first */
function rotate<T>(items: T[], by: number): T[] {
  if (items.length === 0) return items;
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function planJobs(o: Options): Job[] {
  const jobs: Job[] = [];
  const wsLike = o.only.filter((c) => CONTENDERS[c].protocol === "ws" && !ECHO_ONLY_CONTENDERS.includes(c));
  for (let rep = 0; rep < o.runs; rep++) {
    for (const size of o.sizes) {
      for (const contender of rotate(o.only, rep)) {
        jobs.push({
          scenario: "echo",
          contender,
          size,
          conns: CONNS,
          window: windowFor(size),
          text: false,
          rep,
        });
      }
    }
    const general = o.only.filter((c) => !ECHO_ONLY_CONTENDERS.includes(c));
    for (const contender of rotate(general, rep)) {
      const job = { scenario: "conns", contender, size: 32, conns: MANY_CONNS, window: MANY_CONNS_WINDOW };
      jobs.push({ ...job, text: false, rep } as Job);
    }
    for (const contender of rotate(wsLike, rep)) {
      for (const text of rep % 2 ? [true, false] : [false, true]) {
        jobs.push({ scenario: "text", contender, size: 1024, conns: CONNS, window: 16, text, rep });
      }
    }
  }
  for (let rep = 0; rep < o.runs; rep++) {
    for (const contender of rotate(
      o.only.filter((c) => !ECHO_ONLY_CONTENDERS.includes(c)),
      rep,
    )) {
      jobs.push({ scenario: "idle", contender, size: 0, conns: o.idleConns, window: 0, text: false, rep });
    }
  }
  return jobs;
}

function describe(job: Job): string {
  const what =
    job.scenario === "idle"
      ? `${job.conns} idle connections`
      : `${formatSize(job.size)}${job.text ? " text" : ""} x${job.conns}/${job.window}`;
  return `${job.contender.padEnd(7)} ${what} #${job.rep + 1}`;
}

function tail(text: string, lines = 4): string {
  return text.trim().split("\n").slice(-lines).join(" | ");
}

// ---------------------------------------------------------------------------------------------------------------

const options = (() => {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
})();

/** a run during which everything else used this much CPU (% of one CPU) is "contended" */
const CONTENDED_CPU = 20;
/** before each run, wait (up to QUIET_WAIT_MS, and QUIET_BUDGET_MS in all) until the machine is this idle */
const QUIET_CPU = 15;
const QUIET_WAIT_MS = 15_000;
/** (a smoke test does not wait long, nor repeat runs) */
const QUIET_BUDGET_MS = options.quick ? 20_000 : 90_000;
/** contended runs are repeated once, up to this many times in all */
const RETRY_BUDGET = options.quick ? 0 : 8;

process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});
process.on("SIGTERM", () => {
  killAll();
  process.exit(143);
});

const pinning = choosePinning();
const unavailable = new Map<ContenderName, string>();
const started = new Set<ContenderName>();
const records: Record_[] = [];
const warnings: string[] = [];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Waits (at most min(QUIET_WAIT_MS, budgetMs)) until the machine is nearly idle; returns the time waited. */
async function waitForQuiet(budgetMs: number): Promise<number> {
  const t0 = Date.now();
  const limit = Math.min(QUIET_WAIT_MS, budgetMs);
  for (let i = 0; i < 100; i++) {
    const busy = await machineBusyPercent(300);
    if (busy < QUIET_CPU) break;
    if (Date.now() - t0 >= limit) {
      log(`  machine still busy (${busy.toFixed(0)}% of a CPU used by others): running anyway`);
      break;
    }
    if (i === 0) log(`  waiting for a quiet machine (${busy.toFixed(0)}% of a CPU in use)...`);
    await sleep(700);
  }
  return Date.now() - t0;
}

async function withServer(
  job: Job,
  record: Record_,
  body: (server: ServerHandle) => Promise<void>,
): Promise<void> {
  const contender = CONTENDERS[job.contender];
  let server: ServerHandle;
  try {
    server = await startServer(contender, { cpu: pinning.server });
  } catch (error) {
    const message = (error as Error).message;
    if (!started.has(job.contender)) {
      unavailable.set(job.contender, message);
      log(`${job.contender}: unavailable (${message})`);
      record.skipped = true;
    } else {
      record.error = `server failed to start: ${message}`;
    }
    return;
  }
  started.add(job.contender);
  try {
    await body(server);
    const died = server.exitInfo();
    if (died && !record.error) record.error = `server ${died}: ${tail(server.stderr(), 2)}`;
  } catch (error) {
    record.error = (error as Error).message;
  } finally {
    await server.stop();
  }
}

async function runEcho(bin: string, job: Job, record: Record_): Promise<void> {
  await withServer(job, record, async (server) => {
    const args = loadgenArgs({
      port: server.port,
      conns: job.conns,
      window: job.window,
      size: job.size,
      duration: options.duration,
      warmup: options.warmup,
      raw: CONTENDERS[job.contender].protocol === "raw",
      text: job.text,
      verify: options.verify,
      serverPid: server.pid,
    });
    const timeoutMs = (options.duration + options.warmup + 90) * 1000;
    const run = await runLoadgen(bin, args, { cpu: pinning.loadgen, timeoutMs });
    const died = server.exitInfo();
    if (died) {
      record.error = `server ${died} during the run: ${tail(server.stderr(), 2)}`;
    } else if (run.timedOut) {
      record.error = `load generator timed out after ${timeoutMs / 1000} s`;
    } else if (run.code !== 0 || !run.result || !(run.result.errors === 0)) {
      record.error = `load generator exit ${run.code ?? run.signal}: ${tail(run.stderr) || "no output"}`;
    }
    if (run.result && !record.error) record.result = run.result;
  });
}

async function runIdle(bin: string, job: Job, record: Record_): Promise<void> {
  await withServer(job, record, async (server) => {
    const raw = CONTENDERS[job.contender].protocol === "raw";
    const common = { port: server.port, raw, cpu: pinning.loadgen, timeoutMs: 90_000 };
    // a few connections first, so that code loaded on the first connection is not charged to the measurement
    const warm = await holdIdle(bin, { ...common, conns: 100, holdSecs: 60 });
    const warmEnd = await warm.release();
    if (warmEnd.code !== 0) throw new Error(`warm-up connections failed: ${tail(warmEnd.stderr)}`);
    await sleep(1000);
    const beforeKiB = readRssKiB(server.pid);
    const hold = await holdIdle(bin, { ...common, conns: job.conns, holdSecs: 120 });
    let afterKiB: number;
    try {
      await sleep(1000);
      afterKiB = readRssKiB(server.pid);
    } finally {
      const end = await hold.release();
      if (end.code !== 0 || hold.ready.open !== job.conns) {
        record.error = `idle connections failed (open ${hold.ready.open} of ${job.conns}, closed early ${
          end.done.closed_early ?? "?"
        }): ${tail(end.stderr)}`;
      }
    }
    const open = hold.ready.open ?? 0;
    record.idle = {
      beforeKiB,
      afterKiB,
      open,
      connectS: hold.ready.connect_s ?? Number.NaN,
      perConnKiB: open > 0 ? (afterKiB - beforeKiB) / open : Number.NaN,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// summaries

const TARGETS: Record<string, number> = { "32": 0.6, "1024": 0.6, "65536": 0.9, "1048576": 0.9 };
const TARGET_CONNS = 0.5;
const TARGET_TEXT = 0.85;

function ok(records: Record_[]): Record_[] {
  return records.filter((r) => !r.error && !r.skipped);
}

function pick(scenario: Scenario, contender: ContenderName, size?: number, text?: boolean): Record_[] {
  return ok(records).filter(
    (r) =>
      r.scenario === scenario &&
      r.contender === contender &&
      (size === undefined || r.size === size) &&
      (text === undefined || r.text === text),
  );
}

/** the runs a median is taken over: the uncontended ones when there are any */
function usable(rs: Record_[]): Record_[] {
  const quiet = rs.filter((r) => !r.contended);
  return quiet.length > 0 ? quiet : rs;
}

function med(rs: Record_[], f: (r: LoadgenResult) => number): number {
  return median(
    usable(rs)
      .filter((r) => r.result)
      .map((r) => f(r.result!)),
  );
}

/** ⚠ when every run of the case was contended */
function mark(rs: Record_[]): string {
  return rs.length > 0 && rs.every((r) => r.contended) ? " ⚠" : "";
}

/** a ratio whose inputs were all contended is shown with ⚠ and its target not judged */
function ratioCell(value: number, base: number, target?: number, contended = false): string {
  if (!(value > 0 && base > 0)) return "–";
  const ratio = value / base;
  const text = `${ratio.toFixed(2)}×`;
  if (contended) {
    return target === undefined ? `${text} ⚠` : `${text} ⚠ not judged (≥ ${target}×)`;
  }
  if (target === undefined) return text;
  return `${text} ${ratio >= target ? "✅" : "❌"} (≥ ${target}×)`;
}

/** true when either side of a ratio has only contended runs */
function shaky(...cases: Record_[][]): boolean {
  return cases.some((rs) => mark(rs) !== "");
}

function contenderHeader(c: ContenderName): string {
  return unavailable.has(c) ? `${c} (unavailable)` : c;
}

function table(header: string[], rows: string[][], align?: string[]): string {
  const sep = align ?? header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

interface Summary {
  echo: string;
  detail: string;
  conns: string;
  text: string;
  idle: string;
}

function summarize(): Summary {
  const cs = options.only;
  const hasRaw = cs.includes("raw");
  const others = cs.filter((c) => c !== "raw");
  // main table
  const echoHeader = ["payload", "in flight", ...cs.map((c) => `${contenderHeader(c)} msg/s`)];
  if (hasRaw) echoHeader.push(...others.map((c) => `${c} ÷ raw`));
  const echoRows = options.sizes.map((size) => {
    const row = [formatSize(size), `64 × ${windowFor(size)}`];
    const rate = (c: ContenderName) => med(pick("echo", c, size), (r) => r.msgsPerS);
    row.push(...cs.map((c) => `${formatRate(rate(c))}${mark(pick("echo", c, size))}`));
    if (hasRaw)
      row.push(
        ...others.map((c) =>
          ratioCell(
            rate(c),
            rate("raw"),
            c === "sockjet" ? TARGETS[String(size)] : undefined,
            shaky(pick("echo", c, size), pick("echo", "raw", size)),
          ),
        ),
      );
    return row;
  });
  // details
  const detailRows: string[][] = [];
  for (const size of options.sizes) {
    for (const c of cs) {
      const rs = pick("echo", c, size);
      if (rs.length === 0) continue;
      detailRows.push([
        formatSize(size),
        c,
        rs.map((r) => `${formatRate(r.result!.msgsPerS)}${r.contended ? "*" : ""}`).join(" / "),
        med(rs, (r) => r.mbPerS).toFixed(1),
        med(rs, (r) => r.p50Us).toFixed(0),
        med(rs, (r) => r.p99Us).toFixed(0),
        med(rs, (r) => r.maxUs).toFixed(0),
        `${med(rs, (r) => r.serverCpu).toFixed(0)}%`,
        `${med(rs, (r) => r.clientCpu).toFixed(0)}%`,
        `${med(rs, (r) => r.otherCpu).toFixed(0)}%`,
      ]);
    }
  }
  const detail = table(
    [
      "payload",
      "server",
      "msg/s (each run)",
      "MB/s",
      "p50 µs",
      "p99 µs",
      "max µs",
      "server CPU",
      "loadgen CPU",
      "others' CPU",
    ],
    detailRows,
    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
  );
  // 1,000 connections
  const rawMany = med(pick("conns", "raw"), (r) => r.msgsPerS);
  const general = cs.filter((c) => !ECHO_ONLY_CONTENDERS.includes(c));
  const connsRows = general.map((c) => {
    const rs = pick("conns", c);
    const rate = med(rs, (r) => r.msgsPerS);
    return [
      contenderHeader(c),
      `${formatRate(rate)}${mark(rs)}`,
      c === "raw" || !hasRaw
        ? "–"
        : ratioCell(
            rate,
            rawMany,
            c === "sockjet" ? TARGET_CONNS : undefined,
            shaky(rs, pick("conns", "raw")),
          ),
      rs.length ? `${med(rs, (r) => r.p50Us).toFixed(0)} / ${med(rs, (r) => r.p99Us).toFixed(0)}` : "–",
      rs.length
        ? `${med(rs, (r) => r.serverCpu).toFixed(0)}% / ${med(rs, (r) => r.clientCpu).toFixed(0)}%`
        : "–",
    ];
  });
  const conns = table(["server", "msg/s", "÷ raw", "p50 / p99 µs", "CPU server / loadgen"], connsRows);
  // text vs binary
  const textRows = general
    .filter((c) => CONTENDERS[c].protocol === "ws")
    .map((c) => {
      const binRuns = pick("text", c, 1024, false);
      const txtRuns = pick("text", c, 1024, true);
      const bin = med(binRuns, (r) => r.msgsPerS);
      const txt = med(txtRuns, (r) => r.msgsPerS);
      return [
        contenderHeader(c),
        `${formatRate(bin)}${mark(binRuns)}`,
        `${formatRate(txt)}${mark(txtRuns)}`,
        ratioCell(txt, bin, c === "sockjet" ? TARGET_TEXT : undefined, shaky(binRuns, txtRuns)),
      ];
    });
  const text = table(["server", "binary msg/s", "text msg/s", "text ÷ binary"], textRows);
  // idle memory
  const idleRows = general.map((c) => {
    const rs = ok(records).filter((r) => r.scenario === "idle" && r.contender === c && r.idle);
    const per = median(rs.map((r) => r.idle!.perConnKiB));
    return [
      contenderHeader(c),
      Number.isFinite(per) ? per.toFixed(2) : "–",
      rs.map((r) => r.idle!.perConnKiB.toFixed(2)).join(" / ") || "–",
      rs.length ? `${(median(rs.map((r) => r.idle!.beforeKiB)) / 1024).toFixed(1)} MiB` : "–",
      rs.length ? `${median(rs.map((r) => r.idle!.connectS)).toFixed(2)} s` : "–",
    ];
  });
  const idle = table(["server", "KiB per connection", "each run", "RSS before", "time to open"], idleRows);
  return { echo: table(echoHeader, echoRows), detail, conns, text, idle };
}

// ---------------------------------------------------------------------------------------------------------------
// chart: throughput relative to raw TCP, grouped by payload size

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function renderSvg(): string {
  const cs = options.only.filter((c) => !unavailable.has(c));
  const groups: { label: string; target?: number; values: Map<ContenderName, number> }[] = [];
  for (const size of options.sizes) {
    const values = new Map(cs.map((c) => [c, med(pick("echo", c, size), (r) => r.msgsPerS)] as const));
    groups.push({ label: formatSize(size), target: TARGETS[String(size)], values });
  }
  groups.push({
    label: `${MANY_CONNS.toLocaleString("en-US")} conns, 32 B`,
    target: TARGET_CONNS,
    values: new Map(cs.map((c) => [c, med(pick("conns", c), (r) => r.msgsPerS)] as const)),
  });
  const colors: Record<ContenderName, string> = {
    raw: "#8c8c8c",
    ws: "#4e79a7",
    sockjet: "#f28e2b",
    "sockjet-ab": "#f7c38f",
  };
  const W = 820;
  const H = 400;
  const left = 60;
  const right = 20;
  const top = 76;
  const bottom = 60;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const ratios = groups.flatMap((g) => {
    const base = g.values.get("raw") ?? Number.NaN;
    return [...g.values.values()].map((v) => v / base).filter((r) => Number.isFinite(r));
  });
  const yMax = Math.max(1.25, Math.ceil((Math.max(0, ...ratios) * 1.1) / 0.25) * 0.25);
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(
    `<text x="${left}" y="24" font-size="15" font-weight="600">Echo throughput relative to raw TCP in Node (higher is better)</text>`,
  );
  out.push(
    `<text x="${left}" y="42" fill="#555">messages/s ÷ raw TCP echo, median of ${options.runs} run(s); labels: messages/s; dashes: sockjet targets</text>`,
  );
  const contended = records.filter((r) => r.contended).length;
  if (contended > 0) {
    const total = records.filter((r) => r.result).length;
    out.push(
      `<text x="${left}" y="60" fill="#c0392b">⚠ ${contended} of ${total} runs were contended by other work on the machine: see BENCHMARKS.md</text>`,
    );
  }
  for (let v = 0; v <= yMax + 1e-9; v += 0.25) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="${v === 0 ? "#333" : "#e3e3e3"}"/>`,
    );
    out.push(`<text x="${left - 8}" y="${yy}" dy="4" text-anchor="end" fill="#555">${v.toFixed(2)}×</text>`);
  }
  const labels: string[] = []; // drawn last, over the target dashes
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(44, (groupW * 0.8) / Math.max(1, cs.length));
  groups.forEach((g, gi) => {
    const base = g.values.get("raw") ?? Number.NaN;
    const gx = left + gi * groupW + (groupW - barW * cs.length) / 2;
    cs.forEach((c, ci) => {
      const value = g.values.get(c) ?? Number.NaN;
      const ratio = value / base;
      const x = gx + ci * barW;
      if (!Number.isFinite(ratio)) return;
      const yy = y(ratio);
      out.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${colors[c]}"><title>${escapeXml(`${c} ${g.label}: ${formatRate(value)} msg/s, ${ratio.toFixed(2)}× raw`)}</title></rect>`,
      );
      labels.push(
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(yy - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">${formatRate(value)}</text>`,
      );
    });
    if (g.target !== undefined && cs.includes("sockjet")) {
      const ci = cs.indexOf("sockjet");
      const x = gx + ci * barW;
      const yy = y(g.target).toFixed(1);
      out.push(
        `<line x1="${(x - 2).toFixed(1)}" x2="${(x + barW + 2).toFixed(1)}" y1="${yy}" y2="${yy}" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 3"/>`,
      );
    }
    out.push(
      `<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(g.label)}</text>`,
    );
  });
  out.push(...labels);
  let lx = left;
  const ly = H - 16;
  for (const c of options.only) {
    const label = unavailable.has(c) ? `${CONTENDERS[c].label} (not measured)` : CONTENDERS[c].label;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[c]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${escapeXml(label)}</text>`);
    lx += 30 + label.length * 6.5;
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// the targets of issues 9 and 10, each with its measured ratio and verdict

interface TargetRow {
  issue: string;
  target: string;
  /** the figures the ratio comes from */
  measured: string;
  ratio: string;
  /** undefined: not measured in this run */
  pass?: boolean;
  /** every run behind the ratio was contended: shown, not judged */
  contended: boolean;
}

const TARGET_CLIENT_SMALL = 1.5;
const TARGET_CLIENT_LARGE = 1.0;
const TARGET_DEFLATE = 1.0;
const TARGET_FANOUT = 5;
const TARGET_IDLE_KIB = 4;

function verdict(t: TargetRow): string {
  if (t.pass === undefined) return "– not measured";
  if (t.contended) return "⚠ not judged (contended)";
  return t.pass ? "✅" : "❌";
}

function ratioRow(
  issue: string,
  target: string,
  value: number,
  base: number,
  measured: string,
  pass: (ratio: number) => boolean,
  contended: boolean,
): TargetRow {
  const known = value > 0 && base > 0;
  const ratio = value / base;
  return {
    issue,
    target,
    measured: known ? measured : "–",
    ratio: known ? `${ratio.toFixed(2)}×` : "–",
    pass: known ? pass(ratio) : undefined,
    contended: known && contended,
  };
}

function targetRows(): TargetRow[] {
  const rows: TargetRow[] = [];
  const echo = options.parts.includes("echo");
  const rate = (scenario: Scenario, c: ContenderName, size?: number, text?: boolean) =>
    med(pick(scenario, c, size, text), (r) => r.msgsPerS);
  for (const size of [32, 1024, 65536, 1048576]) {
    const goal = TARGETS[String(size)]!;
    const ours = echo ? rate("echo", "sockjet", size) : Number.NaN;
    const raw = echo ? rate("echo", "raw", size) : Number.NaN;
    rows.push(
      ratioRow(
        "#9",
        `Server echo, ${formatSize(size)}, ${CONNS} connections: sockjet ≥ ${goal}× raw TCP`,
        ours,
        raw,
        `${formatRate(ours)} vs ${formatRate(raw)} msg/s`,
        (x) => x >= goal,
        shaky(pick("echo", "sockjet", size), pick("echo", "raw", size)),
      ),
    );
  }
  {
    const ours = echo ? rate("conns", "sockjet") : Number.NaN;
    const raw = echo ? rate("conns", "raw") : Number.NaN;
    rows.push(
      ratioRow(
        "#9",
        `Server echo, 32 B, ${MANY_CONNS.toLocaleString("en-US")} connections: sockjet ≥ ${TARGET_CONNS}× raw TCP`,
        ours,
        raw,
        `${formatRate(ours)} vs ${formatRate(raw)} msg/s`,
        (x) => x >= TARGET_CONNS,
        shaky(pick("conns", "sockjet"), pick("conns", "raw")),
      ),
    );
  }
  {
    const txt = echo ? rate("text", "sockjet", 1024, true) : Number.NaN;
    const bin = echo ? rate("text", "sockjet", 1024, false) : Number.NaN;
    rows.push(
      ratioRow(
        "#9",
        "Text frames within 15% of binary at 1 KiB: sockjet text ÷ binary ≥ 0.85×",
        txt,
        bin,
        `${formatRate(txt)} vs ${formatRate(bin)} msg/s`,
        (x) => x >= TARGET_TEXT,
        shaky(pick("text", "sockjet", 1024, true), pick("text", "sockjet", 1024, false)),
      ),
    );
  }
  {
    const per = (c: ContenderName) =>
      median(
        ok(records)
          .filter((r) => r.scenario === "idle" && r.contender === c && r.idle)
          .map((r) => r.idle!.perConnKiB),
      );
    const ours = echo ? per("sockjet") : Number.NaN;
    const known = Number.isFinite(ours);
    rows.push({
      issue: "#9",
      target: `Idle memory per connection (${options.idleConns.toLocaleString("en-US")} connections): sockjet ≤ ${TARGET_IDLE_KIB} KiB`,
      measured: known
        ? `${ours.toFixed(2)} KiB (raw ${per("raw").toFixed(2)}, ws ${per("ws").toFixed(2)})`
        : "–",
      ratio: known ? `${(ours / TARGET_IDLE_KIB).toFixed(2)}× the target` : "–",
      pass: known ? ours <= TARGET_IDLE_KIB : undefined,
      contended: false,
    });
  }
  const client = options.parts.includes("client");
  const crate = (c: ClientName, k: "small" | "large") =>
    client
      ? stat(clientRuns(clientRecords, c, k), (r) => r.msgsPerS)
      : { value: Number.NaN, contended: false };
  for (const [k, goal, label] of [
    ["small", TARGET_CLIENT_SMALL, "32 B, 16 in flight"],
    ["large", TARGET_CLIENT_LARGE, "64 KiB, 16 in flight"],
  ] as const) {
    const ours = crate("sockjet", k);
    const theirs = crate("ws", k);
    rows.push(
      ratioRow(
        "#9",
        `Client, one connection, ${label}: sockjet ≥ ${goal.toFixed(1)}× ws`,
        ours.value,
        theirs.value,
        `${formatRate(ours.value)} vs ${formatRate(theirs.value)} msg/s`,
        (x) => x >= goal,
        ours.contended || theirs.contended,
      ),
    );
  }
  {
    const p99 = (c: ClientName) =>
      client
        ? stat(clientRuns(clientRecords, c, "latency"), (r) => r.p99Us)
        : { value: Number.NaN, contended: false };
    const ours = p99("sockjet");
    const theirs = p99("ws");
    rows.push(
      ratioRow(
        "#9",
        "Client latency, 32 B, 1 in flight: sockjet p99 ≤ ws p99 (≤ 1.00×)",
        ours.value,
        theirs.value,
        `${ours.value.toFixed(0)} vs ${theirs.value.toFixed(0)} µs`,
        (x) => x <= 1,
        ours.contended || theirs.contended,
      ),
    );
  }
  {
    const deflate = options.parts.includes("deflate");
    const d = (server: "sockjet" | "ws") =>
      deflate
        ? stat(deflateRuns(deflateRecords, server), (r) => r.msgsPerS)
        : { value: Number.NaN, contended: false };
    const ours = d("sockjet");
    const theirs = d("ws");
    rows.push(
      ratioRow(
        "#9",
        "permessage-deflate echo, ~1 KiB JSON: sockjet server ≥ ws server (both `perMessageDeflate: true`)",
        ours.value,
        theirs.value,
        `${formatRate(ours.value)} vs ${formatRate(theirs.value)} msg/s`,
        (x) => x >= TARGET_DEFLATE,
        ours.contended || theirs.contended,
      ),
    );
  }
  const pairs = fanoutPairs(fanoutResults);
  if (pairs.length === 0) {
    rows.push({
      issue: "#10",
      target: `Fan-out, 1 → 1,000 subscribers: sockjet publish() ≥ ${TARGET_FANOUT}× the naïve ws loop`,
      measured: "–",
      ratio: "–",
      contended: false,
    });
  }
  for (const pair of pairs) {
    const ours = pair.sockjet?.deliveredPerSecond ?? Number.NaN;
    const theirs = pair.ws?.deliveredPerSecond ?? Number.NaN;
    rows.push(
      ratioRow(
        "#10",
        `Fan-out, ${formatSize(pair.size)}, 1 → ${(pair.sockjet ?? pair.ws)!.subscribers.toLocaleString("en-US")}, ${pair.label}: sockjet publish() ≥ ${TARGET_FANOUT}× the naïve ws loop`,
        ours,
        theirs,
        `${formatRate(ours)} vs ${formatRate(theirs)} deliveries/s`,
        (x) => x >= TARGET_FANOUT,
        fanoutContended([pair.sockjet, pair.ws], CONTENDED_CPU),
      ),
    );
  }
  {
    const frames = fanoutResults
      .filter((r) => r.contender === "sockjet" && r.framesPerMessage !== undefined)
      .map((r) => r.framesPerMessage!);
    const worst = frames.length > 0 ? Math.max(...frames) : Number.NaN;
    rows.push({
      issue: "#10",
      target:
        "Fan-out: the frame built once per publish (server.pubsubStats.framesEncoded ÷ messages published)",
      measured: Number.isFinite(worst)
        ? `at most ${worst.toFixed(2)} frames per publish (${frames.length} cases)`
        : "–",
      ratio: Number.isFinite(worst) ? `${worst.toFixed(2)}` : "–",
      pass: Number.isFinite(worst) ? worst <= 1.0001 : undefined,
      contended: false,
    });
  }
  return rows;
}

function targetTable(rows: TargetRow[]): string {
  return table(
    ["issue", "target", "measured", "ratio", "verdict"],
    rows.map((t) => [t.issue, t.target, t.measured, t.ratio, verdict(t)]),
    ["---", "---", "---:", "---:", "---"],
  );
}

function versionOf(pkg: string): string {
  try {
    return JSON.parse(readFileSync(join(repoRoot, "node_modules", pkg, "package.json"), "utf8"))
      .version as string;
  } catch {
    return "not installed";
  }
}

function bufferutilLoads(): boolean {
  const r = spawnSync(process.execPath, ["-e", "require('bufferutil')"], { cwd: repoRoot, timeout: 10_000 });
  return r.status === 0;
}

function machine(): string[] {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const gcc = spawnSync("gcc", ["--version"], { encoding: "utf8" }).stdout?.split("\n")[0] ?? "gcc";
  return [
    `- CPU: ${cpu}, ${os.availableParallelism()} logical CPUs (${pinning.note})`,
    `- OS: ${os.type()} ${os.release()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `- Node ${process.version}; ws ${versionOf("ws")} with bufferutil ${versionOf("bufferutil")} (${
      bufferutilLoads() ? "loads" : "does NOT load: ws runs its JS fallback"
    }); undici ${versionOf("undici")}; load generator and C echo server built with ${gcc}`,
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
  ];
}

interface Report {
  summary: Summary | undefined;
  client: ReturnType<typeof clientTables> | undefined;
  fanout: string | undefined;
  h2: ReturnType<typeof h2Tables> | undefined;
  targets: TargetRow[];
}

function contendedRuns(): { contended: number; measured: number } {
  const all = [
    ...records.filter((r) => r.result).map((r) => r.contended === true),
    ...clientRecords.filter((r) => r.result).map((r) => r.contended === true),
    ...deflateRecords.filter((r) => r.result).map((r) => r.contended === true),
    ...fanoutResults.map((r) => r.otherCpuPercent >= CONTENDED_CPU),
    ...h2Records.filter((r) => r.result).map((r) => r.contended === true),
  ];
  return { contended: all.filter(Boolean).length, measured: all.length };
}

function errorLines(): string[] {
  return [
    ...records.filter((r) => r.error).map((r) => `${describe(r)}: ${r.error}`),
    ...clientRecords.filter((r) => r.error).map((r) => `${describeClientJob(r.job)}: ${r.error}`),
    ...deflateRecords.filter((r) => r.error).map((r) => `${describeClientJob(r.job)}: ${r.error}`),
    ...(fanoutError ? [`fan-out: ${fanoutError}`] : []),
    ...h2Records.filter((r) => r.error).map((r) => `${describeH2Job(r.job, h2IdleSockets)}: ${r.error}`),
  ];
}

function markdown(report: Report, elapsedS: number, machineLines: string[]): string {
  const s = report.summary;
  const errors = errorLines();
  const lines: string[] = [];
  lines.push("# Benchmarks: server echo, client, permessage-deflate, fan-out and HTTP/2", "");
  lines.push(
    "Generated by `npm run bench` (`bench/run.ts`); do not edit by hand. " +
      `Parts: ${options.parts.join(", ")}. Run: ${options.runs} repetition(s); echo: ${options.duration} s measured after ${options.warmup} s warm-up` +
      `${options.verify ? ", every echoed byte verified" : ""}; client and deflate: ${options.clientDuration} s after ${options.clientWarmup} s; ` +
      `fan-out: runs of about ${options.fanoutSeconds} s; took ${(elapsedS / 60).toFixed(1)} min.`,
    "",
  );
  const { contended, measured } = contendedRuns();
  const unjudgedTargets = report.targets.filter((t) => t.contended && t.pass !== undefined).length;
  if (contended > 0) {
    lines.push(
      `> ⚠ **${contended} of ${measured} runs were contended** by other work on this machine ` +
        `(other processes used ≥ ${CONTENDED_CPU}% of a CPU during the run).` +
        (unjudgedTargets > 0
          ? ` Figures marked ⚠ come only from contended runs: they are not reliable, and ${unjudgedTargets} target(s) were not judged.` +
            " Re-run `npm run bench` on an otherwise idle machine."
          : " Medians use only the uncontended runs."),
      "",
    );
  }
  lines.push("## Summary: the targets of issues 9 and 10", "");
  lines.push(targetTable(report.targets), "");
  lines.push(
    "Ratios are of medians measured in this run (never absolute times). ⚠ not judged: every run behind the ratio was contended.",
    "",
  );
  lines.push("## Machine", "", ...machineLines, "");
  for (const [c, why] of unavailable) lines.push(`> **${c}: unavailable** (${why}) — not measured.`, "");
  lines.push("## Method", "");
  lines.push(
    `- ${pinning.note}. Every run starts fresh server and client processes and stops them afterwards; contenders are interleaved and their order rotates between repetitions. Figures are medians.`,
    `- Noise from other work on the machine: before each run the harness waits (up to ${QUIET_WAIT_MS / 1000} s, ${QUIET_BUDGET_MS / 1000} s in all) until less than ${QUIET_CPU}% of a CPU is in use; a run during which other processes used ≥ ${CONTENDED_CPU}% of a CPU (machine busy time from \`/proc/stat\` minus the processes of the benchmark) is marked contended (*), repeated once (up to ${RETRY_BUDGET} repeats; fan-out cases are not repeated), and medians use only uncontended runs where a case has any (⚠ where it has none: shown, not judged).`,
    "- CPU is % of one core over the measured window (servers: `/proc/PID/stat`, all threads; load generator: `getrusage`; Node clients: `process.cpuUsage()`).",
    "",
  );
  if (s) {
    lines.push(
      "### Server echo",
      "",
      '- Three echo servers, each a small script in `bench/servers/`: `raw-echo.mjs` (Node `net`, writes back whatever it reads — the ceiling for any WebSocket server on Node), `ws-echo.mjs` (npm `ws`, `perMessageDeflate: false`, `ws.send(data, { binary: isBinary })`) and `sockjet-echo.mjs` (the built package from `dist/`; `socket.onmessage = (e) => socket.send(e.data)`, `perMessageDeflate: false`), run twice: `sockjet` with `binaryType = "nodebuffer"` (Buffers in and out, as ws hands its listeners: the same work, so this one is judged against the targets) and `sockjet-ab` with `binaryType = "arraybuffer"` (the browser\'s type, echo sizes only), which also pays for one new `ArrayBuffer` per message — V8 makes one in ~340 ns at 32 B and ~820 ns at 1 KiB on this machine (`node bench/micro/arraybuffer.mjs`).',
      "- Load from `bench/loadgen/loadgen.c`: a single-threaded epoll client in C, built with `gcc -O2` at bench time. It does a real RFC 6455 handshake (random key per connection, `Sec-WebSocket-Accept` checked), sends masked frames, keeps a fixed number of messages in flight per connection (a new one is queued as each echo completes), answers pings, reassembles fragmented echoes, and checks length, type (text/binary), order and — unless `--no-verify` — every byte of each echo. Against the raw server it speaks a 4-byte big-endian length prefix instead of WebSocket framing.",
      "- msg/s counts echoed messages completed in the measured window; MB/s is payload in one direction (10^6 bytes); latency is from queueing a message to its echo being complete (so it includes the time spent behind the other messages in flight). Ratios are medians divided by the raw TCP median. The load generator would be the bottleneck if it were near 100% CPU while the server is not; that is checked and reported below.",
      `- Idle memory: the server's VmRSS (\`/proc/PID/status\`) after 100 warm-up connections were opened and closed, then after ${options.idleConns.toLocaleString("en-US")} more connections are open and idle (handshake done; for raw TCP one 1-byte echo each), divided by the number of connections.`,
      "",
    );
  }
  if (report.client) {
    lines.push(
      "### Client",
      "",
      "- Server: `bench/servers/echo-server.c`, a single-threaded epoll WebSocket echo in C (one write per read burst, unmasking 8 bytes at a time) pinned to the server CPU; its CPU use is reported below to show it is not the bottleneck. It never selects an extension.",
      '- Each client runs alone in its own process (`bench/clients/echo-client.mjs`, plain `node`, pinned to the other CPU) with one connection: sockjet from `dist/` (`new WebSocket(url, undefined, { perMessageDeflate: false })`, `onmessage`; `sockjet` with `binaryType = "nodebuffer"`, judged against the targets, and `sockjet-ab` with `binaryType = "arraybuffer"`), ws (`new WebSocket(url, { perMessageDeflate: false })` with bufferutil, `on("message")`, Buffers) and undici (`import { WebSocket } from "undici"`, `binaryType = "arraybuffer"`, `onmessage`). Each keeps N binary messages in flight (a new one is sent from the message handler of each echo).',
      `- ${options.clientWarmup} s warm-up, during which every echo is checked byte for byte and for order, then ${options.clientDuration} s measured (only lengths checked); then every outstanding echo must arrive. Latency (1 in flight): from \`send()\` to the echo's message event, every message of the measured window.`,
      "- A client well below 100% CPU was waiting, not computing: its rate is bound by round trips (e.g. when all the messages in flight travel together as one batch each way), and its CPU µs per message shows what a message costs it.",
      "",
      "### permessage-deflate",
      "",
      "- Servers: `sockjet-echo.mjs --deflate` and `ws-echo.mjs --deflate`, i.e. `perMessageDeflate: true` with each library's defaults (sockjet: no context takeover, level 1; ws: context takeover, zlib's default level; both: 1,024-byte threshold); the negotiated parameters are shown in the table.",
      `- Load: \`bench/clients/deflate-driver.mjs\`, a Node \`net\` client that offers \`permessage-deflate; client_max_window_bits\` like browsers, and keeps ${DEFLATE_LOAD.window} messages in flight on each of ${DEFLATE_LOAD.conns} connections: 64 different JSON text messages of 1,072–1,080 bytes, compressed once up front (so the client costs little and the server is measured). Every echo must be a compressed text frame; during the warm-up each is inflated and checked byte for byte.`,
      "",
    );
  }
  if (report.fanout !== undefined) {
    lines.push(
      "### Fan-out",
      "",
      '- `bench/fanout.ts`: 1 publisher → 1,000 subscribers (raw WebSocket clients in one receivers process that only count frames). sockjet: `socket.subscribe("bench")` and `server.publish("bench", data)` (the built package from `dist/`); ws: the naïve loop `for (const c of wss.clients) c.send(data)`. The server is pinned to the server CPU, the receivers and the publishing client to the other.',
      "- Publishers: *client* — a ws client sends the messages to the server, whose message handler publishes each (the chat shape), in windows of 64 paced by the receivers; *server loop, burst N* — the server publishes N messages per event-loop turn (1: the worst case for write batching).",
      `- Each case: a warm-up that also sizes the runs, then ${options.runs} run(s) of about ${options.fanoutSeconds} s; delivered messages/s is the median. Frames built per publish comes from \`server.pubsubStats.framesEncoded\`.`,
      "",
    );
  }
  if (report.h2) {
    lines.push(
      "### WebSockets over HTTP/2",
      "",
      `- Server: \`bench/servers/sockjet-h2-echo.mjs\`, sockjet's \`WebSocketServer\` with \`http2: true\` and \`tls\` (a self-signed P-256 certificate made with openssl), \`perMessageDeflate: false\`, echoing every message; it serves HTTP/1.1 upgrades and RFC 8441 extended CONNECTs on one port. Client: \`bench/clients/h2-driver.mjs\`, sockjet's \`WebSocket\` from \`dist/\` with \`http2: "always"\` (all sockets are streams of one shared session) or \`http2: "never"\` (a TLS connection each).`,
      `- Echo: ${H2_LOAD.conns} sockets × ${H2_LOAD.window} binary messages in flight; every echo is checked for length and order. Idle: 50 sockets opened and closed first, then the server's VmRSS before and 1 s after ${h2IdleSockets.toLocaleString("en-US")} sockets are open, divided by their number.`,
      "",
    );
  }
  if (s) {
    lines.push("## Server echo throughput (64 connections, binary messages)", "", s.echo, "");
    lines.push(
      "Targets (sockjet ÷ raw): ≥ 0.6× at 32 B and 1 KiB, ≥ 0.9× at 64 KiB and 1 MiB; 1,000 connections ≥ 0.5×; text within 15% of binary.",
      "",
    );
    lines.push("![Echo throughput relative to raw TCP](bench-echo.svg)", "");
    lines.push("### Details (medians)", "", s.detail, "");
    lines.push(
      `## ${MANY_CONNS.toLocaleString("en-US")} connections, 32 B, ${MANY_CONNS_WINDOW} in flight each`,
      "",
      s.conns,
      "",
    );
    lines.push("## Text vs binary (1 KiB, 64 connections × 16 in flight)", "", s.text, "");
    lines.push(
      `## Idle memory per connection (${options.idleConns.toLocaleString("en-US")} connections)`,
      "",
      s.idle,
      "",
      `Target: sockjet ≤ ${TARGET_IDLE_KIB} KiB per connection.`,
      "",
    );
  }
  if (report.client) {
    const c = report.client;
    lines.push("## Client: one connection against a C echo server", "", c.throughput, "");
    lines.push(
      `Targets: sockjet ≥ ${TARGET_CLIENT_SMALL}× ws at 32 B with 16 in flight, ≥ ${TARGET_CLIENT_LARGE.toFixed(1)}× ws at 64 KiB; p99 at 1 in flight no worse than ws.`,
      "",
    );
    lines.push("### Latency, 32 B, 1 in flight", "", c.latency, "");
    lines.push("### Details (medians)", "", c.detail, "");
    lines.push(
      `## permessage-deflate echo (~1 KiB JSON text, ${DEFLATE_LOAD.conns} connections × ${DEFLATE_LOAD.window} in flight)`,
      "",
      c.deflate,
      "",
      "Target: sockjet ≥ ws.",
      "",
    );
  }
  if (report.fanout !== undefined) {
    lines.push("## Fan-out: 1 publisher → 1,000 subscribers", "", report.fanout, "");
    lines.push(`Target: ≥ ${TARGET_FANOUT}× the naïve ws loop, and the frame built once per publish.`, "");
  }
  if (report.h2) {
    lines.push(
      `## WebSockets over HTTP/2 vs HTTP/1.1 + TLS (${H2_LOAD.conns} sockets × ${H2_LOAD.window} in flight)`,
      "",
      report.h2.echo,
      "",
      "### Idle memory per socket",
      "",
      report.h2.idle,
      "",
    );
  }
  lines.push("## Warnings and errors", "");
  if (warnings.length === 0 && errors.length === 0) lines.push("None.");
  for (const w of warnings) lines.push(`- warning: ${w}`);
  for (const e of errors) lines.push(`- error: ${e}`);
  lines.push("");
  return `${lines.join("\n")}`;
}

// ---------------------------------------------------------------------------------------------------------------
// running

const clientRecords: ClientRecord[] = [];
const deflateRecords: DeflateRecord[] = [];
let fanoutResults: FanoutResult[] = [];
let fanoutError: string | undefined;
const h2Records: H2Record[] = [];
const h2IdleSockets = options.quick ? 300 : H2_IDLE_SOCKETS;

interface Task {
  label: string;
  /** wait for a quiet machine first */
  quiet: boolean;
  skip?: () => boolean;
  /** runs once; logs its line; says whether the run was contended */
  run(prefix: string): Promise<{ contended: boolean }>;
}

function echoTask(bin: string, job: Job): Task {
  return {
    label: describe(job),
    quiet: job.scenario !== "idle",
    skip: () => unavailable.has(job.contender),
    async run(prefix) {
      const record: Record_ = { ...job };
      if (job.scenario === "idle") await runIdle(bin, job, record);
      else await runEcho(bin, job, record);
      if (record.skipped) return { contended: false };
      record.contended = (record.result?.otherCpu ?? 0) >= CONTENDED_CPU;
      records.push(record);
      if (record.error) {
        log(`${prefix} ERROR ${record.error}`);
      } else if (record.idle) {
        const m = record.idle;
        log(`${prefix} ${m.perConnKiB.toFixed(2)} KiB/conn (RSS ${m.beforeKiB} -> ${m.afterKiB} KiB)`);
      } else if (record.result) {
        const r = record.result;
        log(
          `${prefix} ${formatRate(r.msgsPerS)} msg/s, ${r.mbPerS.toFixed(1)} MB/s, p50 ${r.p50Us.toFixed(0)} µs, ` +
            `p99 ${r.p99Us.toFixed(0)} µs, cpu server ${r.serverCpu.toFixed(0)}% loadgen ${r.clientCpu.toFixed(0)}%`,
        );
        if (r.clientCpu >= 95 && r.serverCpu >= 0 && r.serverCpu < 95) {
          const w = `${describe(job)}: the load generator was the bottleneck (loadgen ${r.clientCpu.toFixed(0)}% CPU, server ${r.serverCpu.toFixed(0)}%)`;
          warnings.push(w);
          log(`  warning: ${w}`);
        }
        if (r.steal >= 5)
          warnings.push(`${describe(job)}: ${r.steal.toFixed(0)}% CPU steal (noisy neighbour)`);
        if (record.contended)
          log(`  contended: other processes used ${r.otherCpu.toFixed(0)}% of a CPU during the run`);
      }
      return { contended: record.contended };
    },
  };
}

function clientTask<R extends ClientRecord | DeflateRecord | H2Record>(
  label: string,
  runJob: () => Promise<R>,
  store: R[],
  quiet = true,
): Task {
  return {
    label,
    quiet,
    async run(prefix) {
      const record = await runJob();
      record.contended = (record.result?.otherCpu ?? 0) >= CONTENDED_CPU;
      store.push(record);
      const r = record.result;
      if (record.error || !r) {
        log(`${prefix} ERROR ${record.error ?? "no result"}`);
        return { contended: false };
      }
      if ("perSocketKiB" in r && typeof r.perSocketKiB === "number") {
        log(`${prefix} ${r.perSocketKiB.toFixed(2)} KiB/socket (RSS ${r.beforeKiB} -> ${r.afterKiB} KiB)`);
        return { contended: false };
      }
      const latency =
        typeof r.p99Us === "number" ? `, p50 ${r.p50Us?.toFixed(0)} µs, p99 ${r.p99Us.toFixed(0)} µs` : "";
      const bytes = typeof r.echoBytes === "number" ? `, ${r.echoBytes.toFixed(0)} B/echo` : "";
      log(
        `${prefix} ${formatRate(r.msgsPerS)} msg/s${latency}${bytes}, cpu client ${r.clientCpu.toFixed(0)}% server ${r.serverCpu.toFixed(0)}%`,
      );
      if (record.contended)
        log(`  contended: other processes used ${r.otherCpu.toFixed(0)}% of a CPU during the run`);
      return { contended: record.contended };
    },
  };
}

/** Pins this process (all its threads) to `cpus`, with taskset; returns false when that is not possible. */
function pinSelf(cpus: number[]): boolean {
  if (cpus.length === 0 || !which("taskset")) return false;
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus.join(","), String(process.pid)], {
    timeout: 10_000,
  });
  return r.status === 0;
}

function fanoutTask(): Task {
  return {
    label: "fan-out",
    quiet: true,
    async run(prefix) {
      log(`${prefix} 1 publisher → 1,000 subscribers, sockjet publish() vs the naïve ws loop`);
      // the publishing client runs in this process: keep it off the server's CPU
      const allCpus = allowedCpus();
      const pinnedSelf = pinning.loadgen !== undefined && pinSelf([pinning.loadgen]);
      try {
        fanoutResults = await runFanout({
          subscribers: 1000,
          sizes: [32, 1024],
          publishers: ["client", "server"],
          bursts: [1, 16],
          runs: options.runs,
          seconds: options.fanoutSeconds,
          contenders: ["sockjet", "ws"],
          dist: true,
          cpus: { server: pinning.server, receivers: pinning.loadgen },
          log,
        });
      } catch (error) {
        fanoutError = (error as Error).message;
        log(`${prefix} ERROR ${fanoutError}`);
      } finally {
        if (pinnedSelf) pinSelf(allCpus);
      }
      const contended = fanoutResults.filter((r) => r.otherCpuPercent >= CONTENDED_CPU);
      for (const r of contended) {
        log(
          `  contended: ${r.contender} ${formatSize(r.size)} ${r.publisher}${r.publisher === "server" ? ` burst ${r.burst}` : ""}: other processes used ${r.otherCpuPercent.toFixed(0)}% of a CPU`,
        );
      }
      // fan-out cases are not repeated (each takes a while): contended ones are shown and not judged
      return { contended: false };
    },
  };
}

async function main(): Promise<number> {
  const t0 = Date.now();
  log(`sockjet benchmark: ${options.parts.join(", ")}`);
  if (options.parts.includes("echo"))
    log(`  echo: ${options.only.join(", ")}; sizes ${options.sizes.map(formatSize).join(", ")}`);
  if (options.parts.includes("client")) log(`  client: ${options.clients.join(", ")}`);
  log(pinning.note);
  if (pinning.server === undefined) warnings.push(`${pinning.note}: the figures are not reliable`);
  // sockjet runs from dist/, as users run it: build it from the current sources first.
  const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
  if (build.status !== 0) {
    log("npm run build failed");
    return 1;
  }
  const tasks: Task[] = [];
  let estimateS = 0;
  if (options.parts.includes("echo")) {
    let bin: string;
    try {
      bin = compileLoadgen(join(defaultOutDir, "loadgen"));
    } catch (error) {
      log(`cannot build the load generator: ${(error as Error).message}`);
      return 1;
    }
    const jobs = planJobs(options);
    tasks.push(...jobs.map((job) => echoTask(bin, job)));
    estimateS += jobs.length * (options.duration + options.warmup + 1.5);
  }
  const ctx = {
    echoServer: "",
    serverCpu: pinning.server,
    clientCpu: pinning.loadgen,
    duration: options.clientDuration,
    warmup: options.clientWarmup,
  };
  if (options.parts.includes("client")) {
    try {
      ctx.echoServer = compileEchoServer(join(defaultOutDir, "echo-server"));
    } catch (error) {
      log(`cannot build the C echo server: ${(error as Error).message}`);
      return 1;
    }
    const jobs = planClientJobs(options.runs, options.clients);
    tasks.push(
      ...jobs.map((job) => clientTask(describeClientJob(job), () => runClientJob(job, ctx), clientRecords)),
    );
    estimateS += jobs.length * (options.clientDuration + options.clientWarmup + 1);
  }
  if (options.parts.includes("deflate")) {
    const jobs = planDeflateJobs(options.runs);
    tasks.push(
      ...jobs.map((job) => clientTask(describeClientJob(job), () => runDeflateJob(job, ctx), deflateRecords)),
    );
    estimateS += jobs.length * (options.clientDuration + options.clientWarmup + 1.5);
  }
  if (options.parts.includes("h2")) {
    const h2Ctx = { ...ctx, idleSockets: h2IdleSockets };
    const jobs = planH2Jobs(options.runs);
    tasks.push(
      ...jobs.map((job) =>
        clientTask(
          describeH2Job(job, h2IdleSockets),
          () => runH2Job(job, h2Ctx),
          h2Records,
          job.task === "echo",
        ),
      ),
    );
    estimateS += jobs.length * (options.clientDuration + options.clientWarmup + 3);
  }
  if (options.parts.includes("fanout")) {
    tasks.push(fanoutTask());
    estimateS += 12 * (6 + options.runs * options.fanoutSeconds);
  }
  // `sockjet serve --workers` 1 → 2 (bench/workers.ts)
  const workers = options.parts.includes("workers") ? workersPart({ ...options, log }) : undefined;
  if (workers) tasks.push(workers.task);
  estimateS += workers?.estimateS ?? 0;
  log(`${tasks.length} runs, about ${Math.ceil(estimateS / 60)} min`);
  let quietWaitedMs = 0;
  let retries = 0;
  const queue = tasks.map((task, i) => ({ task, label: `${i + 1}`, retry: false }));
  for (let qi = 0; qi < queue.length; qi++) {
    const { task, label, retry } = queue[qi]!;
    if (task.skip?.()) continue;
    if (task.quiet) quietWaitedMs += await waitForQuiet(QUIET_BUDGET_MS - quietWaitedMs);
    const prefix = `[${label.padStart(String(tasks.length).length)}/${tasks.length}${retry ? " again" : ""}] ${task.label}:`;
    const { contended } = await task.run(prefix);
    if (contended && !retry && retries < RETRY_BUDGET) {
      retries++;
      queue.splice(qi + 1, 0, { task, label, retry: true });
    }
  }
  const { contended } = contendedRuns();
  if (contended > 0)
    warnings.push(
      `${contended} run(s) were contended (other processes used ≥ ${CONTENDED_CPU}% of a CPU; marked * below); ` +
        `medians use only uncontended runs where a case has any (⚠ where it has none); ${retries} run(s) repeated`,
    );
  if (quietWaitedMs > 0) log(`waited ${(quietWaitedMs / 1000).toFixed(0)} s in all for a quiet machine`);
  const elapsedS = (Date.now() - t0) / 1000;
  const summary = options.parts.includes("echo") ? summarize() : undefined;
  const hasClient = options.parts.includes("client") || options.parts.includes("deflate");
  const client = hasClient ? clientTables(clientRecords, deflateRecords, options.clients) : undefined;
  if (client) warnings.push(...client.warnings);
  const fanout = options.parts.includes("fanout")
    ? formatFanout(fanoutResults, { target: TARGET_FANOUT, contendedCpu: CONTENDED_CPU })
    : undefined;
  const h2 = options.parts.includes("h2") ? h2Tables(h2Records, h2IdleSockets) : undefined;
  const targets = targetRows();
  const machineLines = machine();
  const md =
    markdown({ summary, client, fanout, h2, targets }, elapsedS, machineLines) + (workers?.markdown() ?? "");
  const docsDir = options.docs ? join(repoRoot, "docs") : defaultOutDir;
  mkdirSync(docsDir, { recursive: true });
  mkdirSync(defaultOutDir, { recursive: true });
  writeFileSync(join(docsDir, "BENCHMARKS.md"), md);
  if (summary) writeFileSync(join(docsDir, "bench-echo.svg"), renderSvg());
  const summaryMd = `${targetTable(targets)}\n`;
  writeFileSync(join(defaultOutDir, "summary.md"), summaryMd);
  writeFileSync(
    join(defaultOutDir, "results.json"),
    `${JSON.stringify(
      {
        options,
        pinning,
        unavailable: Object.fromEntries(unavailable),
        records,
        clientRecords,
        deflateRecords,
        fanoutResults,
        h2Records,
        warnings,
        errors: errorLines(),
      },
      null,
      2,
    )}\n`,
  );
  const out: string[] = ["", ...machineLines, ""];
  out.push(...[...unavailable].map(([c, why]) => `${c}: unavailable (${why})`));
  if (summary) {
    out.push(
      "Echo throughput (64 connections, binary):",
      summary.echo,
      "",
      summary.detail,
      "",
      `${MANY_CONNS} connections, 32 B:`,
      summary.conns,
      "",
      "Text vs binary, 1 KiB:",
      summary.text,
      "",
      "Idle memory per connection:",
      summary.idle,
      "",
    );
  }
  if (client) {
    out.push(
      "Client, one connection against the C echo server:",
      client.throughput,
      "",
      "Client latency, 32 B, 1 in flight:",
      client.latency,
      "",
      client.detail,
      "",
      "permessage-deflate echo:",
      client.deflate,
      "",
    );
  }
  if (fanout !== undefined) out.push("Fan-out, 1 publisher → 1,000 subscribers:", fanout, "");
  if (h2) out.push("WebSockets over HTTP/2 vs HTTP/1.1 + TLS:", h2.echo, "", h2.idle, "");
  if (workers) out.push("sockjet serve --workers, 1 → 2 processes:", workers.table(), "");
  out.push(
    `Targets of issues 9 and 10 (README-ready, also in ${relative(repoRoot, join(defaultOutDir, "summary.md"))}):`,
    summaryMd,
  );
  out.push(...warnings.map((w) => `warning: ${w}`));
  out.push(...errorLines().map((e) => `error: ${e}`));
  out.push(
    `report: ${relative(repoRoot, join(docsDir, "BENCHMARKS.md"))}${summary ? `, ${relative(repoRoot, join(docsDir, "bench-echo.svg"))}` : ""} (${(elapsedS / 60).toFixed(1)} min)`,
  );
  console.log(out.join("\n"));
  return errorLines().length > 0 || workers?.failed() ? 1 : 0;
}

main().then(
  (code) => {
    killAll();
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    killAll();
    process.exitCode = 1;
  },
);
