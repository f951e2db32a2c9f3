// The fan-out benchmark's judging of issue 19's "≤ 10 % slower": the run-by-run median and its
// distribution-free interval (order statistics of the paired ratios), and the run order that never runs one
// contender twice in a row.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FanoutResult } from "../../bench/fanout.js";
import { mergeRounds, runOrder } from "../../bench/fanout.js";
import { intervalRank, pairedRatioInterval, speedUp } from "../../bench/fanout-report.js";

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

  test("several rounds: one value per round (its median run ratio, runs paired within the round), and the interval over the rounds", () => {
    // 9 rounds of 4 runs. Round r's run ratios are v_r, v_r + 0.004, v_r + 0.002 and an outlier 0.5 (a median
    // of an even count: the mean of the middle two, v_r + 0.001); plain's rates differ from round to round and
    // run to run, so pairing across rounds or runs would change the values. The rounds' values are skewed
    // (1.00 1.01 1.02 1.03 1.05 1.08 1.12 1.17 1.30): median 1.05, interval the 2nd and 8th.
    const values = [1.0, 1.01, 1.02, 1.03, 1.05, 1.08, 1.12, 1.17, 1.3];
    const order = [4, 0, 8, 2, 6, 1, 7, 3, 5];
    const plain: number[][] = [];
    const resume: number[][] = [];
    for (const [round, k] of order.entries()) {
      const rates = [1000 + 37 * round, 2000 - 11 * round, 1500 + round, 900 + 53 * round];
      const ratios = [values[k], values[k] + 0.004, values[k] + 0.002, 0.5];
      plain.push(rates);
      resume.push(rates.map((rate, i) => rate * ratios[i]));
    }
    const { median, low, high, coverage, runs, rounds } = pairedRatioInterval(
      result(resume.flat(), resume),
      result(plain.flat(), plain),
    );
    assert.equal(rounds, 9);
    assert.equal(runs, 9);
    assert.ok(Math.abs(median - 1.051) < 1e-9, `median ${median}`);
    assert.ok(Math.abs(low - 1.011) < 1e-9, `low ${low}`);
    assert.ok(Math.abs(high - 1.171) < 1e-9, `high ${high}`);
    // 1 − 2·P(Binomial(9, ½) ≤ 1) = 1 − 2·10/512
    assert.ok(Math.abs(coverage - (1 - 20 / 512)) < 1e-12, `coverage ${coverage}`);
  });
});

describe("intervalRank", () => {
  test("the largest k whose order-statistic interval covers the median with at least 95%", () => {
    // 1 − 2·P(Binomial(n, ½) ≤ k − 1), computed by hand: n = 9, k = 2: 1 − 2·10/512; k = 3 would be
    // 1 − 2·46/512 = 0.82. n = 15, k = 4: 1 − 2·576/32768; k = 5: 1 − 2·1941/32768 = 0.88.
    assert.deepEqual(intervalRank(9), { k: 2, coverage: 1 - 20 / 512 });
    assert.deepEqual(intervalRank(15), { k: 4, coverage: 1 - 1152 / 32768 });
    assert.equal(intervalRank(6).k, 1);
    const five = intervalRank(5);
    assert.equal(five.k, 0);
    assert.ok(Number.isNaN(five.coverage));
  });
});

describe("mergeRounds", () => {
  test("one round: the result as it is", () => {
    const only = result([3, 1, 2]);
    assert.equal(mergeRounds([only]), only);
  });

  test("rounds: runs concatenated in order, kept per round, the median of all, CPU averaged, the worst other CPU and frames", () => {
    const a = { ...result([1, 2, 3, 4]), serverCpuPercent: 90, otherCpuPercent: 3, framesPerMessage: 1 };
    const b = {
      ...result([10, 20, 30, 40]),
      serverCpuPercent: 100,
      otherCpuPercent: 25,
      framesPerMessage: 1.5,
    };
    const merged = mergeRounds([a, b]);
    assert.deepEqual(merged.runs, [1, 2, 3, 4, 10, 20, 30, 40]);
    assert.deepEqual(merged.roundRuns, [
      [1, 2, 3, 4],
      [10, 20, 30, 40],
    ]);
    assert.equal(merged.deliveredPerSecond, 7); // (4 + 10) / 2
    assert.equal(merged.serverCpuPercent, 95);
    assert.equal(merged.otherCpuPercent, 25);
    assert.equal(merged.framesPerMessage, 1.5);
  });
});

describe("speedUp", () => {
  test("sockjet's rate in ws's own round when there is one, else sockjet's median", () => {
    const sockjet = { ...result([]), deliveredPerSecond: 1000 };
    const ws = { ...result([]), contender: "ws" as const, deliveredPerSecond: 100 };
    assert.equal(speedUp(sockjet, ws), 10);
    assert.equal(speedUp(sockjet, { ...ws, alongside: 800 }), 8);
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
