// The command line of `npm run bench` (bench/run.ts): its parts, its flags and their defaults.
import { CLIENT_NAMES, type ClientName } from "./client.js";
import { CONTENDER_NAMES, type ContenderName, parseSize } from "./lib.js";

export const PART_NAMES = ["echo", "client", "deflate", "fanout", "h2", "workers"] as const;
export type PartName = (typeof PART_NAMES)[number];

export const USAGE = `usage: npm run bench -- [options]
  --quick            1 run per case, 1 s measured (0.5 s warm-up), 2,000 idle connections: a smoke test
  --only=LIST        parts to run: echo, client, deflate, fanout, h2, workers (default: all); and/or echo servers to run
                     (raw, ws, sockjet, sockjet-ab, serve; alone, they select the echo part: --only=raw,ws)
  --clients=LIST     clients of the client part (default sockjet,sockjet-ab,ws,undici)
  --sizes=32,1k      echo payload sizes (default 32,1k,64k,1m)
  --runs=N           repetitions of every case (default 3; the fan-out's 4 per round, interleaved, in 25 rounds)
  --duration=SECS    measured seconds per run (default 5 for echo, 3 for client and deflate)
  --no-verify        do not check every echoed byte (lengths, opcodes and order are still checked)
  --docs / --no-docs write docs/BENCHMARKS.md and docs/bench-echo.svg (default: only for a full default run;
                     otherwise the report goes to bench/out/)`;

export interface Options {
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
  /** fan-out: runs per contender, case and round (interleaved: their ratios are taken run by run). */
  fanoutRuns: number;
  /**
   * fan-out: rounds per case, each with fresh processes (ws: the first only). Its rates swing ±20% run to run
   * on a shared VM, and a pair of processes keeps a bias of its own through its runs (an A/A run measured
   * 1.06×, 1.04–1.07×); the resume ÷ plain target (issue 19) is a 10% margin, judged on the interval over
   * the rounds of each round's median ratio (25 rounds: between the 8th and the 18th). 9 rounds, used until
   * 2026-12-05, left three of six shapes undecided at medians of 0.95; 15 rounds left one or two undecided
   * in two of three full runs (docs/resume.md, "Cost").
   */
  fanoutRounds: number;
  idleConns: number;
  verify: boolean;
  docs: boolean;
}

export function parseOptions(argv: string[]): Options {
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
    fanoutSeconds: quick ? 0.5 : 1,
    fanoutRuns: runs ?? (quick ? 1 : 4),
    fanoutRounds: quick ? 1 : 25,
    idleConns: quick ? 2000 : 10_000,
    verify,
    docs: docs ?? !(quick || partial),
  };
}
