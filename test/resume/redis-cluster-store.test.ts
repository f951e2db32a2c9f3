// RedisStreamStore on a real Redis Cluster (3 masters, 3 replicas), through ClusterStoreClient: each command
// goes to the master of its key's slot, topics spread over the masters, live messages go over sharded
// pub/sub, sessions are single-use; a quick unsubscribe + subscribe keeps the topic; commandKey() picks the
// key a command is routed by.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createCluster, type RedisClusterOptions } from "redis";
import {
  ClusterStoreClient,
  RedisStoreBacklogError,
  type RedisStoreClusterLike,
  RedisStreamStore,
} from "../../src/redis/index.js";
import { commandKey } from "../../src/redis/stream-cluster.js";
import { LAGGING_MS } from "../../src/redis/waiting-publishes.js";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { until } from "../pubsub/helpers.js";
import { RedisCluster, cli as redisCli } from "../pubsub/redis-cluster-helpers.js";
import { redisSkipReason } from "../pubsub/redis-helpers.js";

const skip = redisSkipReason() ?? false;
const text = (messages: StoredMessage[]) => messages.map((message) => message.payload.toString());

test("commandKey: the first key of a script, else the command's first argument", () => {
  assert.equal(commandKey(["EVALSHA", "abc", "1", "k{t:a}", "arg"]), "k{t:a}");
  assert.equal(commandKey(["eval", "return 1", "2", "first", "second"]), "first");
  assert.equal(commandKey(["EVAL", "return 1", "0"]), undefined);
  assert.equal(commandKey(["XREVRANGE", "s{t:a}", "+", "-", "COUNT", "1"]), "s{t:a}");
});

