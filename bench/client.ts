// Client benchmark (issue 9): one connection from sockjet's client, npm `ws` and undici's WebSocket against a
// minimal C echo server that is never the bottleneck (bench/servers/echo-server.c); and the permessage-deflate
// echo: sockjet's server against `ws`'s, both with `perMessageDeflate: true`, on ~1 KiB JSON text messages.
// bench/run.ts plans, runs and reports these jobs (`npm run bench -- --only=client,deflate`).
//
// Every run is a fresh server process pinned to one CPU and a fresh client process pinned to the other
// (bench/clients/echo-client.mjs, bench/clients/deflate-driver.mjs: plain JavaScript run by plain node). Each
// prints one RESULT line with its messages/s, latency, and the CPU use of itself, the server and everything else
// on the machine (the contention check bench/run.ts applies to every run).
import { join } from "node:path";
import {
  benchDir,
  CONTENDERS,
  compileC,
  defaultOutDir,
  formatRate,
  formatSize,
  median,
  runProcess,
  type ServerHandle,
  startListening,
  startServer,
} from "./lib.js";

export const CLIENT_NAMES = ["sockjet", "sockjet-ab", "ws", "undici"] as const;
export type ClientName = (typeof CLIENT_NAMES)[number];

export const CLIENT_LABELS: Record<ClientName, string> = {
  sockjet: 'sockjet ("nodebuffer")',
  "sockjet-ab": 'sockjet ("arraybuffer")',
  ws: "ws + bufferutil",
  undici: "undici",
};

export type ClientCaseName = "small" | "large" | "latency";

export interface ClientCase {
  name: ClientCaseName;
  size: number;
  window: number;
  latency: boolean;
  label: string;
}

export const CLIENT_CASES: ClientCase[] = [
  { name: "small", size: 32, window: 16, latency: false, label: "32 B, 16 in flight" },
  { name: "large", size: 64 * 1024, window: 16, latency: false, label: "64 KiB, 16 in flight" },
  { name: "latency", size: 32, window: 1, latency: true, label: "32 B, 1 in flight" },
];

export const DEFLATE_SERVERS = ["sockjet", "ws"] as const;
export type DeflateServerName = (typeof DEFLATE_SERVERS)[number];

/** the permessage-deflate load: connections × messages in flight on each */
export const DEFLATE_LOAD = { conns: 16, window: 16 };

export interface ClientJob {
  part: "client";
  case: ClientCaseName;
  client: ClientName;
  rep: number;
}

export interface DeflateJob {
  part: "deflate";
  server: DeflateServerName;
  rep: number;
}

/** What a client process prints on its RESULT line. */
export interface DriverResult {
  msgs: number;
  msgsPerS: number;
  /** latency runs only (null in the JSON otherwise) */
  p50Us?: number | null;
  p99Us?: number | null;
  maxUs?: number | null;
  clientCpu: number;
  serverCpu: number;
  otherCpu: number;
  errors: number;
  error?: string;
  /** deflate only: mean compressed payload bytes per echo, and the server's Sec-WebSocket-Extensions */
  echoBytes?: number;
  extensions?: string;
  verified?: number;
}

export interface PartRecord<J> {
  job: J;
  result?: DriverResult;
  error?: string;
  /** other processes used ≥ the contention threshold of a CPU during the measured window */
  contended?: boolean;
}

export type ClientRecord = PartRecord<ClientJob>;
export type DeflateRecord = PartRecord<DeflateJob>;

export interface ClientContext {
  /** the compiled bench/servers/echo-server.c */
  echoServer: string;
  serverCpu?: number;
  clientCpu?: number;
  duration: number;
  warmup: number;
}

/** rotates the order from one repetition to the next, so that no client always runs first */
function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Every case × client, `runs` times, interleaved: case by case, clients in rotating order. */
export function planClientJobs(runs: number, clients: readonly ClientName[] = CLIENT_NAMES): ClientJob[] {
  const jobs: ClientJob[] = [];
  for (let rep = 0; rep < runs; rep++) {
    for (const c of CLIENT_CASES) {
      for (const client of rotate(clients, rep)) jobs.push({ part: "client", case: c.name, client, rep });
    }
  }
  return jobs;
}

export function planDeflateJobs(runs: number): DeflateJob[] {
  const jobs: DeflateJob[] = [];
  for (let rep = 0; rep < runs; rep++) {
    for (const server of rotate(DEFLATE_SERVERS, rep)) jobs.push({ part: "deflate", server, rep });
  }
  return jobs;
}

export function describeClientJob(job: ClientJob | DeflateJob): string {
  if (job.part === "deflate") {
    return `deflate ${job.server.padEnd(7)} ~1 KiB JSON x${DEFLATE_LOAD.conns}/${DEFLATE_LOAD.window} #${job.rep + 1}`;
  }
  const c = CLIENT_CASES.find((k) => k.name === job.case)!;
  return `client  ${job.client.padEnd(7)} ${formatSize(c.size)} x1/${c.window}${c.latency ? " latency" : ""} #${job.rep + 1}`;
}

