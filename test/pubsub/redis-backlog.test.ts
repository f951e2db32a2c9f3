// RedisAdapter's bound on publishes waiting for Redis's answer (maxWaitingPublishBytes), and RedisStreamStore's
// on its appends (maxWaitingAppendBytes): a Redis that stops
// answering without dropping the connection (SIGSTOP) keeps every PUBLISH sent to it queued in node-redis,
// also after commandTimeoutMs has failed the call, so without a bound a server publishing to it grew by ~4 KiB
// per publish for as long as the freeze lasted. Past the bound a publish fails at once; once Redis answers,
// the queue drains and publishes go through again.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  RedisAdapter,
  RedisBacklogError,
  RedisStoreBacklogError,
  RedisStreamStore,
  RedisTimeoutError,
  RedisUnavailableError,
} from "../../src/redis/index.js";
import { RedisServer, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;
const message = { topic: "t", payload: Buffer.alloc(100, 1), isText: false };

/** What each of `calls` settled with: "ok", or its error's name (handled at once: none goes unhandled). */
async function outcomes(calls: Promise<void>[]): Promise<Map<string, number>> {
  const settled = await Promise.all(
    calls.map((call) =>
      call.then(
        () => "ok",
        (error: Error) => error.name,
      ),
    ),
  );
  const tally = new Map<string, number>();
  for (const outcome of settled) tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
  return tally;
}

describe("RedisAdapter: publishes waiting for a frozen Redis", { skip }, () => {
  const servers: RedisServer[] = [];
  const adapters: RedisAdapter[] = [];
  after(async () => {
    for (const redis of servers) redis.thaw();
    for (const adapter of adapters) await adapter.close();
    for (const redis of servers) await redis.kill();
  });

  async function frozenAdapter(options: { maxWaitingPublishBytes?: number }) {
    const redis = await RedisServer.start();
    servers.push(redis);
    const adapter = new RedisAdapter({ url: redis.url, commandTimeoutMs: 300, ...options });
    adapters.push(adapter);
    await adapter.ready;
    await adapter.publish(message);
    redis.freeze();
    return { redis, adapter };
  }

  test("past maxWaitingPublishBytes a publish fails at once, also after the timeouts; after SIGCONT they go through", async () => {
    const limit = 1024 * 1024;
    const { redis, adapter } = await frozenAdapter({ maxWaitingPublishBytes: limit });
    const calls = Array.from({ length: 1000 }, () => adapter.publish(message));
    const { waitingPublishes, waitingPublishBytes } = adapter.stats;
    // ~4.6 KB counted per 100-byte publish: about 225 of the 1,000 wait, the others are refused at once.
    assert.ok(waitingPublishes > 100 && waitingPublishes < 300, `${waitingPublishes} waiting`);
    assert.ok(waitingPublishBytes <= limit, `${waitingPublishBytes} bytes counted`);
    const started = Date.now();
    const tally = await outcomes(calls);
    assert.equal(tally.get("RedisTimeoutError"), waitingPublishes);
    assert.equal(tally.get("RedisBacklogError"), 1000 - waitingPublishes);
    assert.ok(Date.now() - started < 3000, "every call settled within the timeout");

    // Timed out, the commands still wait in node-redis's queue, and still count.
    assert.equal(adapter.stats.waitingPublishes, waitingPublishes);
    const refusedAt = Date.now();
    await assert.rejects(adapter.publish(message), (error: Error) => {
      assert.ok(error instanceof RedisBacklogError);
      assert.equal((error as RedisBacklogError).code, "SJ_ERR_REDIS_BACKLOG");
      assert.match(
        error.message,
        /publishes are waiting for Redis to answer \(maxWaitingPublishBytes 1048576\)/,
      );
      return true;
    });
    assert.ok(Date.now() - refusedAt < 100, "refused at once, not after commandTimeoutMs");
    assert.equal(adapter.stats.publishFailed, 1001);

    redis.thaw();
    const deadline = Date.now() + 5000;
    while (adapter.stats.waitingPublishes > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual([adapter.stats.waitingPublishes, adapter.stats.waitingPublishBytes], [0, 0]);
    await adapter.publish(message);
    assert.equal(adapter.stats.published, 2);
  });

  test("one publish larger than the bound goes through when none waits", async () => {
    const { redis, adapter } = await frozenAdapter({ maxWaitingPublishBytes: 1000 });
    const large = { ...message, payload: Buffer.alloc(64 * 1024, 2) };
    const first = adapter.publish(large);
    await assert.rejects(adapter.publish(message), RedisBacklogError);
    await assert.rejects(first, RedisTimeoutError);
    redis.thaw();
    const deadline = Date.now() + 5000;
    while (adapter.stats.waitingPublishes > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await adapter.publish(large);
  });

  test("a burst of 20,000 publishes in one turn to a Redis that answers is not refused (the default bound)", async () => {
    const redis = await RedisServer.start();
    servers.push(redis);
    const adapter = new RedisAdapter({ url: redis.url });
    adapters.push(adapter);
    await adapter.ready;
    const tally = await outcomes(Array.from({ length: 20_000 }, () => adapter.publish(message)));
    assert.deepEqual([...tally], [["ok", 20_000]]);
  });

  test("maxWaitingPublishBytes must be a number above 0", () => {
    for (const bad of [0, -1, Number.NaN, "1", null]) {
      assert.throws(
        () => new RedisAdapter({ url: "redis://127.0.0.1:1", maxWaitingPublishBytes: bad as number }),
        RangeError,
        String(bad),
      );
    }
  });

  test("publishes lost with the connection stop counting; while Redis is down a publish is RedisUnavailableError", async () => {
    const redis = await RedisServer.start();
    const adapter = new RedisAdapter({ url: redis.url, maxWaitingPublishBytes: Number.POSITIVE_INFINITY });
    adapters.push(adapter);
    await adapter.ready;
    redis.freeze();
    const frozen = outcomes(Array.from({ length: 100 }, () => adapter.publish(message)));
    assert.equal(adapter.stats.waitingPublishes, 100);
    await redis.kill();
    await frozen;
    // Until node-redis sees the connection gone a publish may still be sent (and fail with it): bounded.
    let last: Error | undefined;
    for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
      last = await adapter.publish(message).then(
        () => undefined,
        (error: Error) => error,
      );
      if (last instanceof RedisUnavailableError) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(last instanceof RedisUnavailableError, String(last));
    assert.deepEqual([adapter.stats.waitingPublishes, adapter.stats.waitingPublishBytes], [0, 0]);
  });
});

describe("RedisStreamStore: appends waiting for a frozen Redis", { skip }, () => {
  test("past maxWaitingAppendBytes an append fails at once, also after the timeouts; after SIGCONT they go through", async (t) => {
    const redis = await RedisServer.start();
    const store = new RedisStreamStore({
      url: redis.url,
      commandTimeoutMs: 300,
      maxWaitingAppendBytes: 1024 * 1024,
    });
    t.after(async () => {
      redis.thaw();
      await store.close();
      await redis.kill();
    });
    await store.ready;
    await store.append("t", message.payload, false);
    redis.freeze();
    const calls = Array.from({ length: 1000 }, () =>
      store.append("t", message.payload, false).then(() => {}),
    );
    const waiting = store.appendBacklog.appends;
    // ~4.5 KB counted per 100-byte append: about 230 of the 1,000 wait, the others are refused at once.
    assert.ok(waiting > 100 && waiting < 300, `${waiting} waiting`);
    assert.ok(store.appendBacklog.bytes <= 1024 * 1024);
    const tally = await outcomes(calls);
    assert.equal(tally.get("RedisTimeoutError"), waiting);
    assert.equal(tally.get("RedisStoreBacklogError"), 1000 - waiting);
    assert.equal(store.appendBacklog.appends, waiting, "timed out, they still wait in node-redis's queue");
    await assert.rejects(store.append("t", message.payload, false), (error: Error) => {
      assert.ok(error instanceof RedisStoreBacklogError);
      assert.equal((error as RedisStoreBacklogError).code, "SJ_ERR_REDIS_BACKLOG");
      return true;
    });

    redis.thaw();
    const deadline = Date.now() + 5000;
    while (store.appendBacklog.appends > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(store.appendBacklog, { appends: 0, bytes: 0 });
    assert.match(await store.append("t", message.payload, false), /^\d+-\d+$/);
  });

  test("maxWaitingAppendBytes must be a number above 0", () => {
    for (const bad of [0, -1, Number.NaN, "1", null]) {
      assert.throws(
        () => new RedisStreamStore({ url: "redis://127.0.0.1:1", maxWaitingAppendBytes: bad as number }),
        RangeError,
        String(bad),
      );
    }
  });
});
