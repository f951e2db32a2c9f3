// PublishFailureLog (src/cli/publish-failure-log.ts): a backlog report of the server (SJ_ERR_ADAPTER_BACKLOG)
// starts the same two-line outage as failed publishes do, and other errors are left to the caller; an outage
// ends only once a whole check sees publishes get through and none fail.

import assert from "node:assert/strict";
import { test } from "node:test";
import { PublishFailureLog } from "../../src/cli/publish-failure-log.js";
import { PubSubError } from "../../src/server/adapter.js";

test("a backlog is one line when it starts and one with the count once a publish gets through", async () => {
  const stats = { adapterPublished: 10, adapterFailed: 3 };
  const lines: string[] = [];
  const log = new PublishFailureLog(
    () => stats,
    (line) => lines.push(line),
    20,
  );
  const backlog = new PubSubError("SJ_ERR_ADAPTER_BACKLOG", "8.0 MiB still wait", undefined, undefined);
  assert.equal(log.take(backlog), true);
  assert.equal(log.take(backlog), true);
  assert.equal(log.take(new PubSubError("SJ_ERR_ADAPTER_SUBSCRIBE", "x", "t", undefined)), false);
  assert.equal(log.take(new Error("other")), false);
  assert.deepEqual(lines, [
    "chat: publishes do not reach Redis (more than maxPendingPublishBytes wait for it); counting them until they do",
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