describe("RedisStreamStore on a Redis Cluster (ClusterStoreClient, sharded)", { skip }, () => {
  let cluster: RedisCluster;
  const clients: ClusterStoreClient[] = [];
  const stores: RedisStreamStore[] = [];

  const makeStore = (
    options: { maxMessagesPerTopic?: number; commandTimeoutMs?: number; maxWaitingAppendBytes?: number } = {},
  ) => {
    const client = new ClusterStoreClient(
      createCluster({
        rootNodes: [{ url: cluster.urls[0] }],
        defaults: { disableOfflineQueue: true },
      } as RedisClusterOptions) as unknown as RedisStoreClusterLike,
    );
    clients.push(client);
    const store = new RedisStreamStore({ client, sharded: true, commandTimeoutMs: 3000, ...options });
    stores.push(store);
    return store;
  };

  /** Three topics (`<prefix><n>`) whose streams live on the three masters, one each. */
  const topicsOnEachMaster = async (store: RedisStreamStore, prefix: string) => {
    const topics: string[] = [];
    const owners = new Set<number>();
    for (let i = 0; topics.length < 3 && i < 200; i++) {
      const owner = await cluster.ownerOf(store.streamKey(`${prefix}${i}`));
      if (!owners.has(owner)) {
        owners.add(owner);
        topics.push(`${prefix}${i}`);
      }
    }
    assert.equal(owners.size, 3, "three topics on three masters");
    return topics;
  };

  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(async () => {
    for (const store of stores) await store.close();
    for (const client of clients) await client.close().catch(() => client.destroy());
    await cluster?.stop();
  });

  test("appends, reads and live messages across two stores, on topics owned by different masters", async () => {
    const [a, b] = [makeStore(), makeStore()];
    await Promise.all([a.ready, b.ready]);
    const topics = await topicsOnEachMaster(b, "room");

    const heard = new Map<string, string[]>();
    b.onAppended((topic, message) => {
      if (!heard.has(topic)) heard.set(topic, []);
      heard.get(topic)?.push(message.payload.toString());
    });
    for (const topic of topics) await b.subscribe(topic);
    const expected = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const message of expected)
      await Promise.all(topics.map((topic) => a.append(topic, Buffer.from(message), true)));

    for (const topic of topics) {
      await until(() => (heard.get(topic)?.length ?? 0) >= expected.length, 10_000, `${topic} live at b`);
      assert.deepEqual(heard.get(topic), expected, `${topic}: live, in order, once`);
      const stored = await b.readAfter(topic, "", 100);
      assert.ok(stored !== null);
      assert.deepEqual(text(stored), expected, `${topic}: read back in order`);
      assert.equal(await b.lastPosition(topic), stored[stored.length - 1].position);
      // The stream is on the master that owns its slot, the live channel a shard channel there.
      const owner = await cluster.ownerOf(b.streamKey(topic));
      assert.equal(await redisCli(owner, "XLEN", b.streamKey(topic)), String(expected.length));
      assert.ok((await redisCli(owner, "PUBSUB", "SHARDCHANNELS")).split("\n").includes(b.channel(topic)));
    }
  });

  test("a topic unsubscribed and subscribed again in one tick stays subscribed on its master (review 6 item 1)", async () => {
    const [a, b] = [makeStore(), makeStore()];
    await Promise.all([a.ready, b.ready]);
    const heard: string[] = [];
    b.onAppended((topic, message) => {
      if (topic === "resub") heard.push(message.payload.toString());
    });
    await b.subscribe("resub");
    await a.append("resub", Buffer.from("before"), true);
    await until(() => heard.length === 1, 10_000, "the first message, live");

    await Promise.all([b.unsubscribe("resub"), b.subscribe("resub")]);
    const owner = await cluster.ownerOf(b.channel("resub"));
    const counted = (await redisCli(owner, "PUBSUB", "SHARDNUMSUB", b.channel("resub"))).split("\n");
    assert.equal(counted[1], "1", "still subscribed on the owning master");
    for (const message of ["after-1", "after-2"]) await a.append("resub", Buffer.from(message), true);
    await until(() => heard.length >= 3, 10_000, `the later messages, live (heard ${heard})`);
    assert.deepEqual(heard, ["before", "after-1", "after-2"]);
  });

  test("a burst of appends on masters that have not cached the scripts is stored in the order of the calls", async () => {
    // SCRIPT LOAD reaches one node of a cluster: on the others (and on any master after a flush or a
    // failover) each call of a burst meets NOSCRIPT and its EVAL fallback (script-order.ts keeps the order).
    for (const master of await cluster.masters()) await redisCli(master.port, "SCRIPT", "FLUSH");
    const store = makeStore({ maxMessagesPerTopic: 5000 });
    await store.ready;
    const topics = await topicsOnEachMaster(store, "burst");
    const appends: Promise<string>[] = [];
    // Slow answers (8 KiB each, ahead on each master's connection) while the calls go on.
    for (let i = 0; i < 3000; i++) appends.push(store.append(topics[i % 3], Buffer.alloc(8192), false));
    for (let i = 0; i < 300; i++)
      for (const topic of topics) appends.push(store.append(topic, Buffer.from(`m${i}`), true));
    // More calls while the answers come (one per topic every millisecond or so): some are made after a
    // master has run an EVAL retry, ahead of retries still to come there.
    for (let i = 300; i < 400; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      for (const topic of topics) appends.push(store.append(topic, Buffer.from(`m${i}`), true));
    }
    await Promise.all(appends);
    const expected = Array.from({ length: 400 }, (_, i) => `m${i}`);
    for (const topic of topics) {
      const stored: StoredMessage[] = [];
      for (let after = "", page = await store.readAfter(topic, "", 100); page?.length; ) {
        stored.push(...page);
        after = page[page.length - 1].position;
        page = await store.readAfter(topic, after, 100);
      }
      const texts = stored.filter((message) => message.isText);
      assert.deepEqual(text(texts), expected, `${topic}: stored in call order`);
    }
  });

  test("a frozen master's waiting appends past maxWaitingAppendBytes hold back its own topics, not the others'", async () => {
    const store = makeStore({ commandTimeoutMs: 300, maxWaitingAppendBytes: 256 * 1024 });
    store.onError(() => {});
    await store.ready;
    const [frozenTopic, liveTopic] = await topicsOnEachMaster(store, "backlog");
    const frozen = await cluster.ownerOf(store.streamKey(frozenTopic));
    const payload = Buffer.alloc(100, 1);
    await store.append(frozenTopic, payload, false);
    await store.append(liveTopic, payload, false);
    cluster.freeze(frozen);
    try {
      const waiting = Array.from({ length: 100 }, () =>
        store.append(frozenTopic, payload, false).catch(() => {}),
      );
      await new Promise((resolve) => setTimeout(resolve, LAGGING_MS + 100));
      await assert.rejects(store.append(frozenTopic, payload, false), (error: Error) => {
        assert.ok(error instanceof RedisStoreBacklogError);
        assert.match(error.message, new RegExp(`the master 127\\.0\\.0\\.1:${frozen}`));
        return true;
      });
      for (let i = 0; i < 20; i++) await store.append(liveTopic, payload, false);
      await Promise.all(waiting);
    } finally {
      await cluster.thawAndSettle(frozen);
    }
  });

  test("a session saved by one store is taken once by the other", async () => {
    const [a, b] = [makeStore(), makeStore()];
    await Promise.all([a.ready, b.ready]);
    const record = { topics: { room: "1-0" }, secretHash: "x".repeat(64), expiresAt: Date.now() + 60_000 };
    await a.saveSession("s1", record, 60_000);
    assert.deepEqual(await b.takeSession("s1"), record);
    assert.equal(await a.takeSession("s1"), undefined, "single use");
  });
});
