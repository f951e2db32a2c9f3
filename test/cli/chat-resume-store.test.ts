import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LocalFallbackStore } from "../../src/cli/chat-resume-store.js";
import { RedisStreamStore, RedisTimeoutError } from "../../src/redis/index.js";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { until } from "../pubsub/helpers.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";

// LocalFallbackStore (serve --redis) on a real RedisStreamStore and redis-server (issue 19 item 1).

describe("LocalFallbackStore", { skip: redisSkip() }, () => {
  test("an append that times out while Redis is frozen is delivered here once, not again when Redis runs it late", async () => {
    const redis = await RedisServer.start();
    const streams = new RedisStreamStore({ url: redis.url, commandTimeoutMs: 300 });
    const other = new RedisStreamStore({ url: redis.url });
    streams.onError(() => {});
    other.onError(() => {});
    const store = new LocalFallbackStore(streams);
    const here: string[] = [];
    const there: string[] = [];
    const text = (message: StoredMessage) => message.payload.toString("utf8");
    store.onAppended((_topic, message) => here.push(text(message)));
    other.onAppended((_topic, message) => there.push(text(message)));
    try {
      await Promise.all([streams.ready, other.ready]);
      await store.subscribe("room");
      await other.subscribe("room");
      await store.append("room", Buffer.from("before"), true);
      await until(() => here.length === 1 && there.length === 1, 5_000, "'before' on both stores");

      redis.freeze();
      await assert.rejects(store.append("room", Buffer.from("during"), true), RedisTimeoutError);
      await until(() => here.length === 2, 5_000, "the local delivery of 'during'");
      redis.thaw();
      // Redis runs the queued append now: the other store gets it; then a line after it, on both.
      await until(() => there.length === 2, 5_000, "'during' on the other store");
      await store.append("room", Buffer.from("after"), true);
      // The same text again, appended normally: not taken for a late copy.
      await store.append("room", Buffer.from("during"), true);
      await until(() => there.length === 4, 5_000, "'after' and the second 'during' on the other store");
      await until(() => here.length >= 4, 5_000, "'after' and the second 'during' here");
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(there, ["before", "during", "after", "during"]);
      assert.deepEqual(here, ["before", "during", "after", "during"]);
    } finally {
      redis.thaw();
      await store.close();
      await other.close();
      await redis.kill();
    }
  });
});
