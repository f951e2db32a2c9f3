// PublishFailureLog (src/cli/publish-failure-log.ts): failed publishes are one line when an outage starts and
// one with the count when it ends, other errors are left to the caller, and an outage ends only once a whole
// check sees publishes get through and none fail.

import assert from "node:assert/strict";
import { test } from "node:test";
import { PublishFailureLog } from "../../src/cli/publish-failure-log.js";
import { PubSubError } from "../../src/server/adapter.js";

test("an outage is one line when it starts and one with the count once publishes get through again", async () => {
  const stats = { adapterPublished: 10, adapterFailed: 3 };
  const lines: string[] = [];
  const log = new PublishFailureLog(
    () => stats,
    (line) => lines.push(line),
    20,
  );
  const failed = new PubSubError("SJ_ERR_ADAPTER_PUBLISH", "x", "t", new Error("The client is offline"));
  assert.equal(log.take(failed), true);
  assert.equal(log.take(failed), true);
  assert.equal(log.take(new PubSubError("SJ_ERR_ADAPTER_SUBSCRIBE", "x", "t", undefined)), false);
  assert.equal(log.take(new Error("other")), false);
  assert.deepEqual(lines, [
    "chat: publishes do not reach Redis (The client is offline); counting them until they do",
  ]);
  // Some get through while others keep failing: still the same outage.
  for (let i = 0; i < 5; i++) {
    stats.adapterFailed += 7;
    stats.adapterPublished += 1;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  assert.equal(lines.length, 1, lines.join("\n"));
  // A check that sees publishes get through and none fail ends it, with the count since its start.
  stats.adapterPublished += 1;
  for (let i = 0; i < 50 && lines.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[1], /publishes reach Redis again; 36 failed in/);
  log.stop();
});
