// The fan-out benchmark's judging of issue 19's "≤ 10 % slower": the run-by-run median and its
// distribution-free interval (order statistics of the paired ratios), and the run order that never runs one
// contender twice in a row.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FanoutResult } from "../../bench/fanout.js";
import { runOrder } from "../../bench/fanout.js";
import { pairedRatioInterval } from "../../bench/fanout-report.js";

function result(runs: number[], roundRuns: number[][] = [runs]): FanoutResult {
  return {
    contender: "sockjet",
    size: 32,
    publisher: "server",
    burst: 16,
    subscribers: 1000,
    messages: 100,
    deliveredPerSecond: 0,
    runs,
    roundRuns,
    serverCpuPercent: 0,
    receiverCpuPercent: 0,
    otherCpuPercent: 0,
  };
}

describe("pairedRatioInterval", () => {
  test("15 runs: the median of a.runs[i] ÷ b.runs[i], between the 4th and the 12th smallest ratios", () => {
    // Ratios 0.81, 0.82, …, 0.95 in shuffled run order: each pair divides the same run index.
    const ratios = Array.from({ length: 15 }, (_, i) => 0.81 + i / 100);
    const order = [7, 2, 14, 0, 9, 4, 11, 1, 13, 6, 3, 10, 5, 12, 8];
    const plain = order.map((_, i) => 1000 + 10 * i);
    const resume = order.map((k, i) => ratios[k] * plain[i]);
    const { median, low, high, coverage, runs } = pairedRatioInterval(result(resume), result(plain));
    assert.equal(runs, 15);
    assert.ok(Math.abs(median - 0.88) < 1e-9, `median ${median}`);
    assert.ok(Math.abs(low - 0.84) < 1e-9, `low ${low}`);
    assert.ok(Math.abs(high - 0.92) < 1e-9, `high ${high}`);
    // 1 − 2·P(Binomial(15, ½) ≤ 3) = 1 − 2·576/32768
    assert.ok(Math.abs(coverage - (1 - (2 * 576) / 32768)) < 1e-12, `coverage ${coverage}`);
  });

  test("too few runs for a 95% interval: NaN bounds, the median still given", () => {
    const { median, low, high } = pairedRatioInterval(result([2, 2, 2, 2, 2]), result([1, 1, 1, 1, 1]));
    assert.equal(median, 2);
    assert.ok(Number.isNaN(low) && Number.isNaN(high));
  });

  test("runs beyond the shorter list are not paired", () => {
    const { runs } = pairedRatioInterval(result([1, 2, 3, 4, 5, 6, 7]), result([1, 1, 1, 1, 1, 1]));
    assert.equal(runs, 6);
  });

  test("several rounds: one value per round (its median run ratio), and the interval over the rounds", () => {
    // 9 rounds of 3 runs; round r's run ratios are 1.00 + r/100 with one outlier run each, which the
    // round's median leaves out, so the rounds' medians are 1.00 … 1.08: interval the 2nd and 8th.
    const plain: number[][] = [];
    const resume: number[][] = [];
    for (const r of [4, 0, 8, 2, 6, 1, 7, 3, 5]) {
      plain.push([1000, 2000, 1500]);
      resume.push([1000 * (1 + r / 100), 2000 * 0.5, 1500 * (1 + r / 100)]);
    }
    const flat = (rounds: number[][]) => rounds.flat();
    const { median, low, high, runs, rounds } = pairedRatioInterval(
      result(flat(resume), resume),
      result(flat(plain), plain),
    );
    assert.equal(rounds, 9);
    assert.equal(runs, 9);
    assert.ok(Math.abs(median - 1.04) < 1e-9, `median ${median}`);
    assert.ok(Math.abs(low - 1.01) < 1e-9, `low ${low}`);
    assert.ok(Math.abs(high - 1.07) < 1e-9, `high ${high}`);
  });
});

describe("runOrder", () => {
  for (const count of [2, 3, 4]) {
    test(`${count} contenders: each runs once per run, never twice in a row across runs`, () => {
      const names = Array.from({ length: count }, (_, i) => `c${i}`);
      const sequence: string[] = [];
      for (let run = 0; run < 12; run++) {
        const order = runOrder(names, run);
        assert.deepEqual([...order].sort(), [...names].sort());
        sequence.push(...order);
      }
      for (let i = 1; i < sequence.length; i++) assert.notEqual(sequence[i], sequence[i - 1], `at ${i}`);
    });
  }
});
