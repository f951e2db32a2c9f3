// The echo part's tables: throughput against raw TCP, details, 1,000 connections, text vs binary, idle memory.
import { type Record_, type Scenario, SETTLE_S, windowFor } from "./echo.js";
import { options, records, unavailable } from "./harness.js";
import {
  CONTENDERS,
  type ContenderName,
  ECHO_ONLY_CONTENDERS,
  formatRate,
  formatSize,
  type LoadgenResult,
  median,
} from "./lib.js";

/** sockjet ÷ raw TCP per payload size (issue 17; issue 9 asked 0.6× at 32 B and 1 KiB) */
export const TARGETS: Record<string, number> = { "32": 0.65, "1024": 0.65, "65536": 0.9, "1048576": 0.9 };
export const TARGET_CONNS = 0.5;
export const TARGET_TEXT = 0.85;

export function ok(records: Record_[]): Record_[] {
  return records.filter((r) => !r.error && !r.skipped);
}

export function pick(scenario: Scenario, contender: ContenderName, size?: number, text?: boolean): Record_[] {
  return ok(records).filter(
    (r) =>
      r.scenario === scenario &&
      r.contender === contender &&
      (size === undefined || r.size === size) &&
      (text === undefined || r.text === text),
  );
}

/** the runs a median is taken over: the uncontended ones when there are any */
export function usable(rs: Record_[]): Record_[] {
  const quiet = rs.filter((r) => !r.contended);
  return quiet.length > 0 ? quiet : rs;
}

export function med(rs: Record_[], f: (r: LoadgenResult) => number): number {
  return median(
    usable(rs)
      .filter((r) => r.result)
      .map((r) => f(r.result!)),
  );
}

/** ⚠ when every run of the case was contended */
export function mark(rs: Record_[]): string {
  return rs.length > 0 && rs.every((r) => r.contended) ? " ⚠" : "";
}

/** a ratio whose inputs were all contended is shown with ⚠ and its target not judged */
export function ratioCell(value: number, base: number, target?: number, contended = false): string {
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
export function shaky(...cases: Record_[][]): boolean {
  return cases.some((rs) => mark(rs) !== "");
}

export function contenderHeader(c: ContenderName): string {
  return unavailable.has(c) ? `${c} (unavailable)` : c;
}

export function table(header: string[], rows: string[][], align?: string[]): string {
  const sep = align ?? header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

export interface Summary {
  echo: string;
  detail: string;
  conns: string;
  text: string;
  idle: string;
}

export function summarize(): Summary {
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
    const settled = settledIdleKiB(c);
    return [
      contenderHeader(c),
      Number.isFinite(per) ? per.toFixed(2) : "–",
      rs.map((r) => r.idle!.perConnKiB.toFixed(2)).join(" / ") || "–",
      Number.isFinite(settled) ? settled.toFixed(2) : "–",
      rs.length ? `${(median(rs.map((r) => r.idle!.beforeKiB)) / 1024).toFixed(1)} MiB` : "–",
      rs.length ? `${median(rs.map((r) => r.idle!.connectS)).toFixed(2)} s` : "–",
    ];
  });
  const idle = table(
    [
      "server",
      "KiB per connection (1 s after)",
      "each run",
      `settled (${SETTLE_S} s after, 1 run)`,
      "RSS before",
      "time to open",
    ],
    idleRows,
  );
  return { echo: table(echoHeader, echoRows), detail, conns, text, idle };
}

/** KiB per idle connection once V8 has settled (the "idle-settled" run), NaN when it did not run. */
export function settledIdleKiB(contender: ContenderName): number {
  const r = ok(records).find((x) => x.scenario === "idle-settled" && x.contender === contender && x.idle);
  return r === undefined ? Number.NaN : r.idle!.perConnKiB;
}
