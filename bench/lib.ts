// Shared plumbing for the echo benchmark (bench/run.ts) and its smoke test (test/bench/loadgen.test.ts):
// building the C load generator, starting contender servers, running the load generator and parsing its RESULT.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = dirname(benchDir);
export const loadgenSource = join(benchDir, "loadgen", "loadgen.c");
export const defaultOutDir = join(benchDir, "out");

/** a run during which everything else used this much CPU (% of one CPU) is "contended" */
export const CONTENDED_CPU = 20;

export type ContenderName = "raw" | "ws" | "sockjet" | "sockjet-ab" | "serve";

export interface Contender {
  name: ContenderName;
  label: string;
  /** what the load generator speaks to it */
  protocol: "raw" | "ws";
  /** arguments for `node` (the port is appended) */
  nodeArgs: string[];
}

export const CONTENDERS: Record<ContenderName, Contender> = {
  raw: {
    name: "raw",
    label: "raw TCP echo (Node net)",
    protocol: "raw",
    nodeArgs: [join(benchDir, "servers", "raw-echo.mjs")],
  },
  ws: {
    name: "ws",
    label: "ws + bufferutil",
    protocol: "ws",
    nodeArgs: [join(benchDir, "servers", "ws-echo.mjs")],
  },
  // Judged against the targets: Buffers in and out, like ws (binaryType "nodebuffer", the Node-only type).
  sockjet: {
    name: "sockjet",
    label: 'sockjet (binaryType "nodebuffer")',
    protocol: "ws",
    nodeArgs: [join(benchDir, "servers", "sockjet-echo.mjs")],
  },
  // The browser's type: every message also pays for a new ArrayBuffer (see bench/micro/arraybuffer.mjs).
  "sockjet-ab": {
    name: "sockjet-ab",
    label: 'sockjet (binaryType "arraybuffer")',
    protocol: "ws",
    nodeArgs: [join(benchDir, "servers", "sockjet-echo.mjs"), "--arraybuffer"],
  },
  // The CLI a user benchmarks first, with its defaults: judged against the library's echo (issue 17).
  serve: {
    name: "serve",
    label: "sockjet serve (the CLI)",
    protocol: "ws",
    nodeArgs: [join(benchDir, "servers", "serve-echo.mjs")],
  },
};

/** Contenders run in the echo-size scenario only (not for 1,000 connections, text or idle memory). */
export const ECHO_ONLY_CONTENDERS: ContenderName[] = ["sockjet-ab", "serve"];

export const CONTENDER_NAMES = Object.keys(CONTENDERS) as ContenderName[];

// ---------------------------------------------------------------------------------------------------------------
// child process bookkeeping: whatever is still running when this process exits gets SIGKILL

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.on("exit", () => live.delete(child));
  child.on("error", () => live.delete(child));
  return child;
}

/** Kills every child process started through this module that is still running. */
export function killAll(): void {
  for (const child of live) child.kill("SIGKILL");
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (exited(child)) return;
  child.kill("SIGTERM");
  if (await waitExit(child, graceMs)) return;
  child.kill("SIGKILL");
  await waitExit(child, 5000);
}

// ---------------------------------------------------------------------------------------------------------------
// environment

export function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** CPUs this process may run on (from /proc/self/status), in order. */
export function allowedCpus(): number[] {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1];
    if (!list) return [];
    const cpus: number[] = [];
    for (const part of list.trim().split(",")) {
      const [a, b] = part.split("-").map(Number);
      if (a === undefined || Number.isNaN(a)) continue;
      const end = b === undefined || Number.isNaN(b) ? a : b;
      for (let cpu = a; cpu <= end && cpus.length < 4096; cpu++) cpus.push(cpu);
    }
    return cpus;
  } catch {
    return [];
  }
}

export interface Pinning {
  server?: number;
  loadgen?: number;
  note: string;
}

/** Server on the first allowed CPU, load generator on the second, when taskset exists and there are two. */
export function choosePinning(): Pinning {
  const cpus = allowedCpus();
  if (!which("taskset")) return { note: "not pinned: taskset not found" };
  if (cpus.length < 2) return { note: `not pinned: only ${cpus.length} CPU available` };
  return {
    server: cpus[0],
    loadgen: cpus[1],
    note: `server pinned to CPU ${cpus[0]}, load generator to CPU ${cpus[1]} (taskset)`,
  };
}

function pinned(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  if (cpu === undefined) return [command, args];
  return ["taskset", ["-c", String(cpu), command, ...args]];
}

function busyJiffies(): number | undefined {
  try {
    const first = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const v = first.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq ...
    return (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0);
  } catch {
    return undefined;
  }
}

