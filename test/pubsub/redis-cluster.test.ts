// RedisAdapter on a real Redis Cluster (3 masters, 3 replicas) with sharded pub/sub: two servers, topics on
// every master, each publish reaching the other server's subscribers once and in order over SPUBLISH (never
// the classic PUBLISH, which a cluster copies to every node); then a master killed: publishes to its slots
// fail fast and are reported, the other masters' topics go on, and once its replica has taken over the
// subscriptions are back and publishes get through again.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, createCluster } from "redis";
import {
  RedisAdapter,
  RedisBacklogError,
  type RedisClusterLike,
  RedisTimeoutError,
  RedisUnavailableError,
} from "../../src/redis/index.js";
import { keySlot } from "../../src/redis/key-slot.js";
import { LAGGING_MS } from "../../src/redis/waiting-publishes.js";
import type { PubSubError } from "../../src/server/adapter.js";
import { type Client, closeAll, connectClients, type Started, startServer, until } from "./helpers.js";
import { cli, RedisCluster } from "./redis-cluster-helpers.js";
import { freePort, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;

/** One WebSocketServer on the cluster, with what its adapter and server reported. */
interface Side {
  started: Started;
  adapter: RedisAdapter;
  errors: PubSubError[];
  disconnects: number;
  readies: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("RedisAdapter on a Redis Cluster (sharded pub/sub)", { skip }, () => {
  let cluster: RedisCluster;
  const adapters: RedisAdapter[] = [];
  const clients: Client[] = [];

  before(async () => {
    cluster = await RedisCluster.start();
  });

  after(async () => {
    await closeAll(clients.splice(0)).catch(() => {});
    await Promise.all(adapters.splice(0).map((adapter) => adapter.close()));
    await cluster?.stop();
  });

  /** A server whose adapter makes its cluster clients from `rootNodes`, or uses a cluster client of ours. */
  async function side(
    t: Parameters<typeof startServer>[0],
    mode: "cluster" | "clusterClient" = "cluster",
  ): Promise<Side> {
    const rootNodes = cluster.urls.map((url) => ({ url }));
    let adapter: RedisAdapter;
    if (mode === "cluster") adapter = new RedisAdapter({ cluster: { rootNodes } });
    else {
      const own = createCluster({ rootNodes });
      // The adapter never closes a client it was given.
      t.after(() => own.destroy());
      adapter = new RedisAdapter({ clusterClient: own as unknown as RedisClusterLike });
    }
    adapters.push(adapter);
    const started = await startServer(t, { adapter });
    const out: Side = { started, adapter, errors: [], disconnects: 0, readies: 0 };
    started.server.on("error", (error: PubSubError) => out.errors.push(error));
    adapter.on("disconnect", () => out.disconnects++);
    adapter.on("ready", () => out.readies++);
    await adapter.ready;
    return out;
  }

  /** Topics whose channels cover every master: one topic per master, by port. */
  async function topicPerMaster(adapter: RedisAdapter): Promise<Map<number, string>> {
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < 3 && i < 200; i++) {
      const owner = await cluster.ownerOf(adapter.channel(`topic-${i}`));
      if (!byMaster.has(owner)) byMaster.set(owner, `topic-${i}`);
    }
    assert.equal(byMaster.size, 3, "topics on all 3 masters");
    return byMaster;
  }

  test("topics on every master; publishes reach the other server once and in order, over SPUBLISH", async (t) => {
    const a = await side(t);
    const b = await side(t, "clusterClient");
    const byMaster = await topicPerMaster(a.adapter);
    const topics = [...byMaster.values()];

    // A plain SUBSCRIBE to the same channels: a classic PUBLISH would reach it, SPUBLISH does not.
    const classic = createClient({ url: cluster.urls[0] });
    const classicGot: string[] = [];
    await classic.connect();
    t.after(() => classic.destroy());
    for (const topic of topics) await classic.subscribe(a.adapter.channel(topic), (m) => classicGot.push(m));

    const [onA, onB] = [...(await connectClients(a.started, 1)), ...(await connectClients(b.started, 1))];
    clients.push(onA, onB);
    for (const topic of topics) {
      onA.server.subscribe(topic);
      onB.server.subscribe(topic);
    }
    await a.started.server.adapterSettled();
    await b.started.server.adapterSettled();

    // Each channel is a shard channel of the master that owns its slot, and of no other node.
    for (const [port, topic] of byMaster) {
      const channels = (await cli(port, "PUBSUB", "SHARDCHANNELS")).split("\n");
      assert.ok(channels.includes(a.adapter.channel(topic)), `${topic} is a shard channel on ${port}`);
      for (const other of byMaster.keys()) {
        if (other === port) continue;
        const elsewhere = (await cli(other, "PUBSUB", "SHARDCHANNELS")).split("\n");
        assert.ok(!elsewhere.includes(a.adapter.channel(topic)), `${topic} is not on ${other}`);
      }
    }

    const count = 200;
    for (const i of range(count))
      for (const topic of topics) a.started.server.publish(topic, `${topic}:${i}`);
    await a.started.server.adapterSettled();
    await until(() => onB.messages.length === count * topics.length, 15_000, "every message on B");

    for (const topic of topics) {
      const seen = onB.messages.filter((m) => (m as string).startsWith(`${topic}:`));
      assert.deepEqual(
        seen,
        range(count).map((i) => `${topic}:${i}`),
        `${topic}: once each, in order`,
      );
      // A's own client got them once, locally: A skipped its own publishes coming back from Redis.
      assert.equal(onA.messages.filter((m) => (m as string).startsWith(`${topic}:`)).length, count);
    }
    assert.equal(a.adapter.stats.published, count * topics.length);
    assert.equal(a.adapter.stats.publishFailed, 0);
    await until(() => a.adapter.stats.skippedOwn === count * topics.length, 10_000, "A's own publishes back");
    assert.equal(b.adapter.stats.received, count * topics.length);
    assert.deepEqual(classicGot, [], "nothing went over classic PUBLISH");
    assert.deepEqual([...a.errors, ...b.errors], []);
    await closeAll([onA, onB]);
  });

  test("a master killed: its topics fail fast and are reported, the rest go on; back after the failover", async (t) => {
    const a = await side(t);
    const b = await side(t);
    const byMaster = await topicPerMaster(a.adapter);
    const [victim, victimTopic] = [...byMaster][0];
    const otherTopic = [...byMaster][1][1];
    // A second topic on the victim, that B leaves while the victim is down.
    let leftTopic = "";
    for (let i = 0; leftTopic === "" && i < 500; i++) {
      const topic = `left-${i}`;
      if ((await cluster.ownerOf(a.adapter.channel(topic))) === victim) leftTopic = topic;
    }

    const [onB] = await connectClients(b.started, 1);
    clients.push(onB);
    onB.server.subscribe(victimTopic);
    onB.server.subscribe(otherTopic);
    onB.server.subscribe(leftTopic);
    await b.started.server.adapterSettled();
    const got = (topic: string) =>
      onB.messages
        .map(String)
        .filter((m) => m.startsWith(`${topic}:`))
        .map((m) => m.slice(topic.length + 1));

    const publish = async (topic: string, label: string, n: number) => {
      for (const i of range(n)) a.started.server.publish(topic, `${topic}:${label}${i}`);
      await a.started.server.adapterSettled();
    };
    await publish(victimTopic, "before", 20);
    await until(() => got(victimTopic).length === 20, 10_000, "messages before the kill");

    // The moment both adapters say 'ready' again, a publish must reach B: its subscriptions are back then.
    let killed = false;
    let markerSent = false;
    const sendMarker = () => {
      if (!killed || markerSent || !a.adapter.connected || !b.adapter.connected) return;
      markerSent = true;
      a.started.server.publish(victimTopic, `${victimTopic}:at-ready`);
    };
    a.adapter.on("ready", sendMarker);
    b.adapter.on("ready", sendMarker);

    await cluster.kill(victim);
    killed = true;
    // The loss of the connection is seen before the failover (node timeout: 1 s, then an election).
    await until(() => a.disconnects > 0 && b.disconnects > 0, 10_000, "both adapters to see the node go");
    const failedBefore = a.adapter.stats.publishFailed;
    await publish(victimTopic, "down", 20);
    await publish(otherTopic, "meanwhile", 20);
    const failedDown = a.adapter.stats.publishFailed - failedBefore;
    const publishErrors = a.errors.filter(
      (e) => e.code === "SJ_ERR_ADAPTER_PUBLISH" && e.topic === victimTopic,
    );
    assert.ok(failedDown > 0, "publishes to the dead master's slots fail");
    assert.equal(publishErrors.length, failedDown, "each failed publish is reported as an error");
    // The other masters' topics are not held up by the dead one.
    await until(() => got(otherTopic).length === 20, 10_000, "the other master's topic during the outage");
    // B reported that it lost a node (its subscriptions there were down: what was published then is lost).
    assert.ok(
      b.errors.some((e) => e.code === "SJ_ERR_ADAPTER"),
      "B reported the lost connection",
    );
    onB.server.unsubscribe(leftTopic);
    await b.started.server.adapterSettled();

    await cluster.waitForFailover(victim);
    await until(
      () => a.adapter.connected && b.adapter.connected,
      20_000,
      "both adapters ready after failover",
    );
    assert.ok(a.readies >= 2 && b.readies >= 2, "'ready' again after the failover");
    const failedAfterFailover = a.adapter.stats.publishFailed;
    await publish(victimTopic, "after", 50);
    await until(
      () => got(victimTopic).filter((m) => m.startsWith("after")).length === 50,
      15_000,
      "publishes after the failover",
    );
    assert.equal(a.adapter.stats.publishFailed, failedAfterFailover, "no failure after the failover");
    assert.ok(markerSent);
    assert.ok(got(victimTopic).includes("at-ready"), "a publish as soon as both are 'ready' reaches B");

    // Every message: delivered once in order, or counted as failed; none lost silently.
    const received = got(victimTopic);
    assert.deepEqual(
      received.filter((m) => m.startsWith("before")),
      range(20).map((i) => `before${i}`),
    );
    const downDelivered = received.filter((m) => m.startsWith("down"));
    assert.equal(
      downDelivered.length + failedDown,
      20,
      "each message during the outage: delivered or failed",
    );
    assert.deepEqual(
      received.filter((m) => m.startsWith("after")),
      range(50).map((i) => `after${i}`),
    );
    const owner = await cluster.ownerOf(a.adapter.channel(victimTopic));
    assert.notEqual(owner, victim);
    assert.ok(
      (await cli(owner, "PUBSUB", "SHARDCHANNELS")).split("\n").includes(a.adapter.channel(victimTopic)),
      "subscribed again on the new master",
    );
    assert.ok(
      !(await cli(owner, "PUBSUB", "SHARDCHANNELS")).split("\n").includes(a.adapter.channel(leftTopic)),
      "the topic B left while the master was down is not subscribed again",
    );
    await closeAll([onB]);
  });

  test("a manual failover (CLUSTER FAILOVER): the subscriptions follow the slots to the new master", async (t) => {
    const a = await side(t);
    const b = await side(t);
    // A master that still has a replica (the one killed above left its successor without one).
    let oldMaster = 0;
    let topic = "";
    let replica = 0;
    for (const [port, candidate] of await topicPerMaster(a.adapter)) {
      replica = await cluster.replicaOf(port).catch(() => 0);
      if (replica !== 0) {
        [oldMaster, topic] = [port, candidate];
        break;
      }
    }
    assert.notEqual(replica, 0, "a master with a replica");
    const [onB] = await connectClients(b.started, 1);
    clients.push(onB);
    onB.server.subscribe(topic);
    await b.started.server.adapterSettled();
    a.started.server.publish(topic, "before");
    await until(() => onB.messages.includes("before"), 10_000, "a message before the failover");

    await cli(replica, "CLUSTER", "FAILOVER");
    const deadline = Date.now() + 15_000;
    while ((await cluster.ownerOf(a.adapter.channel(topic))) !== replica) {
      if (Date.now() > deadline) throw new Error("the replica did not take over");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The old master is alive (now a replica): it answers MOVED and unsubscribes the channels of its lost
    // slots; publishes go to the new master, and B's subscription is made there.
    const sent: string[] = [];
    for (let i = 0; !onB.messages.includes(sent.at(-1) ?? "-"); i++) {
      if (i > 200) throw new Error(`nothing got through after the failover: ${onB.messages.join(",")}`);
      sent.push(`after${i}`);
      a.started.server.publish(topic, `after${i}`);
      await a.started.server.adapterSettled();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const channels = (await cli(replica, "PUBSUB", "SHARDCHANNELS")).split("\n");
    assert.ok(channels.includes(a.adapter.channel(topic)), "subscribed on the new master");
    const left = (await cli(oldMaster, "PUBSUB", "SHARDCHANNELS")).split("\n");
    assert.ok(!left.includes(a.adapter.channel(topic)), "and no longer on the old one");
    const lost = sent.length - onB.messages.filter((m) => (m as string).startsWith("after")).length;
    t.diagnostic(
      `publishes until the first delivery after the failover: ${sent.length}; not delivered: ${lost}`,
    );
    await closeAll([onB]);
  });

  test("connections lost: 'ready' only once the subscriptions are back, even if the publisher is back first", async () => {
    const rootNodes = cluster.urls.map((url) => ({ url }));
    // The subscriber logs in as its own user, that the test can lock out: it stays down while the publisher
    // (the default user) comes back.
    for (const port of cluster.livePorts()) {
      await cli(port, "ACL", "SETUSER", "sub", "on", ">pw", "~*", "&*", "+@all");
    }
    const fast = createCluster({ rootNodes, defaults: { disableOfflineQueue: true } });
    const publisher = fast as unknown as RedisClusterLike;
    const clusterClient: RedisClusterLike = {
      get isOpen() {
        return publisher.isOpen;
      },
      get isReady() {
        return publisher.isReady;
      },
      get slots() {
        return publisher.slots;
      },
      connect: () => publisher.connect(),
      // The adapter subscribes on duplicate(): here a cluster client of the user "sub".
      duplicate: () =>
        createCluster({
          rootNodes,
          minimizeConnections: true,
          defaults: {
            username: "sub",
            password: "pw",
            disableOfflineQueue: true,
            socket: { reconnectStrategy: () => 50 },
          },
        }) as unknown as RedisClusterLike,
      sPublish: (channel, message) => publisher.sPublish(channel, message),
      sSubscribe: (channels, listener, bufferMode) => publisher.sSubscribe(channels, listener, bufferMode),
      sUnsubscribe: (channels) => publisher.sUnsubscribe(channels),
      on: (event, listener) => publisher.on(event, listener),
      off: (event, listener) => publisher.off(event, listener),
      close: () => publisher.close(),
      destroy: () => publisher.destroy(),
    };
    const b = new RedisAdapter({ clusterClient });
    const a = new RedisAdapter({ cluster: { rootNodes } });
    adapters.push(a, b);
    let owner = 0;
    try {
      await Promise.all([a.ready, b.ready]);
      const got: string[] = [];
      b.onMessage((message) => got.push(message.payload.toString()));
      await b.subscribe("t");
      owner = await cluster.ownerOf(b.channel("t"));
      let publisherBack = false;
      fast.on("node-ready", (node: { port: number }) => {
        if (node.port === owner) publisherBack = true;
      });

      let locked = false;
      let readyWhileLocked = 0;
      b.on("ready", () => {
        if (locked) readyWhileLocked++;
      });
      await cli(owner, "ACL", "SETUSER", "sub", "off");
      locked = true;
      await cli(owner, "CLIENT", "KILL", "USER", "sub");
      await cli(owner, "CLIENT", "KILL", "USER", "default");
      await until(() => publisherBack, 5_000, "the publisher's connection to come back");
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(b.connected, false, "not ready while its subscriptions are not back");
      assert.equal(readyWhileLocked, 0, "no 'ready' while its subscriptions are not back");

      locked = false;
      await cli(owner, "ACL", "SETUSER", "sub", "on");
      await until(() => b.connected && a.connected, 10_000, "both adapters to be ready again");
      await a.publish({ topic: "t", payload: Buffer.from("after"), isText: true });
      await until(() => got.includes("after"), 5_000, "a publish after 'ready' to arrive");
    } finally {
      if (owner !== 0) await cli(owner, "ACL", "SETUSER", "sub", "on");
      fast.destroy();
    }
  });

  test("a frozen master: publishes to its slots fail after commandTimeoutMs, the others go through", async () => {
    const adapter = new RedisAdapter({
      cluster: { rootNodes: cluster.urls.map((url) => ({ url })) },
      commandTimeoutMs: 300,
    });
    adapters.push(adapter);
    await adapter.ready;
    const byMaster = await topicPerMaster(adapter);
    const [[frozen, frozenTopic], [, liveTopic]] = [...byMaster];
    const message = (topic: string) => ({ topic, payload: Buffer.from("x"), isText: true });
    await adapter.publish(message(frozenTopic));

    cluster.freeze(frozen);
    try {
      const started = Date.now();
      await assert.rejects(adapter.publish(message(frozenTopic)), RedisTimeoutError);
      assert.ok(Date.now() - started < 3_000, `failed after ${Date.now() - started} ms`);
      await adapter.publish(message(liveTopic));
      assert.equal(adapter.stats.publishFailed, 1);
    } finally {
      await cluster.thawAndSettle(frozen);
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await adapter.publish(message(frozenTopic));
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    assert.ok(adapter.stats.published >= 3);
  });
  test("a frozen master's waiting publishes past maxWaitingPublishBytes hold back its own topics, not the others'", async () => {
    const adapter = new RedisAdapter({
      cluster: { rootNodes: cluster.urls.map((url) => ({ url })) },
      commandTimeoutMs: 300,
      maxWaitingPublishBytes: 256 * 1024,
    });
    adapters.push(adapter);
    adapter.onError(() => {});
    await adapter.ready;
    const byMaster = await topicPerMaster(adapter);
    const [[frozen, frozenTopic], [, liveTopic]] = [...byMaster];
    const message = (topic: string) => ({ topic, payload: Buffer.alloc(100, 1), isText: false });
    await adapter.publish(message(frozenTopic));
    cluster.freeze(frozen);
    try {
      // 100 publishes (~520 KiB counted) wait on the frozen master; once they have waited LAGGING_MS its
      // topics are refused at once, and the other masters' still go through.
      const waiting = Array.from({ length: 100 }, () =>
        adapter.publish(message(frozenTopic)).catch(() => {}),
      );
      await new Promise((resolve) => setTimeout(resolve, LAGGING_MS + 100));
      await assert.rejects(adapter.publish(message(frozenTopic)), RedisBacklogError);
      for (let i = 0; i < 20; i++) await adapter.publish(message(liveTopic));
      await Promise.all(waiting);
      assert.ok(adapter.stats.waitingPublishBytes > 256 * 1024, "the frozen master's publishes still wait");
    } finally {
      await cluster.thawAndSettle(frozen);
    }
  });

  test("keySlot() is CLUSTER KEYSLOT", async () => {
    const keys = [
      "foo",
      "bar",
      "123456789",
      "{user1000}.following",
      "foo{}{bar}",
      "foo{{bar}}zap",
      "{}",
      "a{b",
      "é{ü}x",
      "sockjet:topic-7",
    ];
    for (let i = 0; i < 40; i++)
      keys.push(`k${i}-${Math.random().toString(36).slice(2)}${i % 3 === 0 ? `{t${i}}` : ""}`);
    const [{ port }] = await cluster.masters(); // a live node: an earlier test kills one
    for (const key of keys)
      assert.equal(keySlot(key), Number(await cli(port, "CLUSTER", "KEYSLOT", key)), key);
  });
});

describe("RedisAdapter on a Redis Cluster not there yet", { skip }, () => {
  test("publishes fail fast and the failure is reported; it connects once the cluster is up", async () => {
    const port = await freePort();
    const adapter = new RedisAdapter({ cluster: { rootNodes: [{ url: `redis://127.0.0.1:${port}` }] } });
    const errors: Error[] = [];
    adapter.onError((error) => errors.push(error));
    let cluster: RedisCluster | undefined;
    try {
      await assert.rejects(
        adapter.publish({ topic: "t", payload: Buffer.from("x"), isText: true }),
        RedisUnavailableError,
      );
      assert.equal(adapter.stats.publishFailed, 1);
      await until(() => errors.length > 0, 10_000, "the failure to be reported");
      assert.match(errors[0].message, /ECONNREFUSED/);
      // node-redis's cluster gives up after a failed first discovery; the adapter keeps trying.
      cluster = await RedisCluster.start(port);
      await until(() => adapter.connected, 20_000, "the adapter to connect");
      await adapter.publish({ topic: "t", payload: Buffer.from("x"), isText: true });
      assert.equal(adapter.stats.published, 1);
    } finally {
      await adapter.close();
      await cluster?.stop();
    }
  });

  test("options: exactly one of url, client, cluster, clusterClient", () => {
    assert.throws(() => new RedisAdapter({}), TypeError);
    assert.throws(
      () =>
        new RedisAdapter({
          url: "redis://127.0.0.1:1",
          cluster: { rootNodes: [{ url: "redis://127.0.0.1:1" }] },
        }),
      /exactly one of options.url, options.client, options.cluster and options.clusterClient/,
    );
  });
});
