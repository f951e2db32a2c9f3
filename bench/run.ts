// `npm run bench` (= node --import tsx bench/run.ts; see --help), in four parts, each selectable with --only:
// - echo: sockjet's server against npm `ws` and a raw TCP echo server in Node's `net`, driven by our own C load
//   generator (bench/loadgen/loadgen.c): throughput, 1,000 connections, text vs binary, idle memory;
// - client: one connection from sockjet's client, `ws` and undici against a C echo server (bench/client.ts);
// - deflate: sockjet's server against `ws`'s with permessage-deflate on, ~1 KiB JSON (bench/client.ts);
// - fanout: 1 publisher → 1,000 subscribers, sockjet's publish() against a naïve `ws` loop (bench/fanout.ts);
// - h2: sockjet's client and server (`http2: true` + TLS), sockets on one HTTP/2 session (RFC 8441) vs a TLS
//   connection each: echo throughput and idle memory per socket (bench/h2.ts).
// It writes docs/BENCHMARKS.md (on a full default run) with every target of issues 9, 10 and 17 judged ✅/❌ — except
// on contended runs, which are flagged and not judged.
//
// Exits non-zero only when something went wrong (build failure, a server crashing, a wrong or missing echo,
// a failed connection), never because of the figures. A contender that cannot start at all is reported as
// unavailable and skipped.
//
// The parts live in their own files: options.ts (flags), harness.ts (state of the run), tasks.ts (the queue's
// tasks), echo.ts / echo-summary.ts / echo-chart.ts, client.ts, deflate.ts, fanout.ts, h2.ts, targets.ts and
// report.ts (docs/BENCHMARKS.md). This file plans the runs, runs them and writes the reports.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import {
  clientTables,
  compileEchoServer,
  describeClientJob,
  planClientJobs,
  planDeflateJobs,
  runClientJob,
  runDeflateJob,
} from "./client.js";
import { echoTask, MANY_CONNS, planJobs, SETTLE_S } from "./echo.js";
import { renderSvg } from "./echo-chart.js";
import { summarize } from "./echo-summary.js";
import { formatFanout } from "./fanout-report.js";
import { describeH2Job, h2Tables, planH2Jobs, runH2Job } from "./h2.js";
import {
  CONTENDED_CPU,
  clientRecords,
  deflateRecords,
  fanoutRun,
  h2IdleSockets,
  h2Records,
  log,
  options,
  pinning,
  QUIET_BUDGET_MS,
  RETRY_BUDGET,
  records,
  unavailable,
  waitForQuiet,
  warnings,
} from "./harness.js";
import { compileLoadgen, defaultOutDir, formatSize, killAll, repoRoot } from "./lib.js";
import { contendedRuns, errorLines, machine, markdown } from "./report.js";
import { TARGET_FANOUT, targetRows, targetTable } from "./targets.js";
import { clientTask, fanoutTask, type Task } from "./tasks.js";
import { workersPart } from "./workers.js";

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
    estimateS += jobs.filter((job) => job.scenario === "idle-settled").length * 2 * SETTLE_S;
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
    // 6 cases: sockjet and sockjet-resume every round, ws and sockjet in one more (measured: ~1.5 s per
    // contender and round besides its runs)
    const contenderRounds = options.fanoutRounds > 1 ? 2 * options.fanoutRounds + 2 : 3;
    estimateS += 6 * contenderRounds * (1.5 + options.fanoutRuns * options.fanoutSeconds);
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
    ? formatFanout(fanoutRun.results, { target: TARGET_FANOUT, contendedCpu: CONTENDED_CPU })
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
        fanoutResults: fanoutRun.results,
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
    `Targets of issues 9, 10 and 17 (README-ready, also in ${relative(repoRoot, join(defaultOutDir, "summary.md"))}):`,
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
