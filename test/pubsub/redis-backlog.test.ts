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
  type RedisAdapterOptions,
  RedisBacklogError,
  RedisStoreBacklogError,
  RedisStreamStore,
  RedisTimeoutError,
  RedisUnavailableError,
} from "../../src/redis/index.js";
import { LAGGING_MS } from "../../src/redis/waiting-publishes.js";
import { RedisServer, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (at most 5 s) until `waiting()` is 0: Redis has answered everything it was sent. */
async function drained(waiting: () => number): Promise<void> {
  for (const deadline = Date.now() + 5000; waiting() > 0 && Date.now() < deadline; ) await sleep(20);
}
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

  /** An adapter on a Redis of its own that answers. */
  async function liveAdapter(options: Partial<RedisAdapterOptions>) {
    const redis = await RedisServer.start();
    servers.push(redis);
    const adapter = new RedisAdapter({ url: redis.url, ...options });
    adapters.push(adapter);
    await adapter.ready;
    return { redis, adapter };
  }

  async function frozenAdapter(options: { maxWaitingPublishBytes?: number }) {
    const { redis, adapter } = await liveAdapter({ commandTimeoutMs: 300, ...options });
    await adapter.publish(message);
    redis.freeze();
    return { redis, adapter };
  }

  test("past maxWaitingPublishBytes, once the oldest has waited LAGGING_MS, a publish fails at once; after SIGCONT they go through", async () => {
    const limit = 1024 * 1024;
    const { redis, adapter } = await frozenAdapter({ maxWaitingPublishBytes: limit });
    // One turn: all are sent (Redis may just be busy for a moment), past the bound.
    const first = outcomes(Array.from({ length: 400 }, () => adapter.publish(message)));
    const { waitingPublishes, waitingPublishBytes } = adapter.stats;
    assert.equal(waitingPublishes, 400);
    assert.ok(waitingPublishBytes > limit, `${waitingPublishBytes} bytes counted`);
    assert.deepEqual([...(await first)], [["RedisTimeoutError", 400]]);
    // Timed out, the commands still wait in node-redis's queue, and still count.
    assert.equal(adapter.stats.waitingPublishes, 400);
    await sleep(LAGGING_MS + 200);
    const refusedAt = Date.now();
    await assert.rejects(adapter.publish(message), (error: Error) => {
      assert.ok(error instanceof RedisBacklogError);
      assert.equal((error as RedisBacklogError).code, "SJ_ERR_REDIS_BACKLOG");
      assert.match(
        error.message,
        /^400 publishes wait for Redis to answer, past maxWaitingPublishBytes \(1 MiB\)/,
      );
      return true;
    });
    assert.ok(Date.now() - refusedAt < 100, "refused at once, not after commandTimeoutMs");
    assert.equal(adapter.stats.publishFailed, 401);

    redis.thaw();
    await drained(() => adapter.stats.waitingPublishes);
    assert.deepEqual([adapter.stats.waitingPublishes, adapter.stats.waitingPublishBytes], [0, 0]);
    await adapter.publish(message);
    assert.equal(adapter.stats.published, 2);
  });

  test("below the bound a publish larger than it goes through (a large one is not starved)", async () => {
    const { redis, adapter } = await frozenAdapter({ maxWaitingPublishBytes: 1000 });
    const large = { ...message, payload: Buffer.alloc(64 * 1024, 2) };
    // 64 KiB counted past a 1,000-byte bound: it went, and once it has waited LAGGING_MS the next is refused.
    const first = assert.rejects(adapter.publish(large), RedisTimeoutError);
    await sleep(LAGGING_MS + 50);
    await assert.rejects(adapter.publish(message), RedisBacklogError);
    await first;
    redis.thaw();
    await drained(() => adapter.stats.waitingPublishes);
    await adapter.publish(large);
  });

  test("a turn of the event loop longer than LAGGING_MS does not make a Redis that answers look slow", async () => {
    const { adapter } = await liveAdapter({ maxWaitingPublishBytes: 64 * 1024 });
    // One synchronous turn: publishes past the bound, a busy stretch longer than LAGGING_MS, more publishes.
    // node-redis writes them only when the loop turns: Redis has not seen one yet, it does not lag.
    const calls = Array.from({ length: 50 }, () => adapter.publish(message));
    for (const until = performance.now() + LAGGING_MS + 200; performance.now() < until; );
    calls.push(...Array.from({ length: 50 }, () => adapter.publish(message)));
    assert.deepEqual([...(await outcomes(calls))], [["ok", 100]]);
  });

  test("node-redis's own timeout of a command it never wrote is a RedisTimeoutError that says so", async () => {
    // node-redis's command timeout (its default is 5 s) shortened to 200 ms.
    const { redis, adapter } = await liveAdapter({
      commandTimeoutMs: 3000,
      clientOptions: { commandOptions: { timeout: 200 } },
    });
    redis.freeze();
    // 64 MiB fill the connection's buffers on both sides: what comes after them is never written.
    const large = { ...message, payload: Buffer.alloc(1024 * 1024, 3) };
    const filling = Array.from({ length: 64 }, () => adapter.publish(large).catch(() => {}));
    const error = await adapter.publish(message).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.ok(error instanceof RedisTimeoutError, String(error));
    assert.match(
      error.message,
      /^A publish was not sent to Redis within \d+ ms \(node-redis's command timeout/,
    );
    assert.equal(error.code, "SJ_ERR_REDIS_TIMEOUT");
    redis.thaw();
    await Promise.all(filling);
  });

  test("commandTimeoutMs: a number of milliseconds above 0 (TypeError, RangeError)", () => {
    const make = (value: unknown) => () =>
      new RedisAdapter({ url: "redis://127.0.0.1:1", commandTimeoutMs: value as number });
    assert.throws(make("x"), TypeError);
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(make(bad), RangeError, String(bad));
  });

  test("bursts far past the bound to a Redis that answers are not refused", async () => {
    const { adapter } = await liveAdapter({ maxWaitingPublishBytes: 1024 * 1024 });
    for (let i = 0; i < 3; i++) {
      const large = { ...message, payload: Buffer.alloc(1024 * 1024, i) };
      const tally = await outcomes(Array.from({ length: 40 }, () => adapter.publish(large)));
      assert.deepEqual([...tally], [["ok", 40]], `burst ${i}`);
    }
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

  test("maxWaitingPublishBytes: a whole number of bytes ≥ 1 or Infinity (TypeError, RangeError)", () => {
    const make = (value: unknown) => () =>
      new RedisAdapter({ url: "redis://127.0.0.1:1", maxWaitingPublishBytes: value as number });
    for (const bad of ["1", null, true, {}, 1n, Object.create(null)])
      assert.throws(make(bad), TypeError, String(typeof bad));
    for (const bad of [0, -1, Number.NaN, 0.5, 1e-300, Number.NEGATIVE_INFINITY])
      assert.throws(make(bad), RangeError, String(bad));
    assert.throws(make("1"), /maxWaitingPublishBytes must be a number of bytes, not a string; leave it out/);
  });

  test("publishes lost with the connection stop counting; while Redis is down a publish is RedisUnavailableError", async () => {
    // The server is killed by the test itself (kill() again in after() does nothing).
    const { redis, adapter } = await liveAdapter({ maxWaitingPublishBytes: Number.POSITIVE_INFINITY });
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
  test("past maxWaitingAppendBytes, once the oldest has waited LAGGING_MS, an append fails at once; after SIGCONT they go through", async (t) => {
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
    const first = outcomes(
      Array.from({ length: 400 }, () => store.append("t", message.payload, false).then(() => {})),
    );
    assert.equal(store.appendBacklog.appends, 400);
    assert.ok(store.appendBacklog.bytes > 1024 * 1024);
    assert.deepEqual([...(await first)], [["RedisTimeoutError", 400]]);
    assert.equal(store.appendBacklog.appends, 400, "timed out, they still wait in node-redis's queue");
    await sleep(LAGGING_MS + 200);
    await assert.rejects(store.append("t", message.payload, false), (error: Error) => {
      assert.ok(error instanceof RedisStoreBacklogError);
      assert.ok(error instanceof RedisBacklogError);
      assert.equal((error as RedisStoreBacklogError).code, "SJ_ERR_REDIS_BACKLOG");
      assert.match(error.message, /^400 appends wait for Redis to answer, past maxWaitingAppendBytes/);
      return true;
    });

    redis.thaw();
    await drained(() => store.appendBacklog.appends);
    assert.deepEqual(store.appendBacklog, { appends: 0, bytes: 0 });
    assert.match(await store.append("t", message.payload, false), /^\d+-\d+$/);
  });

  test("maxWaitingAppendBytes: a whole number of bytes ≥ 1 or Infinity (TypeError, RangeError)", () => {
    const make = (value: unknown) => () =>
      new RedisStreamStore({ url: "redis://127.0.0.1:1", maxWaitingAppendBytes: value as number });
    for (const bad of ["1", null]) assert.throws(make(bad), TypeError, String(bad));
    for (const bad of [0, -1, Number.NaN, 0.5]) assert.throws(make(bad), RangeError, String(bad));
  });
});