export function compileEchoServer(output = join(defaultOutDir, "echo-server")): string {
  return compileC(join(benchDir, "servers", "echo-server.c"), output, "the C echo server");
}

function parseDriverResult(stdout: string): DriverResult | undefined {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("RESULT "));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice(7)) as DriverResult;
  } catch {
    return undefined;
  }
}

function tail(text: string, lines = 3): string {
  return text.trim().split("\n").slice(-lines).join(" | ");
}

/** Runs a client process against `server` and fills the record. */
async function drive(
  script: string,
  options: Record<string, unknown>,
  server: ServerHandle,
  ctx: ClientContext,
  record: PartRecord<unknown>,
): Promise<void> {
  const timeoutMs = (ctx.duration + ctx.warmup + 60) * 1000;
  const run = await runProcess(
    process.execPath,
    [join(benchDir, "clients", script), JSON.stringify({ ...options, serverPid: server.pid })],
    { cpu: ctx.clientCpu, timeoutMs },
  );
  const result = parseDriverResult(run.stdout);
  const died = server.exitInfo();
  if (died) record.error = `server ${died} during the run: ${tail(server.stderr(), 2)}`;
  else if (run.timedOut) record.error = `client timed out after ${timeoutMs / 1000} s`;
  else if (!result)
    record.error = `client exit ${run.code ?? run.signal}, no RESULT: ${tail(run.stderr) || "no output"}`;
  else if (run.code !== 0 || result.errors !== 0)
    record.error = `client: ${result.error ?? `exit ${run.code}`}`;
  if (result && !record.error) record.result = result;
}

/** One client run: a fresh C echo server, one client process, one connection. */
export async function runClientJob(job: ClientJob, ctx: ClientContext): Promise<ClientRecord> {
  const record: ClientRecord = { job };
  const c = CLIENT_CASES.find((k) => k.name === job.case)!;
  let server: ServerHandle;
  try {
    server = await startListening("echo-server", ctx.echoServer, ["-p", "0"], { cpu: ctx.serverCpu });
  } catch (error) {
    record.error = `echo server failed to start: ${(error as Error).message}`;
    return record;
  }
  try {
    const options = {
      client: job.client,
      url: `ws://127.0.0.1:${server.port}/`,
      size: c.size,
      window: c.window,
      latency: c.latency,
      duration: ctx.duration,
      warmup: ctx.warmup,
    };
    await drive("echo-client.mjs", options, server, ctx, record);
  } catch (error) {
    record.error = (error as Error).message;
  } finally {
    await server.stop();
  }
  return record;
}

/** One permessage-deflate run: a fresh sockjet or ws echo server with deflate on, driven by deflate-driver.mjs. */
export async function runDeflateJob(job: DeflateJob, ctx: ClientContext): Promise<DeflateRecord> {
  const record: DeflateRecord = { job };
  let server: ServerHandle;
  try {
    server = await startServer(CONTENDERS[job.server], { cpu: ctx.serverCpu, args: ["--deflate"] });
  } catch (error) {
    record.error = `${job.server} server failed to start: ${(error as Error).message}`;
    return record;
  }
  try {
    const options = {
      url: `ws://127.0.0.1:${server.port}/`,
      conns: DEFLATE_LOAD.conns,
      window: DEFLATE_LOAD.window,
      duration: ctx.duration,
      warmup: ctx.warmup,
    };
    await drive("deflate-driver.mjs", options, server, ctx, record);
  } catch (error) {
    record.error = (error as Error).message;
  } finally {
    await server.stop();
  }
  return record;
}

// ---------------------------------------------------------------------------------------------------------------
// summaries

/** A median over the uncontended runs when there are any (all runs otherwise), and whether all were contended. */
export interface Stat {
  value: number;
  /** every run of the case was contended: shown, not judged */
  contended: boolean;
  runs: number;
}

export function stat<J>(records: PartRecord<J>[], f: (r: DriverResult) => number | null | undefined): Stat {
  const measured = records.filter((r) => r.result && !r.error);
  const quiet = measured.filter((r) => !r.contended);
  const use = quiet.length > 0 ? quiet : measured;
  const values = use.map((r) => f(r.result!)).filter((v): v is number => typeof v === "number");
  return {
    value: median(values),
    contended: measured.length > 0 && quiet.length === 0,
    runs: measured.length,
  };
}

export function clientRuns(
  records: ClientRecord[],
  client: ClientName,
  name: ClientCaseName,
): ClientRecord[] {
  return records.filter((r) => r.job.client === client && r.job.case === name);
}

export function deflateRuns(records: DeflateRecord[], server: DeflateServerName): DeflateRecord[] {
  return records.filter((r) => r.job.server === server);
}

const warn = (s: Stat) => (s.contended ? " ⚠" : "");

