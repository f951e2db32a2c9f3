// RedisAdapter: a topic unsubscribed and subscribed again within one Redis round trip stays subscribed
// (review 6 item 1, the same race as RedisStreamStore's: node-redis dropped the SUBSCRIBE behind the
// UNSUBSCRIBE still in flight, and the process heard the topic's publishes from other processes no more).

import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { createClient } from "redis";
import { RedisAdapter } from "../../src/redis/index.js";
import type { AdapterMessage } from "../../src/server/adapter.js";
import { until } from "./helpers.js";
import { RedisServer, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;

describe("RedisAdapter: unsubscribe + subscribe of a topic in one tick", { skip }, () => {
  let redis: RedisServer | undefined;
  const adapters: RedisAdapter[] = [];
  const makeAdapter = (url: string) => {
    const adapter = new RedisAdapter({ url });
    adapters.push(adapter);
    return adapter;
  };
  const subscribersOf = async (channel: string): Promise<number> => {
    const client = createClient({ url: redis?.url });
    await client.connect();
    try {
      const reply = (await client.sendCommand(["PUBSUB", "NUMSUB", channel])) as [string, number];
      return Number(reply[1]);
    } finally {
      client.destroy();
    }
  };
  afterEach(async () => {
    for (const adapter of adapters.splice(0)) await adapter.close();
  });
  after(async () => {
    await redis?.kill();
  });

  test("the channel stays subscribed: another process's later publishes arrive, each once", async () => {
    redis ??= await RedisServer.start();
    const listener = makeAdapter(redis.url);
    const publisher = makeAdapter(redis.url);
    const heard: string[] = [];
    listener.onMessage((message: AdapterMessage) => {
      if (message.topic === "room") heard.push(message.payload.toString());
    });
    await Promise.all([listener.ready, publisher.ready]);
    const publish = (text: string) =>
      publisher.publish({ topic: "room", payload: Buffer.from(text), isText: true });
    await listener.subscribe("room");
    await publish("before");
    await until(() => heard.length === 1, 5000, "the first publish");

    await Promise.all([listener.unsubscribe("room"), listener.subscribe("room")]);
    assert.equal(await subscribersOf(listener.channel("room")), 1, "still subscribed on Redis");
    for (const text of ["after-1", "after-2"]) await publish(text);
    await until(() => heard.length >= 3, 5000, `the later publishes (heard ${heard})`);
    assert.deepEqual(heard, ["before", "after-1", "after-2"]);
  });

  test("quick toggles end in the state last asked for", async () => {
    redis ??= await RedisServer.start();
    const adapter = makeAdapter(redis.url);
    await adapter.ready;
    const channel = adapter.channel("toggled");
    const toggle = (...steps: ("sub" | "unsub")[]) =>
      Promise.all(
        steps.map((step) => (step === "sub" ? adapter.subscribe("toggled") : adapter.unsubscribe("toggled"))),
      );
    await toggle("sub", "unsub", "sub", "unsub");
    assert.equal(await subscribersOf(channel), 0, "ends unsubscribed");
    await toggle("sub");
    await toggle("unsub", "sub", "unsub", "sub");
    assert.equal(await subscribersOf(channel), 1, "ends subscribed");
  });
});
