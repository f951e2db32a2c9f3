// CPU accounting shared by the benchmark's client processes (bench/clients/*.mjs). USER_HZ is 100 on Linux.
import { readFileSync } from "node:fs";

/** utime + stime of a process (all its threads), in seconds; NaN when unknown. */
export function pidCpuS(pid) {
  if (!(pid > 0)) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The whole machine's busy time (user, nice, system, irq, softirq), in CPU-seconds; NaN when unknown. */
export function machineBusyS() {
  try {
    const v = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / 100;
  } catch {
    return Number.NaN;
  }
}

/** This process's CPU time, in seconds. */
export function selfCpuS() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Starts a CPU measurement window; the returned function ends it and gives % of one CPU for this process,
 * the server (-1 when unknown) and everything else on the machine (the noisy-neighbour check).
 */
export function cpuWindow(serverPid) {
  const t0 = performance.now();
  const self0 = selfCpuS();
  const server0 = pidCpuS(serverPid);
  const busy0 = machineBusyS();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const self = (selfCpuS() - self0) / secs;
    const server = (pidCpuS(serverPid) - server0) / secs;
    const busy = (machineBusyS() - busy0) / secs;
    const serverKnown = Number.isFinite(server);
    return {
      secs,
      clientCpu: self * 100,
      serverCpu: serverKnown ? server * 100 : -1,
      otherCpu: Number.isFinite(busy) ? Math.max(0, (busy - self - (serverKnown ? server : 0)) * 100) : 0,
    };
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Waits until the callback handed to `arm` is called (e.g. by the message handler once every echo is back),
 * or `timeoutMs` passed.
 */
export function untilCalled(arm, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    arm(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
