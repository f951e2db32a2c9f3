import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelayMs } from "../../src/reconnecting/index.js";

// Full jitter: retry n waits random × min(cap, base × 2^n), in whole ms (AWS, "Exponential Backoff And Jitter").

describe("backoff with full jitter", () => {
  test("the ceiling doubles from initialDelayMs up to maxDelayMs", () => {
    const top = () => 0.999999;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 60, 5000].map((n) => backoffDelayMs(n, 100, 1000, top)),
      [99, 199, 399, 799, 999, 999, 999, 999],
    );
  });

  test("the delay is the random fraction of the ceiling, from 0", () => {
    assert.deepEqual(
      [0, 0.25, 0.5].map((r) => backoffDelayMs(2, 100, 1000, () => r)),
      [0, 100, 200],
    );
  });

  test("a random source outside [0, 1) cannot go below 0 or past the cap", () => {
    assert.equal(
      backoffDelayMs(0, 100, 1000, () => -5),
      0,
    );
    assert.equal(
      backoffDelayMs(3, 100, 1000, () => 7),
      800,
    );
    assert.equal(
      backoffDelayMs(3, 100, 1000, () => Number.NaN),
      0,
    );
  });
});
