// The runs of `npm run bench` as tasks of one queue (each can wait for a quiet machine and be repeated once when
// contended): client, deflate and h2 jobs, and the fan-out part.
import { spawnSync } from "node:child_process";
import type { ClientRecord, DeflateRecord } from "./client.js";
import { runFanout } from "./fanout.js";
import type { H2Record } from "./h2.js";
import { CONTENDED_CPU, fanoutRun, log, options, pinning } from "./harness.js";
import { allowedCpus, formatRate, formatSize, which } from "./lib.js";

export interface Task {
  label: string;
  /** wait for a quiet machine first */
  quiet: boolean;
  skip?: () => boolean;
  /** runs once; logs its line; says whether the run was contended */
  run(prefix: string): Promise<{ contended: boolean }>;
}

export function clientTask<R extends ClientRecord | DeflateRecord | H2Record>(
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
export function pinSelf(cpus: number[]): boolean {
  if (cpus.length === 0 || !which("taskset")) return false;
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus.join(","), String(process.pid)], {
    timeout: 10_000,
  });
  return r.status === 0;
}

export function fanoutTask(): Task {
  return {
    label: "fan-out",
    quiet: true,
    async run(prefix) {
      log(`${prefix} 1 publisher → 1,000 subscribers, sockjet publish() vs the naïve ws loop`);
      // this process only orchestrates (the publishing client runs beside the receivers): keep it off the
      // server's CPU all the same
      const allCpus = allowedCpus();
      const pinnedSelf = pinning.loadgen !== undefined && pinSelf([pinning.loadgen]);
      try {
        fanoutRun.results = await runFanout({
          subscribers: 1000,
          sizes: [32, 1024],
          publishers: ["client", "server"],
          bursts: [1, 16],
          runs: options.fanoutRuns,
          rounds: options.fanoutRounds,
          seconds: options.fanoutSeconds,
          // In every round sockjet and sockjet-resume, whose ratio is a 10% target (issue 19), alternate; ws runs
          // in one more round beside sockjet (its speed-up is taken there).
          contenders: ["sockjet", "sockjet-resume", "ws"],
          dist: true,
          cpus: { server: pinning.server, receivers: pinning.loadgen },
          log,
        });
      } catch (error) {
        fanoutRun.error = (error as Error).message;
        log(`${prefix} ERROR ${fanoutRun.error}`);
      } finally {
        if (pinnedSelf) pinSelf(allCpus);
      }
      const contended = fanoutRun.results.filter((r) => r.otherCpuPercent >= CONTENDED_CPU);
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
