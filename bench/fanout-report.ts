// The fan-out benchmark's report: its cases paired by contender, and the Markdown table (bench/run.ts and
// bench/fanout.ts print it; bench/targets.ts judges the pairs).

import type { FanoutContender, FanoutResult } from "./fanout.js";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** "rate (median×, low–high×)" of resume against plain, run by run. */
function resumeCell(resume: FanoutResult | undefined, plain: FanoutResult | undefined): string {
  if (resume === undefined) return "–";
  const rate = `${formatRate(resume.deliveredPerSecond)}/s`;
  if (plain === undefined) return rate;
  const { median, low, high } = pairedRatioInterval(resume, plain);
  const interval = Number.isFinite(low) ? `, ${low.toFixed(2)}–${high.toFixed(2)}×` : "";
  return `${rate} (${median.toFixed(2)}×${interval})`;
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/**
 * The median of `values` with a distribution-free interval of at least 95% for it: the k-th smallest and
 * k-th largest, with the largest k for which the median lies between them with probability
 * 1 − 2·P(Binomial(n, ½) ≤ k − 1) ≥ 0.95 (n = 9: the 2nd and 8th; n = 15: the 4th and 12th). NaN bounds
 * with fewer than 6 values, where no such k exists.
 */
export function medianInterval(values: number[]): {
  median: number;
  low: number;
  high: number;
  coverage: number;
} {
  const sorted = [...values].sort((x, y) => x - y);
  const n = sorted.length;
  const { k, coverage } = intervalRank(n);
  return {
    median: n === 0 ? Number.NaN : median(sorted),
    low: k === 0 ? Number.NaN : sorted[k - 1],
    high: k === 0 ? Number.NaN : sorted[n - k],
    coverage,
  };
}

/** medianInterval()'s k for n values (0 and NaN coverage when n < 6), and that interval's coverage. */
export function intervalRank(n: number): { k: number; coverage: number } {
  let k = 0;
  let coverage = Number.NaN;
  for (let j = 1; 2 * j <= n; j++) {
    const c = 1 - 2 * binomialHalfCdf(n, j - 1);
    if (c < 0.95) break;
    k = j;
    coverage = c;
  }
  return { k, coverage };
}

/**
 * `a` ÷ `b` of one interleaved case, run by run (`a.runs[i]` and `b.runs[i]` ran next to each other, so the
 * machine's slow drifts cancel). With one round: the median of the run ratios and its interval, which only
 * covers the noise between runs of the same processes. With several rounds (fresh processes each): each
 * round's median ratio is one value, and the figure is their median with its interval, which also covers
 * what differs from one start of the processes to the next (`runs` then counts rounds).
 */
export function pairedRatioInterval(
  a: FanoutResult,
  b: FanoutResult,
): { median: number; low: number; high: number; coverage: number; runs: number; rounds: number } {
  const rounds = Math.min(a.roundRuns.length, b.roundRuns.length);
  const ratiosOf = (x: number[], y: number[]) =>
    Array.from({ length: Math.min(x.length, y.length) }, (_, i) => x[i] / y[i]);
  if (rounds > 1) {
    const perRound = Array.from({ length: rounds }, (_, r) =>
      median(ratiosOf(a.roundRuns[r], b.roundRuns[r])),
    );
    return { ...medianInterval(perRound), runs: rounds, rounds };
  }
  const ratios = ratiosOf(a.runs, b.runs);
  return { ...medianInterval(ratios), runs: ratios.length, rounds: 1 };
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

/**
 * sockjet ÷ ws, both measured in the same round: ws's `alongside` (sockjet's rate in ws's round) when there is
 * one, else sockjet's own median.
 */
export function speedUp(sockjet: FanoutResult, ws: FanoutResult): number {
  return (ws.alongside ?? sockjet.deliveredPerSecond) / ws.deliveredPerSecond;
}

/** A Markdown table of the results, with sockjet's speed-up over the naïve `ws` loop. */
export function formatFanout(results: FanoutResult[], format: FanoutFormat = {}): string {
  const lines = [
    "| size | publisher | sockjet server.publish() | ws naïve loop | speed-up | frames built per publish | server CPU sockjet / ws / resume | others' CPU sockjet / ws / resume | resume on (÷ sockjet, run by run: median, ≥ 95% interval) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { sockjet: ours, ws: theirs, resume, size, label } of fanoutPairs(results)) {
    const contended = fanoutContended([ours, theirs], format.contendedCpu);
    const rate = (r: FanoutResult | undefined) =>
      r === undefined ? "–" : `${formatRate(r.deliveredPerSecond)}/s`;
    let ratio = "–";
    if (ours !== undefined && theirs !== undefined) {
      const x = speedUp(ours, theirs);
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
        `${ours?.framesPerMessage?.toFixed(2) ?? "–"} | ${cpu(ours)} / ${cpu(theirs)} / ${cpu(resume)} | ` +
        `${other(ours)} / ${other(theirs)} / ${other(resume)} | ${resumeCell(resume, ours)} |`,
    );
  }
  return lines.join("\n");
}
