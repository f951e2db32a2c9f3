// Publishes that come faster than the distributing store takes them are bounded (MAX_PENDING_PUBLISH_BYTES):
// past it a publish is refused and reported (SJ_ERR_ADAPTER_PUBLISH), not queued without end. A chat flood
// grew the workers of `serve --workers 2` to 2.4 GB until they were killed (review). Here Redis stops taking
// writes (CLIENT PAUSE … WRITE) while 1 MiB publishes come.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createClient } from "redis";
import { RedisStreamStore } from "../../src/redis/index.js";
import type { PubSubError } from "../../src/server/adapter.js";
import { MAX_PENDING_PUBLISH_BYTES } from "../../src/server/pubsub.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { startServer, until } from "./helpers.js";

describe("publishes pending at a distributing store are bounded", { skip: redisSkip() }, () => {
  test("while Redis takes no writes, 1 MiB publishes past the bound are refused and reported; the rest are stored", async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    const store = new RedisStreamStore({ url: redis.url, commandTimeoutMs: 20_000 });
    t.after(() => store.close());
    const { server } = await startServer(t, { resume: { store } });
    const refused: PubSubError[] = [];
    server.on("error", (error) => refused.push(error as PubSubError));
    await store.ready;
    const admin = createClient({ url: redis.url });
    admin.on("error", () => {});
    await admin.connect();
    t.after(() => admin.close());
    await admin.sendCommand(["CLIENT", "PAUSE", "1500", "WRITE"]);

    const MiB = 1024 * 1024;
    const count = MAX_PENDING_PUBLISH_BYTES / MiB + 16;
    for (let i = 0; i < count; i++) server.publish("flood", Buffer.alloc(MiB, i % 256));
    assert.equal(refused.length, 16, "the publishes past the bound");
    assert.ok(
      refused.every((error) => error.code === "SJ_ERR_ADAPTER_PUBLISH" && /refused/.test(error.message)),
      refused[0]?.message,
    );
    assert.equal(server.pubsubStats.adapterFailed, 16);

    // Once Redis takes writes again, the admitted ones are stored, and a new publish goes through.
    await until(() => server.pubsubStats.adapterPublished === count - 16, 15_000, "the admitted appends");
    server.publish("flood", "after");
    await until(
      () => server.pubsubStats.adapterPublished === count - 15,
      5000,
      "a publish after the backlog",
    );
    assert.equal(refused.length, 16);
    const stored = (await store.readAfter("flood", "", 1000)) ?? [];
    assert.equal(stored.length, count - 15);
  });
});
