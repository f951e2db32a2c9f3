// Where an echo server's time goes: runs one contender server (from bench/servers/, sockjet from dist/) under
// `node --cpu-prof`, drives it with the C load generator as the benchmark does (64 connections, pinned CPUs),
// and prints the functions with the most self time, plus messages/s and the read/write system calls.
//
//   npm run build && node --import tsx bench/profile.ts [--contender=sockjet] [--size=32] [--text]
//                                                       [--window=16] [--seconds=4] [--top=30]
//                                                       [--save=FILE.cpuprofile]  (the whole profile, for callers)
//
// Self time is the profiler's: "(idle)" is time in the event loop's poll (waiting, or in read system calls
// made by libuv), "writeBuffer"/"writev" are the write system calls, "(garbage collector)" is V8's GC. The
// profiler itself costs some throughput, so the messages/s printed here are below the benchmark's.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CONTENDER_NAMES,
  CONTENDERS,
  type ContenderName,
  choosePinning,
  compileLoadgen,
  loadgenArgs,
  parseSize,
  runLoadgen,
  startListening,
} from "./lib.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  const arg = process.argv.slice(2).find((a) => a.startsWith(prefix));
  return arg === undefined ? fallback : arg.slice(prefix.length);
}

/** Self time per function (name, file, line), as fractions of the profile's total. */
export function selfTimes(profile: CpuProfile): { name: string; share: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    all += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split("/").slice(-2).join("/");
    const key = `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
    totals.set(key, (totals.get(key) ?? 0) + dt);
  }
  return [...totals]
    .map(([name, t]) => ({ name, share: all > 0 ? t / all : 0 }))
    .sort((a, b) => b.share - a.share);
}

function syscalls(pid: number): string {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const get = (k: string) => /\d+/.exec(io.split("\n").find((l) => l.startsWith(k)) ?? "")?.[0] ?? "?";
    return `read calls ${get("syscr")}, write calls ${get("syscw")}`;
  } catch {
    return "system calls: unknown";
  }
}

async function main(): Promise<void> {
  const name = option("contender", "sockjet") as ContenderName;
  if (!CONTENDER_NAMES.includes(name)) throw new Error(`unknown contender '${name}'`);
  const size = parseSize(option("size", "32"));
  const window = Number(option("window", size >= 1024 * 1024 ? "2" : "16"));
  const seconds = Number(option("seconds", "4"));
  const top = Number(option("top", "30"));
  const text = process.argv.includes("--text");
  const contender = CONTENDERS[name];
  const pinning = choosePinning();
  const loadgen = compileLoadgen();
  const dir = mkdtempSync(join(tmpdir(), "sockjet-profile-"));
  try {
    const server = await startListening(
      name,
      process.execPath,
      ["--cpu-prof", `--cpu-prof-dir=${dir}`, ...contender.nodeArgs, "0"],
      { cpu: pinning.server },
    );
    const run = await runLoadgen(
      loadgen,
      loadgenArgs({
        port: server.port,
        conns: 64,
        window,
        size,
        duration: seconds,
        warmup: 1,
        raw: contender.protocol === "raw",
        text,
        verify: false,
        serverPid: server.pid,
      }),
      { cpu: pinning.loadgen, timeoutMs: (seconds + 60) * 1000 },
    );
    const calls = syscalls(server.pid);
    // The echo servers exit on SIGTERM, which lets --cpu-prof write its file.
    await server.stop();
    if (run.result === undefined) throw new Error(`load generator failed: ${run.stderr.trim()}`);
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (file === undefined) throw new Error("the server wrote no profile");
    const json = readFileSync(join(dir, file), "utf8");
    const save = option("save", "");
    if (save !== "") writeFileSync(save, json);
    const profile = JSON.parse(json) as CpuProfile;
    console.log(
      `${contender.label}, ${size} B ${text ? "text" : "binary"}, 64 × ${window} in flight, ${seconds} s ` +
        `(${pinning.note}): ${Math.round(run.result.msgsPerS).toLocaleString("en-US")} msg/s under the ` +
        `profiler; ${calls} (whole run)`,
    );
    for (const { name: fn, share } of selfTimes(profile).slice(0, top)) {
      console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${fn}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
