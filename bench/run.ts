// Echo benchmark: sockjet against npm `ws` and a raw TCP echo server in Node's `net`, driven by our own C load
// generator (bench/loadgen/loadgen.c). Run with `npm run bench` (= node --import tsx bench/run.ts); see --help.
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
  CONTENDER_NAMES,
  CONTENDERS,
  type ContenderName,
  choosePinning,
  compileLoadgen,
  defaultOutDir,
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
} from "./lib.js";

const USAGE = `usage: npm run bench -- [options]
  --quick            1 run per case, 1 s measured (0.5 s warm-up), 2,000 idle connections: a smoke test
  --only=raw,ws      contenders to run (raw, ws, sockjet)
  --sizes=32,1k      payload sizes (default 32,1k,64k,1m)
  --runs=N           repetitions of every case (default 3)
  --duration=SECS    measured seconds per run (default 5)
  --no-verify        do not check every echoed byte (lengths, opcodes and order are still checked)
  --docs / --no-docs write docs/BENCHMARKS.md and docs/bench-echo.svg (default: only for a full default run;
                     otherwise the report goes to bench/out/)`;

interface Options {
  quick: boolean;
  only: ContenderName[];
  sizes: number[];
  runs: number;
  duration: number;
  warmup: number;
  idleConns: number;
  verify: boolean;
  docs: boolean;
}

