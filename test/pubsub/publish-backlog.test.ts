// maxPendingPublishBytes (src/server/publish-backlog.ts) against a real Redis: while it is frozen (SIGSTOP:
// the connection stays up, nothing is answered) publishes stop being handed to the adapter once more than
// the bound waits from earlier turns of the event loop, with one 'error' for the backlog; local subscribers
// still get them; once Redis goes on, publishes reach it again. A burst made in one turn to a Redis that
// keeps up is never refused, however far past the bound it goes.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { RedisAdapter } from "../../src/redis/index.js";
import { RedisStreamStore } from "../../src/redis/stream-exports.js";
import type { PubSubError } from "../../src/server/adapter.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { RedisServer, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;
const MiB = 1024 * 1024;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function serverOn(redis: RedisServer, maxPendingPublishBytes?: number) {
  const adapter = new RedisAdapter({ url: redis.url, commandTimeoutMs: 20_000 });
  await adapter.ready;
  const server = new WebSocketServer({ noServer: true, adapter, maxPendingPublishBytes });
  const errors: PubSubError[] = [];
  server.on("error", (error) => errors.push(error as PubSubError));
  return { server, errors };
}

describe("maxPendingPublishBytes", { skip }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("a frozen Redis: past the bound publishes are dropped for the other processes, one 'error'; after SIGCONT they go again", async () => {
    const redis = await RedisServer.start();
    cleanups.push(
      () => redis.kill(),
      () => redis.thaw(),
    );
    const { server, errors } = await serverOn(redis, 4 * MiB);
    cleanups.push(() => server.close());
    const payload = Buffer.alloc(256 * 1024, 7);
    redis.freeze();
    // 40 publishes of 256 KiB, 4 a turn: 10 MiB, 2.5 times the bound.
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < 4; j++) server.publish("t", payload);
      await turn();
    }
    await turn();
    const frozen = server.pubsubStats;
    assert.equal(frozen.published, 40, "every publish went to the local subscribers");
    assert.equal(frozen.adapterPublished, 0);
    // Admitted while at most 4 MiB waited from earlier turns, plus one turn's burst (1 MiB).
    assert.ok(
      frozen.adapterPendingBytes <= 5 * MiB + payload.length,
      `${frozen.adapterPendingBytes} B waiting`,
    );
    assert.ok(frozen.adapterPendingBytes >= 4 * MiB, `${frozen.adapterPendingBytes} B waiting`);
    assert.equal(frozen.adapterFailed, 40 - frozen.adapterPendingBytes / payload.length);
    assert.deepEqual(
      errors.map((error) => error.code),
      ["SJ_ERR_ADAPTER_BACKLOG"],
    );
    assert.match(errors[0].message, /MiB still wait for the adapter .*maxPendingPublishBytes/);

    redis.thaw();
    const deadline = Date.now() + 10_000;
    while (server.pubsubStats.adapterPendingBytes > 0 && Date.now() < deadline) await turn();
    assert.equal(server.pubsubStats.adapterPendingBytes, 0);
    server.publish("t", payload);
    await server.adapterSettled();
    assert.equal(server.pubsubStats.adapterPublished, frozen.adapterPendingBytes / payload.length + 1);
    assert.equal(errors.length, 1, "one report for the backlog");
  });

  test("a burst in one turn to a Redis that keeps up is never refused, even far past the bound", async () => {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.kill());
    const { server, errors } = await serverOn(redis, 1 * MiB);
    cleanups.push(() => server.close());
    const payload = Buffer.alloc(MiB, 1);
    for (let i = 0; i < 50; i++) server.publish("t", payload);
    await server.adapterSettled();
    assert.equal(server.pubsubStats.adapterPublished, 50);
    assert.equal(server.pubsubStats.adapterFailed, 0);
    assert.deepEqual(errors, []);
  });

  test("a distributing resume store (Redis Streams), frozen: past the bound publishes are dropped, one 'error'", async () => {
    const redis = await RedisServer.start();
    cleanups.push(
      () => redis.kill(),
      () => redis.thaw(),
    );
    const store = new RedisStreamStore({ url: redis.url, commandTimeoutMs: 20_000 });
    await store.ready;
    const server = new WebSocketServer({ noServer: true, resume: { store }, maxPendingPublishBytes: MiB });
    cleanups.push(() => server.close());
    const errors: PubSubError[] = [];
    server.on("error", (error) => errors.push(error as PubSubError));
    redis.freeze();
    const payload = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 8; i++) {
      server.publish("t", payload);
      await turn();
    }
    await turn();
    const stats = server.pubsubStats;
    // Admitted until more than 1 MiB waited from earlier turns: 5 of 256 KiB; the 3 after are dropped.
    assert.equal(stats.adapterPendingBytes, 5 * payload.length);
    assert.equal(stats.adapterFailed, 3);
    assert.deepEqual(
      errors.map((error) => error.code),
      ["SJ_ERR_ADAPTER_BACKLOG"],
    );
    redis.thaw();
    const deadline = Date.now() + 10_000;
    while (server.pubsubStats.adapterPendingBytes > 0 && Date.now() < deadline) await turn();
    assert.equal(server.pubsubStats.adapterPublished, 5);
  });

  test("the option is checked like the other sizes", () => {
    for (const bad of [-1, Number.NaN, "1"])
      assert.throws(
        () => new WebSocketServer({ noServer: true, maxPendingPublishBytes: bad as number }),
        TypeError,
      );
  });
});
