// RedisStreamStore (sockjet/redis) against a real redis-server: positions, the live order every process
// sees, trimming reported as a gap, single-use sessions, expiry, and a Redis that goes away (issue 19).

import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { after, afterEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import {
  compareStreamIds,
  type RedisStoreClientLike,
  RedisStoreUnavailableError,
  RedisStreamStore,
  RedisTimeoutError,
} from "../../src/redis/index.js";
import { comparePositions, type SessionRecord, type StoredMessage } from "../../src/server/resume-store.js";
import { until, within } from "../pubsub/helpers.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";

const skip = redisSkipReason() ?? false;
const text = (messages: StoredMessage[]) => messages.map((message) => message.payload.toString());

/** Every store a test makes, closed after it. */
const stores: RedisStreamStore[] = [];
function makeStore(url: string, options: Partial<ConstructorParameters<typeof RedisStreamStore>[0]> = {}) {
  const store = new RedisStreamStore({ url, ...options });
  stores.push(store);
  return store;
}

/** Everything a store hands over live, per topic, in order. */
function listen(store: RedisStreamStore): Map<string, StoredMessage[]> {
  const heard = new Map<string, StoredMessage[]>();
  store.onAppended((topic, message) => {
    if (!heard.has(topic)) heard.set(topic, []);
    heard.get(topic)?.push(message);
  });
  return heard;
}

async function readAll(store: RedisStreamStore, topic: string, from = ""): Promise<StoredMessage[] | null> {
  const all: StoredMessage[] = [];
  let position = from;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.readAfter(topic, position, 100);
    if (page === null) return null;
    all.push(...page);
    if (page.length < 100) return all;
    position = page[page.length - 1].position;
  }
  throw new Error("readAll: too many pages");
}

