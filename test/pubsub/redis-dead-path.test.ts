// RedisAdapter and RedisStreamStore on a dead network path to Redis: a relay (BlackholeRelay) stops passing
// bytes on the connections it carries, both ways, and keeps them open, as a silent proxy or a failover that
// blackholes the old address would. TCP would not notice for ~15 minutes; the heartbeat (pingIntervalMs)
// drops each connection whose PING goes unanswered for an interval and makes it again, through the relay,
// which passes new connections. Real redis-server, real sockets.

import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { createClient } from "redis";
import {
  type RedisAdapter as Adapter,
  RedisAdapter,
  RedisStreamStore,
  RedisTimeoutError,
} from "../../src/redis/index.js";
import type { AdapterMessage } from "../../src/server/adapter.js";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { until } from "./helpers.js";
import { BlackholeRelay, RedisServer, redisSkipReason } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;

/** Everything an adapter receives from other processes, as text. */
function received(adapter: Adapter): string[] {
  const heard: string[] = [];
  adapter.onMessage((message: AdapterMessage) => heard.push(message.payload.toString()));
  return heard;
}

const message = (text: string): AdapterMessage => ({ topic: "t", payload: Buffer.from(text), isText: true });

/** Publishes `text` until it goes through (the connection may be on its way back), within `ms`. */
async function publishSoon(adapter: Adapter, text: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await adapter.publish(message(text));
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe("Redis on a dead network path (pingIntervalMs)", { skip }, () => {
  let redis: RedisServer;
  const closing: (() => Promise<unknown>)[] = [];
  after(async () => {
    await redis?.kill();
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  async function setUp(options: { pingIntervalMs?: number } = {}) {
    redis ??= await RedisServer.start();
    const relay = await BlackholeRelay.start(redis.port);
    closing.push(() => relay.close());
    const adapter = new RedisAdapter({ url: relay.url, commandTimeoutMs: 300, ...options });
    closing.push(() => adapter.close());
    const errors: Error[] = [];
    adapter.onError((error) => errors.push(error));
    // The other process, straight to Redis.
    const other = new RedisAdapter({ url: redis.url });
    closing.push(() => other.close());
    await Promise.all([adapter.ready, other.ready]);
    return { relay, adapter, other, errors };
  }

  test("the adapter drops both silent connections together, reconnects, and publishes and receives again", async () => {
    // pingIntervalMs 200 and commandTimeoutMs 300: a PING is dropped after 300 ms (the longer of the two).
    const { relay, adapter, other, errors } = await setUp({ pingIntervalMs: 200 });
    const heard = received(adapter);
    const heardByOther = received(other);
    await adapter.subscribe("t");
    await other.subscribe("t");
    await other.publish(message("before"));
    await until(() => heard.includes("before"), 5000, "the message before the cut");
    let disconnects = 0;
    let readies = 0;
    adapter.on("disconnect", () => disconnects++);
    adapter.on("ready", () => readies++);

    relay.blackhole();
    const cutAt = Date.now();
    // It times out, or the drop fails it first: a RedisTimeoutError either way, never node-redis's bare
    // "Disconnects client".
    const lost = await adapter.publish(message("lost")).then(
      () => null,
      (error: Error) => error,
    );
    assert.ok(lost instanceof RedisTimeoutError, `publish failed with ${String(lost)}`);
    await until(() => disconnects > 0, 5000, "the adapter's 'disconnect'");
    const foundAfter = Date.now() - cutAt;
    // The next PING goes within an interval (200 ms) and is dropped 300 ms after: at most 500 ms, with room
    // for a loaded machine; TCP alone would take minutes.
    assert.ok(foundAfter >= 300 && foundAfter < 1500, `found after ${foundAfter} ms`);
    const dead = errors.filter((error) => /did not answer a PING/.test(error.message));
    assert.equal(
      dead.length,
      1,
      `one error for the one dead path: ${errors.map((e) => e.message).join(" | ")}`,
    );
    assert.match(dead[0].message, /pingIntervalMs/);
    assert.ok(dead[0].cause instanceof RedisTimeoutError);
    const waited = Number(/for (\d+) ms/.exec(dead[0].message)?.[1]);
    assert.ok(waited >= 300 && waited < 1000, `the PING waited ${waited} ms`);

    await until(() => adapter.connected, 5000, "the adapter to be connected again");
    assert.ok(relay.connections >= 4, `${relay.connections} connections: both were made again`);
    // Publishing works again, and so does receiving (the subscriber's topics were subscribed again).
    await publishSoon(adapter, "from adapter", 5000);
    await until(() => heardByOther.includes("from adapter"), 5000, "the other process to receive");
    await publishSoon(other, "from other", 5000);
    await until(() => heard.includes("from other"), 5000, "the adapter to receive after the reconnect");
    // Both connections were judged together: one 'disconnect', one 'ready', one reconnect.
    assert.deepEqual(
      { disconnects, readies, reconnects: adapter.stats.reconnects },
      {
        disconnects: 1,
        readies: 1,
        reconnects: 1,
      },
    );
    assert.equal(adapter.stats.waitingPublishes, 0, "what the dead connection held is released");
  });

  test("a silent proxy: new connections' handshakes go unanswered too, and the adapter recovers once it heals", async () => {
    const { relay, adapter, other, errors } = await setUp({ pingIntervalMs: 200 });
    const heard = received(adapter);
    await adapter.subscribe("t");
    let disconnects = 0;
    adapter.on("disconnect", () => disconnects++);
    const state = () =>
      `${relay.connections} connections, ${relay.live} live; errors: ${errors.map((e) => e.message).join(" | ")}`;
    relay.holdNew(true);
    relay.blackhole();
    await until(() => disconnects > 0, 5000, "the drop");
    // The new connections reach the proxy and hear nothing: dropped again after 300 ms, and again.
    const before = relay.connections;
    await until(() => relay.connections >= before + 4, 5000, "the stuck handshakes to be made again");
    relay.holdNew(false);
    await until(
      () => adapter.connected,
      5000,
      "the adapter to be connected once the proxy passes bytes",
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${state()}`);
    });
    await publishSoon(other, "healed", 5000);
    await until(() => heard.includes("healed"), 5000, "the adapter to receive after the heal");
  });

  test("close() from the error handler of a drop leaves no connection behind", async () => {
    const { relay, adapter } = await setUp({ pingIntervalMs: 100 });
    let closing: Promise<void> | null = null;
    adapter.onError(() => {
      closing ??= adapter.close();
    });
    relay.blackhole();
    await until(() => closing !== null, 5000, "the drop's error");
    await closing;
    // The drop's new connections (and any node-redis made) close as soon as they open.
    await until(() => relay.live === 0, 3000, `no live connection (${relay.live})`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(relay.live, 0);
  });

  test("a Redis that stalls for less than commandTimeoutMs is not dropped, even with PINGs every 100 ms", async () => {
    redis ??= await RedisServer.start();
    const patient = new RedisAdapter({ url: redis.url, pingIntervalMs: 100, commandTimeoutMs: 1000 });
    closing.push(() => patient.close());
    await patient.ready;
    let disconnects = 0;
    patient.on("disconnect", () => disconnects++);
    await new Promise((resolve) => setTimeout(resolve, 250));
    redis.freeze();
    await new Promise((resolve) => setTimeout(resolve, 600));
    redis.thaw();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await patient.publish(message("after the stall"));
    assert.equal(disconnects, 0);
    assert.equal(patient.stats.reconnects, 0);
  });

  test("pingIntervalMs: 0 keeps the silent connections (the heartbeat is what recovers)", async () => {
    const { relay, adapter, other } = await setUp({ pingIntervalMs: 0 });
    const heard = received(adapter);
    await adapter.subscribe("t");
    relay.blackhole();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await assert.rejects(adapter.publish(message("lost")), RedisTimeoutError);
    await other.publish(message("unheard"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(heard, []);
    assert.equal(relay.connections, 2, "nothing was made again");
  });

  test("a healthy connection is not dropped: pings every 20 ms, and synchronous turns longer than that", async () => {
    redis ??= await RedisServer.start();
    // Straight to Redis: the relay runs on this process's event loop, which the test blocks.
    // commandTimeoutMs 20 too: a PING is dropped after 20 ms, shorter than the turns below.
    const adapter = new RedisAdapter({ url: redis.url, pingIntervalMs: 20, commandTimeoutMs: 20 });
    closing.push(() => adapter.close());
    await adapter.ready;
    let disconnects = 0;
    adapter.on("disconnect", () => disconnects++);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Every 20 ms (after the heartbeat's timer, made first) an immediate blocks the loop for 40 ms, right
    // after the heartbeat has stamped its PING as sent: the answer arrives during the block, and the
    // heartbeat's next tick runs before the poll phase that reads it.
    let rounds = 0;
    await new Promise<void>((resolve) => {
      const blocker = setInterval(() => {
        setImmediate(() => {
          const until40 = performance.now() + 40;
          while (performance.now() < until40);
        });
        if (++rounds === 25) {
          clearInterval(blocker);
          resolve();
        }
      }, 20);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The connection still works: a publish is answered. One of a few: on a loaded machine one can take more
    // than the 20 ms this adapter allows a command (CI once saw "did not answer a publish within 20 ms").
    let answered = false;
    for (let attempt = 0; attempt < 5 && !answered; attempt++) {
      answered = await adapter.publish(message("fine")).then(
        () => true,
        (error: Error) => {
          if (error.name !== "RedisTimeoutError") throw error;
          return false;
        },
      );
    }
    assert.ok(answered, "no publish answered within 20 ms in 5 tries");
    assert.equal(disconnects, 0);
    assert.equal(adapter.stats.reconnects, 0);
  });

  test("publishes that a drop fails say so, and name the publishing connection", async () => {
    const { relay, adapter } = await setUp({ pingIntervalMs: 200 });
    relay.blackhole();
    let disconnected = false;
    adapter.on("disconnect", () => {
      disconnected = true;
    });
    // One publish every 20 ms until the drop: those under 300 ms old then are failed by the drop itself.
    const failures: Promise<Error | null>[] = [];
    while (!disconnected && failures.length < 500) {
      failures.push(
        adapter.publish(message("x")).then(
          () => null,
          (error: Error) => error,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const errors = (await Promise.all(failures)).filter((error) => error !== null);
    const dropped = errors.filter((error) => /was dropped/.test(error.message));
    assert.ok(dropped.length > 0, `some failed by the drop: ${errors.map((e) => e.message).join(" | ")}`);
    for (const error of errors)
      assert.ok(error instanceof RedisTimeoutError, `${error.name}: ${error.message}`);
    for (const error of dropped) assert.match(error.message, /publishing connection/);
  });

  test("a frozen Redis: handshakes dropped for 3 s make one connection each once it answers, none after close()", async () => {
    const ownRedis = await RedisServer.start();
    closing.push(async () => {
      ownRedis.thaw();
      await ownRedis.kill();
    });
    const relay = await BlackholeRelay.start(ownRedis.port);
    closing.push(() => relay.close());
    const adapter = new RedisAdapter({ url: relay.url, commandTimeoutMs: 300, pingIntervalMs: 200 });
    const errors: Error[] = [];
    adapter.onError((error) => errors.push(error));
    await adapter.ready;
    await adapter.subscribe("t");
    ownRedis.freeze();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const madeWhileFrozen = relay.connections;
    ownRedis.thaw();
    await until(() => adapter.connected, 5000, "the adapter to be connected again");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok(madeWhileFrozen > 4, `handshakes were dropped and made again (${madeWhileFrozen} connections)`);
    assert.equal(relay.live, 2, "one connection per client once Redis answers");
    assert.ok(adapter.connected);
    await adapter.publish(message("after"));
    assert.deepEqual(
      errors
        .map((error) => error.message)
        .filter((text) => !/^Redis connection: Redis did not answer/.test(text)),
      [],
    );
    assert.equal(errors.length, 1, "one report for the outage");
    const closedAt = Date.now();
    await adapter.close();
    assert.ok(Date.now() - closedAt < 1000);
    await until(() => relay.live === 0, 3000, `no connection after close() (${relay.live})`);
  });

  test("close() on a dead path does not wait for the PING in flight", async () => {
    const { relay, adapter } = await setUp({ pingIntervalMs: 100 });
    await adapter.close();
    // A PING is dropped after commandTimeoutMs here (3000): close() comes while one has waited over a second.
    const slow = new RedisAdapter({ url: relay.url, pingIntervalMs: 100, commandTimeoutMs: 3000 });
    closing.push(() => slow.close());
    slow.onError(() => {});
    await slow.ready;
    relay.blackhole();
    await new Promise((resolve) => setTimeout(resolve, 1400));
    const closedAt = Date.now();
    await slow.close();
    const took = Date.now() - closedAt;
    assert.ok(took < 1000, `close() took ${took} ms`);
  });

  test("the store drops its silent connections and reads back what it missed", async () => {
    redis ??= await RedisServer.start();
    const relay = await BlackholeRelay.start(redis.port);
    closing.push(() => relay.close());
    const store = new RedisStreamStore({ url: relay.url, commandTimeoutMs: 300, pingIntervalMs: 200 });
    closing.push(() => store.close());
    const errors: Error[] = [];
    store.onError((error) => errors.push(error));
    const heard: string[] = [];
    store.onAppended((_topic: string, stored: StoredMessage) => heard.push(stored.payload.toString()));
    const other = new RedisStreamStore({ url: redis.url });
    closing.push(() => other.close());
    await Promise.all([store.ready, other.ready]);
    await store.subscribe("t");
    await other.append("t", Buffer.from("before"), true);
    await until(() => heard.includes("before"), 5000, "the message before the cut");

    relay.blackhole();
    await other.append("t", Buffer.from("during"), true);
    await until(() => errors.some((error) => /did not answer a PING/.test(error.message)), 5000, "the error");
    await until(() => heard.includes("during"), 5000, "the message appended while the path was dead");
    await other.append("t", Buffer.from("after"), true);
    await until(() => heard.includes("after"), 5000, "a live message after the reconnect");
    assert.deepEqual(heard, ["before", "during", "after"]);
    const pings = errors.filter((error) => /did not answer a PING/.test(error.message));
    assert.equal(
      pings.length,
      1,
      `one report for both connections: ${pings.map((e) => e.message).join(" | ")}`,
    );
    // The command connection came back too: an append through it goes through.
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        await store.append("t", Buffer.from("own"), true);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    assert.ok(relay.connections >= 4, `${relay.connections} connections: both were made again`);
  });

  test("the store: a drop of its subscriber alone, then a real outage is reported too", async () => {
    const ownRedis = await RedisServer.start();
    closing.push(() => ownRedis.kill());
    const relay = await BlackholeRelay.start(ownRedis.port);
    closing.push(() => relay.close());
    const store = new RedisStreamStore({ url: relay.url, commandTimeoutMs: 300, pingIntervalMs: 100 });
    closing.push(() => store.close());
    const errors: Error[] = [];
    store.onError((error) => errors.push(error));
    await store.ready;
    await store.subscribe("t");
    // Connection 0 is the command connection, 1 the subscriber.
    relay.blackhole([1]);
    await until(() => errors.some((error) => /subscribing connection/.test(error.message)), 5000, "the drop");
    await until(() => relay.live === 2, 5000, "the subscriber to be made again");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = errors.length;
    await ownRedis.kill();
    const outage = (error: Error) => /^Redis connection: /.test(error.message) && !/PING/.test(error.message);
    await until(() => errors.slice(before).some(outage), 5000, "the outage to be reported");
  });

  test("the store: a restore whose SUBSCRIBE answers after commandTimeoutMs still delivers, and reads back", async () => {
    redis ??= await RedisServer.start();
    const relay = await BlackholeRelay.start(redis.port);
    closing.push(() => relay.close());
    const store = new RedisStreamStore({ url: relay.url, commandTimeoutMs: 300, pingIntervalMs: 0 });
    closing.push(() => store.close());
    store.onError(() => {});
    const heard: string[] = [];
    store.onAppended((_topic: string, stored: StoredMessage) => heard.push(stored.payload.toString()));
    const other = new RedisStreamStore({ url: redis.url });
    closing.push(() => other.close());
    await Promise.all([store.ready, other.ready]);
    await store.subscribe("r");
    await other.append("r", Buffer.from("a"), true);
    await until(() => heard.includes("a"), 5000, "the first message");
    // The subscriber is cut by Redis; its reconnect's SUBSCRIBE reaches Redis 800 ms late, after the
    // restore's 300 ms: the restore fails on a connection that is up, and the late subscription stands.
    relay.delayNext(/SUBSCRIBE/i, 800);
    const admin = createClient({ url: redis.url });
    closing.push(() => admin.close());
    await admin.connect();
    await admin.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
    // Appended while the store is not subscribed: only its read-back after the restore can hand it over.
    await other.append("r", Buffer.from("b"), true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await other.append("r", Buffer.from("c"), true);
    await until(() => heard.includes("c") && heard.includes("b"), 8000, `b and c (heard ${heard.join(",")})`);
    assert.deepEqual(
      heard.filter((text, i) => heard.indexOf(text) === i),
      ["a", "b", "c"],
    );
  });

  test("pingIntervalMs must be 0 or 1 to 2^31 - 1 ms (TypeError, RangeError)", () => {
    for (const [value, type] of [
      ["10", TypeError],
      [null, TypeError],
      [-1, RangeError],
      [0.5, RangeError],
      [2 ** 31, RangeError],
      [Number.NaN, RangeError],
      [Number.POSITIVE_INFINITY, RangeError],
    ] as const) {
      assert.throws(
        () => new RedisAdapter({ url: "redis://127.0.0.1:1", pingIntervalMs: value as number }),
        (error: Error) => error instanceof type && /pingIntervalMs/.test(error.message),
      );
      assert.throws(
        () => new RedisStreamStore({ url: "redis://127.0.0.1:1", pingIntervalMs: value as number }),
        (error: Error) => error instanceof type && /pingIntervalMs/.test(error.message),
      );
    }
    assert.throws(
      () => new RedisAdapter({ url: "redis://127.0.0.1:1", pingIntervalMs: null as unknown as number }),
      /not null/,
    );
  });
});
