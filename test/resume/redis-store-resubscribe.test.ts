// RedisStreamStore: a topic unsubscribed and subscribed again within one Redis round trip keeps its live
// feed (review 6 item 1: the SUBSCRIBE was lost behind the UNSUBSCRIBE still in flight, and the process
// heard the topic no more, for good). Plain and sharded pub/sub, on a real redis-server.

import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { createClient } from "redis";
import { RedisStreamStore } from "../../src/redis/index.js";
import { until } from "../pubsub/helpers.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";

const skip = redisSkipReason() ?? false;

describe("RedisStreamStore: unsubscribe + subscribe of a topic in one tick", { skip }, () => {
  let redis: RedisServer | undefined;
  const stores: RedisStreamStore[] = [];
  const makeStore = (url: string, sharded: boolean) => {
    const store = new RedisStreamStore({ url, sharded });
    stores.push(store);
    return store;
  };
  /** Subscriber connections on a channel, as Redis counts them (PUBSUB NUMSUB / SHARDNUMSUB). */
  const subscribersOf = async (channel: string, sharded: boolean): Promise<number> => {
    const client = createClient({ url: redis?.url });
    await client.connect();
    try {
      const reply = (await client.sendCommand(["PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel])) as [
        string,
        number,
      ];
      return Number(reply[1]);
    } finally {
      client.destroy();
    }
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  after(async () => {
    await redis?.kill();
  });

  for (const sharded of [false, true]) {
    const kind = sharded ? "sharded (SSUBSCRIBE)" : "plain (SUBSCRIBE)";

    test(`${kind}: the channel stays subscribed and later appends are heard, each once`, async () => {
      redis ??= await RedisServer.start();
      const listener = makeStore(redis.url, sharded);
      const publisher = makeStore(redis.url, sharded);
      const heard: string[] = [];
      listener.onAppended((topic, message) => {
        if (topic === "room") heard.push(message.payload.toString());
      });
      await Promise.all([listener.ready, publisher.ready]);
      await listener.subscribe("room");
      await publisher.append("room", Buffer.from("before"), true);
      await until(() => heard.length === 1, 5000, "the first message, live");

      // The topic's last subscriber leaves and another comes, in one tick.
      await Promise.all([listener.unsubscribe("room"), listener.subscribe("room")]);
      assert.equal(await subscribersOf(listener.channel("room"), sharded), 1, "still subscribed on Redis");

      for (const text of ["after-1", "after-2", "after-3"])
        await publisher.append("room", Buffer.from(text), true);
      await until(() => heard.length >= 4, 5000, `the later messages, live (heard ${heard})`);
      assert.deepEqual(heard, ["before", "after-1", "after-2", "after-3"]);
    });

    test(`${kind}: quick toggles end in the state last asked for`, async () => {
      redis ??= await RedisServer.start();
      const store = makeStore(redis.url, sharded);
      await store.ready;
      const channel = store.channel("toggled");
      await Promise.all([
        store.subscribe("toggled"),
        store.unsubscribe("toggled"),
        store.subscribe("toggled"),
        store.unsubscribe("toggled"),
      ]);
      assert.equal(await subscribersOf(channel, sharded), 0, "ends unsubscribed");
      await store.subscribe("toggled");
      await Promise.all([
        store.unsubscribe("toggled"),
        store.subscribe("toggled"),
        store.unsubscribe("toggled"),
        store.subscribe("toggled"),
      ]);
      assert.equal(await subscribersOf(channel, sharded), 1, "ends subscribed");
    });
  }
});