describe("RedisStreamStore", { skip }, () => {
  let redis: RedisServer | undefined;
  const children: ChildProcess[] = [];
  const started = async () => {
    redis ??= await RedisServer.start();
    return redis;
  };
  afterEach(async () => {
    redis?.thaw();
    for (const store of stores.splice(0)) await store.close();
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  });
  after(async () => {
    await redis?.kill();
  });

  test("append gives increasing stream ids; readAfter is exclusive, ordered, bounded; bytes stay bytes", async () => {
    const { url } = await started();
    const store = makeStore(url);
    await store.ready;
    assert.equal(await store.lastPosition("basics"), "");
    assert.deepEqual(await store.readAfter("basics", "", 10), []);
    const binary = Buffer.from([0, 255, 13, 10, 0x80]);
    const first = await store.append("basics", Buffer.from("héllo"), true);
    const second = await store.append("basics", binary, false);
    const third = await store.append("basics", Buffer.from("three"), true);
    assert.ok(compareStreamIds(first, second) < 0 && compareStreamIds(second, third) < 0);
    assert.equal(await store.lastPosition("basics"), third);

    const all = await store.readAfter("basics", "", 10);
    assert.deepEqual(all, [
      { position: first, payload: Buffer.from("héllo"), isText: true },
      { position: second, payload: binary, isText: false },
      { position: third, payload: Buffer.from("three"), isText: true },
    ]);
    assert.deepEqual(text((await store.readAfter("basics", first, 10)) ?? []), [binary.toString(), "three"]);
    assert.deepEqual(text((await store.readAfter("basics", first, 1)) ?? []), [binary.toString()]);
    assert.deepEqual(await store.readAfter("basics", third, 10), []);
  });

  test("two publishing processes: every subscriber hears the messages live in the stream's order, once", async () => {
    const { url } = await started();
    const listener = makeStore(url);
    const other = makeStore(url);
    const heardHere = listen(listener);
    const heardThere = listen(other);
    await listener.subscribe("order");
    await other.subscribe("order");
    const script = fileURLToPath(new URL("./fixtures/stream-appender.ts", import.meta.url));
    const count = 300;
    const appenders = ["a", "b"].map((label) => {
      const child = fork(script, [url, "order", label, String(count)], { execArgv: ["--import", "tsx"] });
      children.push(child);
      return child;
    });
    await within(
      Promise.all(appenders.map((child) => once(child, "message"))),
      20_000,
      "the appenders to be ready",
    );
    const done = appenders.map((child) => once(child, "message"));
    for (const child of appenders) child.send("go");
    await within(Promise.all(done), 30_000, "the appenders to finish");

    await until(() => (heardHere.get("order")?.length ?? 0) >= 2 * count, 10_000, "the live messages");
    await until(() => (heardThere.get("order")?.length ?? 0) >= 2 * count, 10_000, "the live messages");
    const stream = await readAll(listener, "order");
    assert.ok(stream !== null);
    assert.equal(stream.length, 2 * count);
    assert.deepEqual(heardHere.get("order"), stream);
    assert.deepEqual(heardThere.get("order"), stream);
    // Both processes really interleaved, each in its own order.
    const labels = text(stream);
    for (const label of ["a", "b"]) {
      const own = labels.filter((line) => line.startsWith(`${label}:`));
      assert.deepEqual(
        own,
        Array.from({ length: count }, (_, i) => `${label}:${i}`),
      );
    }
  });

  test("a topic trimmed past the reader's position reads as null (gap); within what is kept it reads", async () => {
    const { url } = await started();
    const store = makeStore(url, { maxMessagesPerTopic: 10 });
    const positions: string[] = [];
    // MAXLEN ~ trims whole stream nodes (100 entries by default): append well past one node.
    for (let i = 0; i < 400; i++) positions.push(await store.append("trimmed", Buffer.from(`m${i}`), true));
    assert.equal(await store.readAfter("trimmed", positions[0], 10), null);
    assert.equal(
      await store.readAfter("trimmed", "", 10),
      null,
      "from the start: the first messages are gone",
    );
    const recent = await store.readAfter("trimmed", positions[390], 100);
    assert.deepEqual(text(recent ?? []), [
      "m391",
      "m392",
      "m393",
      "m394",
      "m395",
      "m396",
      "m397",
      "m398",
      "m399",
    ]);
    assert.deepEqual(await store.readAfter("trimmed", positions[399], 10), []);
    // A position the stream never had (from before Redis lost its data, say) is a gap too.
    assert.equal(await store.readAfter("trimmed", "1-1", 10), null);
    assert.equal(await store.readAfter("never-published", positions[5], 10), null);
  });

  test("a burst of appends on a Redis that has not cached the scripts is stored in the order of the calls", async () => {
    const { url } = await started();
    const admin = createClient({ url });
    await admin.connect();
    await admin.sendCommand(["SCRIPT", "FLUSH"]);
    await admin.close();
    const store = makeStore(url);
    await store.ready;
    // Answers slow to come (8 KiB each) while the calls go on: each would fail NOSCRIPT and go again as EVAL.
    const appends: Promise<string>[] = [];
    for (let i = 0; i < 1000; i++) appends.push(store.append("burst-big", Buffer.alloc(8192), false));
    for (let i = 0; i < 300; i++) appends.push(store.append("burst", Buffer.from(`m${i}`), true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 300; i < 305; i++) appends.push(store.append("burst", Buffer.from(`m${i}`), true));
    await Promise.all(appends);
    assert.deepEqual(
      text((await readAll(store, "burst"))!),
      Array.from({ length: 305 }, (_, i) => `m${i}`),
    );
  });

  test("a burst of appends after SCRIPT FLUSH on a connected Redis is stored in the order of the calls", async () => {
    // The scripts were loaded when the store connected; a flush (or a replica promoted behind a proxy) drops
    // them without a reconnect, so every call of the burst meets NOSCRIPT and its EVAL fallback.
    const { url } = await started();
    const store = makeStore(url);
    await store.ready;
    await store.append("flushed", Buffer.from("first"), true);
    const admin = createClient({ url });
    await admin.connect();
    await admin.sendCommand(["SCRIPT", "FLUSH"]);
    await admin.close();
    const appends: Promise<string>[] = [];
    for (let i = 0; i < 1000; i++) appends.push(store.append("flushed-big", Buffer.alloc(8192), false));
    for (let i = 0; i < 300; i++) appends.push(store.append("flushed", Buffer.from(`m${i}`), true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 300; i < 305; i++) appends.push(store.append("flushed", Buffer.from(`m${i}`), true));
    const positions = await Promise.all(appends);
    assert.deepEqual(text((await readAll(store, "flushed"))!), [
      "first",
      ...Array.from({ length: 305 }, (_, i) => `m${i}`),
    ]);
    // The positions handed back rise in call order too (a resume token's position is one of them).
    const flushed = positions.slice(1000);
    assert.deepEqual([...flushed].sort(comparePositions), flushed);
  });

  test("a burst of appends is stored in call order while another process's EVAL loads the script (review)", async () => {
    const { url } = await started();
    const [a, b] = [makeStore(url, { maxMessagesPerTopic: 5000 }), makeStore(url)];
    await Promise.all([a.ready, b.ready]);
    const admin = createClient({ url });
    await admin.connect();
    await admin.sendCommand(["SCRIPT", "FLUSH"]);
    await admin.close();
    // Store b stands for another server process on its own connection: one append of its, made while a's
    // burst is on the wire, loads the script on Redis.
    const appends: Promise<string>[] = [];
    for (let i = 0; i < 2000; i++)
      appends.push(a.append("two", Buffer.from(`m${i}`.padEnd(4000, ".")), true));
    appends.push(b.append("other", Buffer.from("x"), true));
    await Promise.all(appends);
    const stored = text((await readAll(a, "two"))!).map((line) => line.replace(/\.+$/, ""));
    assert.deepEqual(
      stored,
      Array.from({ length: 2000 }, (_, i) => `m${i}`),
    );
  });

  test("sessions: saved with a TTL, taken once; a save after the take is ignored; expired ones are gone", async () => {
    const { url } = await started();
    const store = makeStore(url);
    const record: SessionRecord = {
      secretHash: "abc",
      topics: { news: "1-0" },
      expiresAt: Date.now() + 60_000,
    };
    await store.saveSession("s1", record, 60_000);
    assert.deepEqual(await store.takeSession("s1"), record);
    assert.equal(await store.takeSession("s1"), undefined, "single use");
    await store.saveSession("s1", record, 60_000);
    assert.equal(
      await store.takeSession("s1"),
      undefined,
      "a stale connection's save does not bring it back",
    );
    assert.equal(await store.takeSession("unknown"), undefined);

    await store.saveSession("short", { ...record, expiresAt: Date.now() + 100 }, 100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await store.takeSession("short"), undefined, "expired");

    // Another process's store sees the same sessions (the point of keeping them in Redis).
    const other = makeStore(url);
    await store.saveSession("shared", record, 60_000);
    await other.ready;
    assert.deepEqual(await other.takeSession("shared"), record);
    assert.equal(await store.takeSession("shared"), undefined);

    // An alias put back under a taken id (putBackSession): kept, for another process too, and taken once;
    // never under an id that was not taken.
    const alias: SessionRecord = { ...record, successor: "next" };
    await other.putBackSession("shared", alias, 60_000);
    await store.saveSession("shared", record, 60_000);
    assert.deepEqual(await store.takeSession("shared"), alias, "a save over an alias is ignored");
    assert.equal(await other.takeSession("shared"), undefined, "single use");
    await store.putBackSession("never-taken", alias, 60_000);
    assert.equal(await store.takeSession("never-taken"), undefined);
    await store.saveSession("kept", record, 60_000);
    await store.putBackSession("kept", alias, 60_000);
    assert.deepEqual(await store.takeSession("kept"), record, "not over a record not taken");
  });

  test("a subscriber whose Redis connection was cut reads the messages it missed back from the stream", async () => {
    const { url } = await started();
    const listener = makeStore(url);
    const publisher = makeStore(url);
    const heard = listen(listener);
    const errors: Error[] = [];
    listener.onError((error) => errors.push(error));
    await listener.subscribe("cut");
    await publisher.ready;
    for (let i = 0; i < 10; i++) await publisher.append("cut", Buffer.from(`m${i}`), true);
    await until(() => heard.get("cut")?.length === 10, 5_000, "the first messages");

    // Cut the subscriber connection: what is published until node-redis reconnects is never heard live.
    const admin = createClient({ url });
    await admin.connect();
    try {
      await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
      for (let i = 10; i < 510; i++) await publisher.append("cut", Buffer.from(`m${i}`), true);
    } finally {
      await admin.close();
    }
    await until(() => (heard.get("cut")?.length ?? 0) >= 510, 10_000, "every message, read back or live");
    assert.deepEqual(
      text(heard.get("cut") ?? []),
      Array.from({ length: 510 }, (_, i) => `m${i}`),
    );
  });

  test("an own append is handed back only after its append() has settled, in stream order", async () => {
    const { url } = await started();
    // Replies to this store's commands come 30 ms late (a slow network path): its live messages, on the
    // subscriber connection, come back before the appends' replies.
    const real = createClient({ url });
    await real.connect();
    const slow = Object.create(real) as typeof real;
    slow.sendCommand = (async (...args: Parameters<typeof real.sendCommand>) => {
      const reply = await real.sendCommand(...args);
      await new Promise((resolve) => setTimeout(resolve, 30));
      return reply;
    }) as typeof real.sendCommand;
    const store = makeStore(url, { url: undefined, client: slow as unknown as RedisStoreClientLike });
    const events: string[] = [];
    store.onAppended((_topic, message) => events.push(`appended ${message.payload}`));
    try {
      await store.subscribe("own");
      const appends = Array.from({ length: 20 }, (_, i) =>
        store.append("own", Buffer.from(`m${i}`), true).then(() => events.push(`settled m${i}`)),
      );
      await Promise.all(appends);
      await until(() => events.length === 40, 5_000, "every message back");
      for (let i = 0; i < 20; i++)
        assert.ok(events.indexOf(`settled m${i}`) < events.indexOf(`appended m${i}`), events.join(", "));
      const order = events.filter((event) => event.startsWith("appended")).map((event) => event.slice(9));
      assert.deepEqual(order, text((await readAll(store, "own")) ?? []));
    } finally {
      await store.close();
      await real.close();
    }
  });

  test("sharded (SPUBLISH/SSUBSCRIBE) works the same on a Redis 7", async () => {
    const { url } = await started();
    const listener = makeStore(url, { sharded: true });
    const publisher = makeStore(url, { sharded: true });
    const heard = listen(listener);
    await listener.subscribe("sharded");
    await publisher.ready;
    for (let i = 0; i < 20; i++) await publisher.append("sharded", Buffer.from(`m${i}`), true);
    await until(() => heard.get("sharded")?.length === 20, 5_000, "the sharded messages");
    assert.deepEqual(text(heard.get("sharded") ?? []), text((await readAll(publisher, "sharded")) ?? []));
  });

  test("topics with braces, spaces, newlines and non-ASCII characters: one stream and one channel each", async () => {
    const { url } = await started();
    const listener = makeStore(url);
    const publisher = makeStore(url);
    const heard = listen(listener);
    const topics = ["a}b{c", "{x}", "chat room\n2", "café ☕"];
    for (const topic of topics) await listener.subscribe(topic);
    await publisher.ready;
    for (const topic of topics) await publisher.append(topic, Buffer.from(`to ${topic}`), true);
    await until(
      () => topics.every((topic) => heard.get(topic)?.length === 1),
      5_000,
      "one message per topic",
    );
    for (const topic of topics) {
      assert.deepEqual(text(heard.get(topic) ?? []), [`to ${topic}`]);
      assert.deepEqual(text((await publisher.readAfter(topic, "", 10)) ?? []), [`to ${topic}`]);
    }
  });

  test("options are checked", async () => {
    assert.throws(() => new RedisStreamStore({}), TypeError);
    assert.throws(() => new RedisStreamStore({ url: "redis://127.0.0.1:1", prefix: "a{b" }), TypeError);
    assert.throws(
      () => new RedisStreamStore({ url: "redis://127.0.0.1:1", maxMessagesPerTopic: 0 }),
      TypeError,
    );
    assert.throws(
      () => new RedisStreamStore({ url: "redis://127.0.0.1:1", commandTimeoutMs: -1 }),
      TypeError,
    );
  });
});

describe("RedisStreamStore: Redis away", { skip }, () => {
  test("unreachable: calls fail at once with a clear error; after a restart they work (scripts reloaded) and old positions read as gaps", async () => {
    const redis = await RedisServer.start();
    const store = new RedisStreamStore({ url: redis.url });
    const errors: Error[] = [];
    store.onError((error) => errors.push(error));
    try {
      await store.ready;
      const before = await store.append("away", Buffer.from("before"), true);
      await redis.kill();
      await until(() => errors.length > 0, 5_000, "the loss to be reported");
      const began = Date.now();
      await assert.rejects(store.append("away", Buffer.from("x"), true), RedisStoreUnavailableError);
      await assert.rejects(store.readAfter("away", before, 10), RedisStoreUnavailableError);
      await assert.rejects(store.takeSession("s"), RedisStoreUnavailableError);
      assert.ok(Date.now() - began < 1_000, `failed after ${Date.now() - began} ms`);

      await redis.start(); // same port, empty: no persistence
      const deadline = Date.now() + 10_000;
      let after: string | undefined;
      while (after === undefined) {
        try {
          after = await store.append("away", Buffer.from("after"), true);
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      assert.equal(await store.readAfter("away", before, 10), null, "the message before the restart is lost");
      assert.deepEqual(text((await store.readAfter("away", "", 10)) ?? []), ["after"]);
    } finally {
      await store.close();
      await redis.kill();
    }
  });

  test("topics subscribed at once while the subscriber connection is still connecting all succeed (issue 19 item 4)", async () => {
    const redis = await RedisServer.start();
    const store = new RedisStreamStore({ url: redis.url });
    const errors: Error[] = [];
    store.onError((error) => errors.push(error));
    const heard: string[] = [];
    store.onAppended((topic) => heard.push(topic));
    const topics = ["t1", "t2", "t3", "t4", "t5", "t6"];
    try {
      await store.ready;
      // The first subscribe makes the subscriber connection; the others come while it connects.
      const results = await Promise.allSettled(topics.map((topic) => store.subscribe(topic)));
      assert.deepEqual(
        results.filter((result) => result.status === "rejected"),
        [],
        "every subscribe succeeds",
      );
      for (const topic of topics) await store.append(topic, Buffer.from("x"), true);
      await until(() => heard.length === topics.length, 5_000, "a message on every topic");
      assert.deepEqual(errors, []);
    } finally {
      await store.close();
      await redis.kill();
    }
  });

  test("frozen: a take that timed out and ran late puts the record back, so the retry resumes (issue 19 item 3)", async () => {
    const redis = await RedisServer.start();
    const store = new RedisStreamStore({ url: redis.url, commandTimeoutMs: 300 });
    store.onError(() => {});
    const record: SessionRecord = {
      secretHash: "h",
      topics: { room: "1-0" },
      expiresAt: Date.now() + 60_000,
    };
    try {
      await store.ready;
      await store.saveSession("late", record, 60_000);
      // Redis knows the take script already (as on a server that has run a while): the late EVALSHA runs.
      await store.takeSession("warm-up");
      redis.freeze();
      await assert.rejects(store.takeSession("late"), RedisTimeoutError);
      redis.thaw();
      // Redis runs the queued take now; its late reply puts the record back (bounded wait for that).
      let taken: SessionRecord | undefined;
      for (let i = 0; i < 100 && taken === undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        taken = await store.takeSession("late");
      }
      assert.deepEqual(taken, record);
      assert.equal(await store.takeSession("late"), undefined, "still single use");
    } finally {
      redis.thaw();
      await store.close();
      await redis.kill();
    }
  });

  test("frozen: every call fails after commandTimeoutMs instead of hanging", async () => {
    const redis = await RedisServer.start();
    const store = new RedisStreamStore({ url: redis.url, commandTimeoutMs: 300 });
    store.onError(() => {});
    try {
      await store.ready;
      redis.freeze();
      const began = Date.now();
      await assert.rejects(store.append("frozen", Buffer.from("x"), true), RedisTimeoutError);
      await assert.rejects(store.readAfter("frozen", "", 10), RedisTimeoutError);
      await assert.rejects(
        store.saveSession("s", { secretHash: "", topics: {}, expiresAt: 0 }, 1000),
        RedisTimeoutError,
      );
      await assert.rejects(store.subscribe("frozen"), RedisTimeoutError);
      assert.ok(Date.now() - began < 5_000, `failed after ${Date.now() - began} ms`);
    } finally {
      redis.thaw();
      await store.close();
      await redis.kill();
    }
  });
});
