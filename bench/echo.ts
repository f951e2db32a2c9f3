// The echo part of `npm run bench`: sockjet's server against npm `ws` and a raw TCP echo in Node's `net`, driven by
// the C load generator: throughput, 1,000 connections, text vs binary, idle memory.
import { setTimeout as sleep } from "node:timers/promises";
import { CONTENDED_CPU, log, options, pinning, records, started, unavailable, warnings } from "./harness.js";
import {
  CONTENDERS,
  type ContenderName,
  ECHO_ONLY_CONTENDERS,
  formatRate,
  formatSize,
  holdIdle,
  type LoadgenResult,
  loadgenArgs,
  readRssKiB,
  runLoadgen,
  type ServerHandle,
  startServer,
} from "./lib.js";
import type { Options } from "./options.js";
import type { Task } from "./tasks.js";

// ---------------------------------------------------------------------------------------------------------------

export type Scenario = "echo" | "conns" | "text" | "idle" | "idle-settled";

export interface Job {
  scenario: Scenario;
  contender: ContenderName;
  size: number;
  conns: number;
  window: number;
  text: boolean;
  rep: number;
}

export interface Record_ extends Job {
  result?: LoadgenResult;
  /** other processes used ≥ CONTENDED_CPU % of a CPU during the run */
  contended?: boolean;
  idle?: { beforeKiB: number; afterKiB: number; open: number; connectS: number; perConnKiB: number };
  error?: string;
  skipped?: boolean;
}

/**
 * "idle-settled" (once per server): the idle connections' memory once V8 has settled, read SETTLE_S s after
 * the warm-up and SETTLE_S s after the connections opened instead of 1 s. Opening 10,000 connections at once
 * grows V8's heap (its young generation most: survivors of every scavenge) and V8 gives that back only when
 * its memory reducer runs, some 8 to 30 s after the last full GC once the process allocates little (raw TCP's
 * server shrank after ~10 s, ws's and sockjet's after ~30 s: `node --trace-gc`, "Mark-Compact (reduce)"). The
 * "idle" reading 1 s after is the cost of the storm; this one, what idle connections hold.
 */
export const SETTLE_S = 45;

export const MANY_CONNS = 1000;
export const MANY_CONNS_WINDOW = 4;
export const CONNS = 64;

export function windowFor(size: number): number {
  return size >= 1024 * 1024 ? 2 : 16;
}

/** rotates the contender order from one repetition to the next, so that no contender always runs first */
export function rotate<T>(items: T[], by: number): T[] {
  if (items.length === 0) return items;
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function planJobs(o: Options): Job[] {
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
  if (!o.quick) {
    for (const contender of o.only.filter((c) => !ECHO_ONLY_CONTENDERS.includes(c))) {
      jobs.push({
        scenario: "idle-settled",
        contender,
        size: 0,
        conns: o.idleConns,
        window: 0,
        text: false,
        rep: 0,
      });
    }
  }
  return jobs;
}

export function describe(job: Job): string {
  const what =
    job.scenario === "idle" || job.scenario === "idle-settled"
      ? `${job.conns} idle connections${job.scenario === "idle-settled" ? `, settled (${SETTLE_S} s)` : ""}`
      : `${formatSize(job.size)}${job.text ? " text" : ""} x${job.conns}/${job.window}`;
  return `${job.contender.padEnd(7)} ${what} #${job.rep + 1}`;
}

export function tail(text: string, lines = 4): string {
  return text.trim().split("\n").slice(-lines).join(" | ");
}

export async function withServer(
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

export async function runEcho(bin: string, job: Job, record: Record_): Promise<void> {
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

export async function runIdle(bin: string, job: Job, record: Record_): Promise<void> {
  await withServer(job, record, async (server) => {
    const raw = CONTENDERS[job.contender].protocol === "raw";
    const common = { port: server.port, raw, cpu: pinning.loadgen, timeoutMs: 90_000 };
    // a few connections first, so that code loaded on the first connection is not charged to the measurement
    const warm = await holdIdle(bin, { ...common, conns: 100, holdSecs: 60 });
    const warmEnd = await warm.release();
    if (warmEnd.code !== 0) throw new Error(`warm-up connections failed: ${tail(warmEnd.stderr)}`);
    const waitS = job.scenario === "idle-settled" ? SETTLE_S : 1;
    await sleep(waitS * 1000);
    const beforeKiB = readRssKiB(server.pid);
    const hold = await holdIdle(bin, { ...common, conns: job.conns, holdSecs: 120 });
    let afterKiB: number;
    try {
      await sleep(waitS * 1000);
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

export function echoTask(bin: string, job: Job): Task {
  return {
    label: describe(job),
    quiet: job.scenario !== "idle" && job.scenario !== "idle-settled",
    skip: () => unavailable.has(job.contender),
    async run(prefix) {
      const record: Record_ = { ...job };
      if (job.scenario === "idle" || job.scenario === "idle-settled") await runIdle(bin, job, record);
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