function table(header: string[], rows: string[][], align?: string[]): string {
  const sep = align ?? header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

function ratioText(a: Stat, b: Stat): string {
  if (!(a.value > 0 && b.value > 0)) return "–";
  return `${(a.value / b.value).toFixed(2)}×${a.contended || b.contended ? " ⚠" : ""}`;
}

function us(v: number): string {
  return Number.isFinite(v) ? v.toFixed(0) : "–";
}

export interface ClientTables {
  throughput: string;
  latency: string;
  detail: string;
  deflate: string;
  /** warnings about the runs (e.g. the echo server being near saturation) */
  warnings: string[];
}

export function clientTables(
  clientRecords: ClientRecord[],
  deflateRecords: DeflateRecord[],
  clients: readonly ClientName[],
): ClientTables {
  const warnings: string[] = [];
  const rate = (client: ClientName, name: ClientCaseName) =>
    stat(clientRuns(clientRecords, client, name), (r) => r.msgsPerS);
  const others = clients.filter((c) => c !== "ws");
  const hasWs = clients.includes("ws");
  const throughputRows = CLIENT_CASES.map((c) => {
    const row = [c.label];
    for (const client of clients) {
      const s = rate(client, c.name);
      row.push(`${formatRate(s.value)}${warn(s)}`);
    }
    if (hasWs) for (const client of others) row.push(ratioText(rate(client, c.name), rate("ws", c.name)));
    return row;
  });
  const throughput = table(
    [
      "one connection",
      ...clients.map((c) => `${CLIENT_LABELS[c]} msg/s`),
      ...(hasWs ? others.map((c) => `${c} ÷ ws`) : []),
    ],
    throughputRows,
  );
  const latencyRows = clients.map((client) => {
    const runs = clientRuns(clientRecords, client, "latency");
    const p99 = stat(runs, (r) => r.p99Us);
    const wsP99 = stat(clientRuns(clientRecords, "ws", "latency"), (r) => r.p99Us);
    return [
      CLIENT_LABELS[client],
      us(stat(runs, (r) => r.p50Us).value),
      `${us(p99.value)}${warn(p99)}`,
      us(stat(runs, (r) => r.maxUs).value),
      client === "ws" || !hasWs ? "–" : ratioText(p99, wsP99),
    ];
  });
  const latency = table(["client", "p50 µs", "p99 µs", "max µs", "p99 ÷ ws p99"], latencyRows);
  const detailRows: string[][] = [];
  for (const c of CLIENT_CASES) {
    for (const client of clients) {
      const runs = clientRuns(clientRecords, client, c.name);
      if (runs.length === 0) continue;
      const serverCpu = stat(runs, (r) => r.serverCpu).value;
      if (serverCpu >= 80) {
        warnings.push(
          `client ${client}, ${c.label}: the C echo server used ${serverCpu.toFixed(0)}% of its CPU: it may have been the bottleneck`,
        );
      }
      detailRows.push([
        c.label,
        CLIENT_LABELS[client],
        runs
          .map((r) => (r.result ? `${formatRate(r.result.msgsPerS)}${r.contended ? "*" : ""}` : "error"))
          .join(" / "),
        `${stat(runs, (r) => r.clientCpu).value.toFixed(0)}%`,
        stat(runs, (r) => (r.clientCpu * 1e4) / r.msgsPerS).value.toFixed(2),
        `${serverCpu.toFixed(0)}%`,
        `${stat(runs, (r) => r.otherCpu).value.toFixed(0)}%`,
      ]);
    }
  }
  const detail = table(
    [
      "case",
      "client",
      "msg/s (each run)",
      "client CPU",
      "client CPU µs per message",
      "echo server CPU",
      "others' CPU",
    ],
    detailRows,
    ["---", "---", "---:", "---:", "---:", "---:", "---:"],
  );
  const deflateRate = (s: DeflateServerName) => stat(deflateRuns(deflateRecords, s), (r) => r.msgsPerS);
  const deflateRows = DEFLATE_SERVERS.map((server) => {
    const runs = deflateRuns(deflateRecords, server);
    const s = deflateRate(server);
    const extensions = runs.find((r) => r.result?.extensions)?.result?.extensions ?? "–";
    return [
      server === "sockjet" ? "sockjet `perMessageDeflate: true`" : "ws `perMessageDeflate: true`",
      `${formatRate(s.value)}${warn(s)}`,
      server === "ws" ? "–" : ratioText(s, deflateRate("ws")),
      runs
        .map((r) => (r.result ? `${formatRate(r.result.msgsPerS)}${r.contended ? "*" : ""}` : "error"))
        .join(" / "),
      `${stat(runs, (r) => r.echoBytes).value.toFixed(0)} B`,
      `\`${extensions}\``,
      `${stat(runs, (r) => r.serverCpu).value.toFixed(0)}% / ${stat(runs, (r) => r.clientCpu).value.toFixed(0)}%`,
    ];
  });
  const deflate = table(
    [
      "server",
      "msg/s",
      "÷ ws",
      "each run",
      "echo on the wire",
      "negotiated (response to `permessage-deflate; client_max_window_bits`)",
      "CPU server / client",
    ],
    deflateRows,
    ["---", "---:", "---:", "---:", "---:", "---", "---:"],
  );
  return { throughput, latency, detail, deflate, warnings };
}