/** How busy the whole machine is, in % of one CPU, sampled over `ms` (USER_HZ is 100 on Linux). */
export async function machineBusyPercent(ms = 500): Promise<number> {
  const a = busyJiffies();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = busyJiffies();
  if (a === undefined || b === undefined) return 0;
  return ((b - a) / 100 / ((performance.now() - t0) / 1000)) * 100;
}

/** VmRSS of a process in KiB. */
export function readRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

// ---------------------------------------------------------------------------------------------------------------
// the load generator

export class CompilerMissingError extends Error {}

/** Compiles bench/loadgen/loadgen.c with `gcc -O2` into `output`; returns the path. */
export function compileLoadgen(output = join(defaultOutDir, "loadgen")): string {
  return compileC(loadgenSource, output, "the load generator");
}

/** Compiles one C file with `gcc -O2` into `output`; returns the path. */
export function compileC(source: string, output: string, what = source): string {
  if (!which("gcc")) throw new CompilerMissingError(`gcc not found on PATH: cannot build ${what}`);
  mkdirSync(dirname(output), { recursive: true });
  const result = spawnSync("gcc", ["-O2", "-Wall", "-Wextra", "-std=gnu11", "-o", output, source], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (result.error) throw new Error(`gcc failed to run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`gcc failed (status ${result.status}):\n${result.stderr}`);
  return output;
}

export interface LoadgenResult {
  mode: string;
  conns: number;
  window: number;
  size: number;
  text: boolean;
  secs: number;
  msgs: number;
  msgsPerS: number;
  mbPerS: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  meanUs: number;
  /** load generator's own CPU use, % of one CPU */
  clientCpu: number;
  /** server's CPU use, % of one CPU, or -1 when unknown */
  serverCpu: number;
  /** CPU used by everything else on the machine during the run, % of one CPU */
  otherCpu: number;
  steal: number;
  errors: number;
  fields: Record<string, string>;
}

/** Parses the last `RESULT key=value ...` line of the load generator's output. */
export function parseResult(output: string): LoadgenResult | undefined {
  const line = output
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("RESULT "));
  if (!line) return undefined;
  const fields: Record<string, string> = {};
  for (const token of line.slice(7).trim().split(/\s+/)) {
    const eq = token.indexOf("=");
    if (eq > 0) fields[token.slice(0, eq)] = token.slice(eq + 1);
  }
  const num = (key: string, fallback = Number.NaN) => (key in fields ? Number(fields[key]) : fallback);
  return {
    mode: fields.mode ?? "",
    conns: num("conns"),
    window: num("window"),
    size: num("size"),
    text: fields.text === "1",
    secs: num("secs"),
    msgs: num("msgs"),
    msgsPerS: num("msgs_per_s"),
    mbPerS: num("mb_per_s"),
    p50Us: num("p50_us"),
    p90Us: num("p90_us"),
    p99Us: num("p99_us"),
    maxUs: num("max_us"),
    meanUs: num("mean_us"),
    clientCpu: num("client_cpu"),
    serverCpu: num("server_cpu", -1),
    otherCpu: num("other_cpu", 0),
    steal: num("steal", 0),
    errors: num("errors"),
    fields,
  };
}

export interface LoadOptions {
  port: number;
  conns: number;
  window: number;
  size: number;
  duration: number;
  warmup: number;
  raw?: boolean;
  text?: boolean;
  verify?: boolean;
  serverPid?: number;
}

export function loadgenArgs(o: LoadOptions): string[] {
  const args = ["-p", String(o.port), "-c", String(o.conns), "-w", String(o.window), "-s", String(o.size)];
  args.push("-d", String(o.duration), "-W", String(o.warmup), "-q");
  if (o.raw) args.push("-r");
  if (o.text) args.push("-t");
  if (o.verify) args.push("-V");
  if (o.serverPid) args.push("-S", String(o.serverPid));
  return args;
}

export interface LoadgenRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  result: LoadgenResult | undefined;
}

/** Runs the load generator to completion (SIGKILL after timeoutMs). */
export function runLoadgen(
  bin: string,
  args: string[],
  options: { cpu?: number; timeoutMs: number },
): Promise<LoadgenRun> {
  const [command, argv] = pinned(options.cpu, bin, args);
  return new Promise((resolve) => {
    const child = track(spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 100_000) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({
        code: null,
        signal: null,
        timedOut,
        stdout,
        stderr: `${stderr}${err.message}\n`,
        result: undefined,
      });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr, result: parseResult(stdout) });
    });
  });
}

export interface IdleHold {
  pid: number;
  /** the READY line's fields: open, failed, connect_s */
  ready: Record<string, number>;
  /** SIGTERM, wait for exit; the DONE line's fields and the exit code */
  release(): Promise<{ code: number | null; done: Record<string, number>; stderr: string }>;
}

function fieldsOf(line: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const token of line.split(/\s+/).slice(1)) {
    const [k, v] = token.split("=");
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/** Starts the load generator in idle mode (-I) and resolves once it printed READY. */
export function holdIdle(
  bin: string,
  o: { port: number; conns: number; raw?: boolean; holdSecs: number; cpu?: number; timeoutMs: number },
): Promise<IdleHold> {
  const args = ["-p", String(o.port), "-c", String(o.conns), "-I", String(o.holdSecs)];
  if (o.raw) args.push("-r");
  const [command, argv] = pinned(o.cpu, bin, args);
  const child = track(spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] }));
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 100_000) stderr += d;
  });
  const closed = new Promise<number | null>((resolve) => {
    child.on("close", (code) => resolve(code));
    child.on("error", () => resolve(null));
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${why}${stderr ? `: ${stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`));
    };
    const timer = setTimeout(() => fail("idle load generator did not get READY in time"), o.timeoutMs);
    child.on("error", (err) => fail(`load generator failed to start: ${err.message}`));
    void closed.then((code) => fail(`load generator exited (code ${code}) before READY`));
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const line = stdout.split("\n").find((l) => l.startsWith("READY "));
      if (!line || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        pid: child.pid ?? 0,
        ready: fieldsOf(line),
        async release() {
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          const code = await closed;
          clearTimeout(killer);
          const doneLine = stdout.split("\n").find((l) => l.startsWith("DONE ")) ?? "";
          return { code, done: fieldsOf(doneLine), stderr };
        },
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// contender servers

export interface ServerHandle {
  /** the contender's name, or what the server was started as */
  name: string;
  pid: number;
  port: number;
  process: ChildProcess;
  /** set once the server exited (unexpectedly, unless stop() was called) */
  exitInfo(): string | undefined;
  stderr(): string;
  stop(): Promise<void>;
}

function errorLine(stderr: string): string | undefined {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const tagged = lines.find((l) => l.startsWith("ERROR "));
  if (tagged) return tagged.slice(6);
  return lines.find((l) => /Error|error:/.test(l)) ?? lines.at(-1);
}

/**
 * Starts a contender server on an OS-chosen port and waits for its `LISTENING <port>` line; `args` go before
 * the port (e.g. `--deflate`).
 */
export function startServer(
  contender: Contender,
  options: { cpu?: number; timeoutMs?: number; args?: string[] } = {},
): Promise<ServerHandle> {
  const args = [...contender.nodeArgs, ...(options.args ?? []), "0"];
  return startListening(contender.name, process.execPath, args, options);
}

/** Starts `command args` (pinned to `cpu` when given) and waits until it prints `LISTENING <port>`. */
export function startListening(
  name: string,
  executable: string,
  args: string[],
  options: { cpu?: number; timeoutMs?: number } = {},
): Promise<ServerHandle> {
  const [command, argv] = pinned(options.cpu, executable, args);
  const child = track(spawn(command, argv, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }));
  let stdout = "";
  let stderr = "";
  let exitInfo: string | undefined;
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 100_000) stderr += d;
  });
  child.on("exit", (code, signal) => {
    exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(why));
    };
    const timer = setTimeout(
      () => fail(`${name} did not print LISTENING within ${options.timeoutMs ?? 20_000} ms`),
      options.timeoutMs ?? 20_000,
    );
    child.on("error", (err) => fail(`${name} failed to start: ${err.message}`));
    child.on("close", (code) => {
      // "close" comes after stderr is complete, so the error line is in it
      fail(errorLine(stderr) ?? `${name} exited with code ${code} before listening`);
    });
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const match = /^LISTENING (\d+)\s*$/m.exec(stdout);
      if (!match || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        name,
        pid: child.pid ?? 0,
        port: Number(match[1]),
        process: child,
        exitInfo: () => exitInfo,
        stderr: () => stderr,
        stop: () => stopProcess(child),
      });
    });
  });
}

/** Runs `command args` (pinned to `cpu` when given) to completion, SIGKILL after timeoutMs. */
export function runProcess(
  executable: string,
  args: string[],
  options: { cpu?: number; timeoutMs: number },
): Promise<{
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}> {
  const [command, argv] = pinned(options.cpu, executable, args);
  return new Promise((resolve) => {
    const child = track(spawn(command, argv, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < 1_000_000) stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < 100_000) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, stdout, stderr: `${stderr}${err.message}\n` });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// formatting

/** 1.58M, 748k, 23.1k, 1.40k, 950 */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return n.toFixed(0);
}

export function formatSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** "32", "1k", "64K", "1m" */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!match) throw new Error(`not a size: ${text}`);
  const unit = match[2]?.toLowerCase();
  const mult = unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1;
  return Math.round(Number(match[1]) * mult);
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