function parseOptions(argv: string[]): Options {
  let quick = false;
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
      only = value.split(",").map((name) => {
        if (!(CONTENDER_NAMES as string[]).includes(name)) throw new Error(`unknown contender '${name}'`);
        return name as ContenderName;
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
    only,
    sizes,
    runs: runs ?? (quick ? 1 : 3),
    duration: duration ?? (quick ? 1 : 5),
    warmup: quick ? 0.5 : 1,
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
  const wsLike = o.only.filter((c) => CONTENDERS[c].protocol === "ws");
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
    for (const contender of rotate(o.only, rep)) {
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
    for (const contender of rotate(o.only, rep)) {
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

/** ratio cells whose inputs were all contended: figures shown, targets not judged */
let unjudged = 0;

function ratioCell(value: number, base: number, target?: number, contended = false): string {
  if (!(value > 0 && base > 0)) return "–";
  const ratio = value / base;
  const text = `${ratio.toFixed(2)}×`;
  if (contended) {
    if (target !== undefined) unjudged++;
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
  const connsRows = cs.map((c) => {
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
  const textRows = cs
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
  const idleRows = cs.map((c) => {
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
  const colors: Record<ContenderName, string> = { raw: "#8c8c8c", ws: "#4e79a7", sockjet: "#f28e2b" };
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
    }); load generator built with ${gcc}`,
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
  ];
}

function markdown(s: Summary, elapsedS: number, machineLines: string[]): string {
  const errors = records.filter((r) => r.error);
  const lines: string[] = [];
  lines.push("# Benchmarks: echo server throughput, latency and memory", "");
  lines.push(
    "Generated by `npm run bench` (`bench/run.ts`); do not edit by hand. " +
      `Run: ${options.runs} repetition(s), ${options.duration} s measured after ${options.warmup} s warm-up` +
      `${options.verify ? ", every echoed byte verified" : ""}; took ${(elapsedS / 60).toFixed(1)} min.`,
    "",
  );
  const contended = records.filter((r) => r.contended).length;
  const measured = records.filter((r) => r.result).length;
  if (contended > 0) {
    lines.push(
      `> ⚠ **${contended} of ${measured} throughput runs were contended** by other work on this machine ` +
        `(other processes used ≥ ${CONTENDED_CPU}% of a CPU during the run).` +
        (unjudged > 0
          ? ` Figures marked ⚠ come only from contended runs: they are not reliable, and ${unjudged} target(s) were not judged.` +
            " Re-run `npm run bench` on an otherwise idle machine."
          : " Medians use only the uncontended runs."),
      "",
    );
  }
  lines.push("## Machine", "", ...machineLines, "");
  for (const [c, why] of unavailable) lines.push(`> **${c}: unavailable** (${why}) — not measured.`, "");
  lines.push("## Method", "");
  lines.push(
    '- Three echo servers, each a small script in `bench/servers/`: `raw-echo.mjs` (Node `net`, writes back whatever it reads — the ceiling for any WebSocket server on Node), `ws-echo.mjs` (npm `ws`, `perMessageDeflate: false`, `ws.send(data, { binary: isBinary })`) and `sockjet-echo.mjs` (the built package from `dist/`; `socket.onmessage = (e) => socket.send(e.data)`, `binaryType = "arraybuffer"`, `perMessageDeflate: false`).',
    "- Load from `bench/loadgen/loadgen.c`: a single-threaded epoll client in C, built with `gcc -O2` at bench time. It does a real RFC 6455 handshake (random key per connection, `Sec-WebSocket-Accept` checked), sends masked frames, keeps a fixed number of messages in flight per connection (a new one is queued as each echo completes), answers pings, reassembles fragmented echoes, and checks length, type (text/binary), order and — unless `--no-verify` — every byte of each echo. Against the raw server it speaks a 4-byte big-endian length prefix instead of WebSocket framing.",
    `- ${pinning.note}. Every run starts a fresh server process and stops it afterwards; contenders are interleaved and their order rotates between repetitions. Figures are medians; ratios are medians divided by the raw TCP median.`,
    "- msg/s counts echoed messages completed in the measured window; MB/s is payload in one direction (10^6 bytes); latency is from queueing a message to its echo being complete (so it includes the time spent behind the other messages in flight).",
    "- CPU is % of one core over the measured window (server: `/proc/PID/stat`, all threads; loadgen: `getrusage`). The load generator would be the bottleneck if it were near 100% while the server is not; that is checked and reported below.",
    `- Noise from other work on the machine: before each run the harness waits (up to ${QUIET_WAIT_MS / 1000} s, ${QUIET_BUDGET_MS / 1000} s in all) until less than ${QUIET_CPU}% of a CPU is in use; a run during which other processes used ≥ ${CONTENDED_CPU}% of a CPU (machine busy time from \`/proc/stat\` minus the server and the load generator) is marked contended (*), repeated once (up to ${RETRY_BUDGET} repeats), and medians use only uncontended runs where a case has any (⚠ where it has none).`,
    `- Idle memory: the server's VmRSS (\`/proc/PID/status\`) after 100 warm-up connections were opened and closed, then after ${options.idleConns.toLocaleString("en-US")} more connections are open and idle (handshake done; for raw TCP one 1-byte echo each), divided by the number of connections.`,
    "",
  );
  lines.push("## Echo throughput (64 connections, binary messages)", "", s.echo, "");
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
  );
  lines.push("## Warnings and errors", "");
  if (warnings.length === 0 && errors.length === 0) lines.push("None.");
  for (const w of warnings) lines.push(`- warning: ${w}`);
  for (const r of errors) lines.push(`- error: ${describe(r)}: ${r.error}`);
  lines.push("");
  return `${lines.join("\n")}`;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  log(
    `sockjet echo benchmark: ${options.only.join(", ")}; sizes ${options.sizes.map(formatSize).join(", ")}`,
  );
  log(pinning.note);
  if (pinning.server === undefined) warnings.push(`${pinning.note}: the figures are not reliable`);
  // sockjet runs from dist/, as users run it: build it from the current sources first.
  const build = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
  if (build.status !== 0) {
    log("npm run build failed");
    return 1;
  }
  let bin: string;
  try {
    bin = compileLoadgen(join(defaultOutDir, "loadgen"));
  } catch (error) {
    log(`cannot build the load generator: ${(error as Error).message}`);
    return 1;
  }
  const jobs = planJobs(options);
  const perRun = options.duration + options.warmup + 1;
  log(`${jobs.length} runs, about ${Math.ceil((jobs.length * perRun) / 60)} min`);
  let quietWaitedMs = 0;
  let retries = 0;
  const queue = jobs.map((job, i) => ({ job, label: `${i + 1}`, retry: false }));
  for (let qi = 0; qi < queue.length; qi++) {
    const { job, label, retry } = queue[qi]!;
    if (unavailable.has(job.contender)) continue;
    if (job.scenario !== "idle") quietWaitedMs += await waitForQuiet(QUIET_BUDGET_MS - quietWaitedMs);
    const record: Record_ = { ...job };
    if (job.scenario === "idle") await runIdle(bin, job, record);
    else await runEcho(bin, job, record);
    if (record.skipped) continue;
    record.contended = (record.result?.otherCpu ?? 0) >= CONTENDED_CPU;
    records.push(record);
    const prefix = `[${label.padStart(String(jobs.length).length)}/${jobs.length}${retry ? " again" : ""}] ${describe(job)}:`;
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
      if (r.steal >= 5) warnings.push(`${describe(job)}: ${r.steal.toFixed(0)}% CPU steal (noisy neighbour)`);
      if (record.contended) {
        log(`  contended: other processes used ${r.otherCpu.toFixed(0)}% of a CPU during the run`);
        if (!retry && retries < RETRY_BUDGET) {
          retries++;
          queue.splice(qi + 1, 0, { job, label, retry: true });
        }
      }
    }
  }
  const contended = records.filter((r) => r.contended).length;
  if (contended > 0)
    warnings.push(
      `${contended} run(s) were contended (other processes used ≥ ${CONTENDED_CPU}% of a CPU; marked * below); ` +
        `medians use only uncontended runs where a case has any (⚠ where it has none); ${retries} run(s) repeated`,
    );
  if (quietWaitedMs > 0) log(`waited ${(quietWaitedMs / 1000).toFixed(0)} s in all for a quiet machine`);
  const elapsedS = (Date.now() - t0) / 1000;
  const summary = summarize();
  const machineLines = machine();
  const md = markdown(summary, elapsedS, machineLines);
  const svg = renderSvg();
  const docsDir = options.docs ? join(repoRoot, "docs") : defaultOutDir;
  mkdirSync(docsDir, { recursive: true });
  mkdirSync(defaultOutDir, { recursive: true });
  writeFileSync(join(docsDir, "BENCHMARKS.md"), md);
  writeFileSync(join(docsDir, "bench-echo.svg"), svg);
  writeFileSync(
    join(defaultOutDir, "results.json"),
    `${JSON.stringify({ options, pinning, unavailable: Object.fromEntries(unavailable), records, warnings }, null, 2)}\n`,
  );
  console.log(
    [
      "",
      ...machineLines,
      "",
      ...[...unavailable].map(([c, why]) => `${c}: unavailable (${why})`),
      "",
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
      ...warnings.map((w) => `warning: ${w}`),
      ...records.filter((r) => r.error).map((r) => `error: ${describe(r)}: ${r.error}`),
      `report: ${relative(repoRoot, join(docsDir, "BENCHMARKS.md"))}, ${relative(repoRoot, join(docsDir, "bench-echo.svg"))} (${(elapsedS / 60).toFixed(1)} min)`,
    ].join("\n"),
  );
  return records.some((r) => r.error) ? 1 : 0;
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
