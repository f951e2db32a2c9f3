import assert from "node:assert/strict";
import { test } from "node:test";
import { RestartBudget } from "../../src/cli/restart-budget.js";

// serve --workers restarts dead workers at most N times in any sliding window (src/cli/restart-budget.ts).

test("at most max restarts in any window; room again as old ones leave the window", () => {
  let now = 1_000;
  const budget = new RestartBudget(3, 60_000, () => now);
  assert.deepEqual([budget.take(), budget.take(), budget.take()], [true, true, true]);
  assert.equal(budget.take(), false, "a fourth within the minute is refused");
  now += 59_999;
  assert.equal(budget.take(), false, "still inside the window");
  now += 1;
  assert.equal(budget.take(), true, "the first three left the window");
  assert.equal(budget.take(), true);
  now += 30_000;
  assert.equal(budget.take(), true);
  assert.equal(budget.take(), false);
});
