// RedisAdapter and a Redis that stops answering without dropping the connection (SIGSTOP, as a hung host or
// a long fork would): every call fails after commandTimeoutMs instead of holding whoever waits for it, and the
// adapter works again once Redis goes on (issue 21 item 12).

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { RedisAdapter, RedisTimeoutError } from "../../src/redis/index.js";
import { RedisServer, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;

describe("RedisAdapter: a frozen Redis", { skip }, () => {
  let redis: RedisServer | undefined;
  let adapter: RedisAdapter | undefined;
  after(async () => {
    redis?.thaw();
    await adapter?.close();
    await redis?.kill();
  });

  test("publish and subscribe fail after commandTimeoutMs, counted; after SIGCONT publishes go through", async () => {
    redis = await RedisServer.start();
    adapter = new RedisAdapter({ url: redis.url, commandTimeoutMs: 300 });
    await adapter.ready;
    const message = { topic: "t", payload: Buffer.from("x"), isText: true };
    await adapter.publish(message);

    redis.freeze();
    const started = Date.now();
    await assert.rejects(adapter.publish(message), RedisTimeoutError);
    await assert.rejects(adapter.subscribe("u"), RedisTimeoutError);
    assert.ok(Date.now() - started < 3_000, `failed after ${Date.now() - started} ms`);
    assert.equal(adapter.stats.publishFailed, 1);
    assert.equal(adapter.stats.published, 1);

    redis.thaw();
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        await adapter.publish(message);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
    assert.ok(adapter.stats.published >= 2);
  });
});
