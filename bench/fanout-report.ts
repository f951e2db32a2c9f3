// The fan-out benchmark's report: its cases paired by contender, and the Markdown table (bench/run.ts and
// bench/fanout.ts print it; bench/targets.ts judges the pairs).

import type { FanoutContender, FanoutResult } from "./fanout.js";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The median, over the runs, of `a.runs[i] ÷ b.runs[i]` (runs of one interleaved case, neighbours in time). */
export function pairedRatio(a: FanoutResult, b: FanoutResult): number {
  const n = Math.min(a.runs.length, b.runs.length);
  if (n === 0) return Number.NaN;
  return median(Array.from({ length: n }, (_, i) => a.runs[i] / b.runs[i]));
}

export function caseLabel(r: FanoutResult): string {
  return r.publisher === "client" ? "client publisher" : `server loop, burst ${r.burst}`;
}

export function formatSize(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

export function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)} M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} k`;
  return rate.toFixed(0);
}

export interface FanoutFormat {
  /** judge every speed-up against this (✅/❌) */
  target?: number;
  /** a case where either contender's other CPU use reached this % of a CPU is marked ⚠ and not judged */
  contendedCpu?: number;
}

/** ⚠ when either side of a case was contended (see FanoutFormat.contendedCpu). */
export function fanoutContended(results: (FanoutResult | undefined)[], contendedCpu?: number): boolean {
  if (contendedCpu === undefined) return false;
  return results.some((r) => r !== undefined && r.otherCpuPercent >= contendedCpu);
}

/** The sockjet and ws results of every size/publisher/burst case, in the order they ran. */
export function fanoutPairs(
  results: FanoutResult[],
): { sockjet?: FanoutResult; ws?: FanoutResult; resume?: FanoutResult; size: number; label: string }[] {
  const keys = new Set(results.map((r) => `${r.size}/${r.publisher}/${r.burst}`));
  return [...keys].map((key) => {
    const [sizeText, publisher, burstText] = key.split("/");
    const match = (c: FanoutContender) =>
      results.find(
        (r) =>
          r.contender === c &&
          r.size === Number(sizeText) &&
          r.publisher === publisher &&
          r.burst === Number(burstText),
      );
    const sockjet = match("sockjet");
    const ws = match("ws");
    const resume = match("sockjet-resume");
    return { sockjet, ws, resume, size: Number(sizeText), label: caseLabel((sockjet ?? ws ?? resume)!) };
  });
}

/** A Markdown table of the results, with sockjet's speed-up over the naïve `ws` loop. */
export function formatFanout(results: FanoutResult[], format: FanoutFormat = {}): string {
  const lines = [
    "| size | publisher | sockjet server.publish() | ws naïve loop | speed-up | frames built per publish | server CPU sockjet / ws | others' CPU | resume on (÷ sockjet, run by run) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { sockjet: ours, ws: theirs, resume, size, label } of fanoutPairs(results)) {
    const contended = fanoutContended([ours, theirs], format.contendedCpu);
    const rate = (r: FanoutResult | undefined) =>
      r === undefined ? "–" : `${formatRate(r.deliveredPerSecond)}/s`;
    let ratio = "–";
    if (ours !== undefined && theirs !== undefined) {
      const x = ours.deliveredPerSecond / theirs.deliveredPerSecond;
      ratio = `${x.toFixed(1)}×`;
      if (contended) ratio += format.target === undefined ? " ⚠" : ` ⚠ not judged (≥ ${format.target}×)`;
      else if (format.target !== undefined)
        ratio += ` ${x >= format.target ? "✅" : "❌"} (≥ ${format.target}×)`;
    }
    const cpu = (r: FanoutResult | undefined) =>
      r === undefined ? "–" : `${r.serverCpuPercent.toFixed(0)}%`;
    const other = (r: FanoutResult | undefined) =>
      r === undefined || !Number.isFinite(r.otherCpuPercent) ? "–" : `${r.otherCpuPercent.toFixed(0)}%`;
    lines.push(
      `| ${formatSize(size)} | ${label} | ${rate(ours)} | ${rate(theirs)} | ${ratio} | ` +
        `${ours?.framesPerMessage?.toFixed(2) ?? "–"} | ${cpu(ours)} / ${cpu(theirs)} | ${other(ours)} / ${other(theirs)} | ` +
        `${resume === undefined ? "–" : `${rate(resume)} (${ours === undefined ? "–" : `${pairedRatio(resume, ours).toFixed(2)}×`})`} |`,
    );
  }
  return lines.join("\n");
}
