// Scale-out over a real redis-server: two and three server processes, clients on each; every message reaches
// every subscriber exactly once, in each publisher's order; Redis killed and restarted in the middle.

import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "../../src/web/websocket.js";
import { until, within } from "./helpers.js";
import { RedisServer, redisSkipReason, ServerProcess } from "./redis-helpers.js";

const skip = redisSkipReason() ?? false;

/** A client of one server process: its data messages (acks apart). */
interface Subscriber {
  socket: WebSocket;
  node: string;
  topics: string[];
  messages: string[];
  acks: string[];
}

async function subscriber(node: ServerProcess, topics: string[]): Promise<Subscriber> {
  const socket = new WebSocket(node.url);
  const sub: Subscriber = { socket, node: node.name, topics, messages: [], acks: [] };
  socket.addEventListener("message", (event) => {
    const data = (event as MessageEvent).data as string;
    if (data.startsWith('{"ack"')) sub.acks.push(JSON.parse(data).ack);
    else sub.messages.push(data);
  });
  await within(once(socket, "open"), 10_000, `a client of ${node.name} to open`);
  for (const topic of topics) socket.send(JSON.stringify({ sub: topic }));
  await until(() => sub.acks.length === topics.length, 10_000, `subscriptions on ${node.name}`);
  return sub;
}

/** The sequence numbers of each publisher prefix in a subscriber's messages, in arrival order. */
function byPublisher(messages: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const message of messages) {
    const colon = message.lastIndexOf(":");
    const prefix = message.slice(0, colon);
    let seqs = out.get(prefix);
    if (seqs === undefined) out.set(prefix, (seqs = []));
    seqs.push(Number(message.slice(colon + 1)));
  }
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function closeClients(subs: Subscriber[]): Promise<void> {
  const open = subs.filter((s) => s.socket.readyState !== WebSocket.CLOSED);
  const closed = open.map((s) => once(s.socket, "close"));
  for (const s of open) s.socket.close();
  await within(Promise.all(closed), 10_000, "clients to close");
}

describe("scale-out over Redis", { skip }, () => {
  let redis: RedisServer;
  const nodes: ServerProcess[] = [];
  const clients: Subscriber[] = [];

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    await closeClients(clients.splice(0)).catch(() => {});
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
    await redis?.kill();
  });

  async function cleanup(): Promise<void> {
    await closeClients(clients.splice(0));
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  }

  /** N processes with 4 clients each, on "room"; two of each also on "side". */
  async function cluster(names: string[]): Promise<{ procs: ServerProcess[]; subs: Subscriber[] }> {
    const procs = await Promise.all(
      names.map((name, i) => ServerProcess.start(name, redis.url, i % 2 === 0 ? "url" : "client")),
    );
    nodes.push(...procs);
    const subs: Subscriber[] = [];
    for (const proc of procs) {
      for (let i = 0; i < 4; i++) {
        subs.push(await subscriber(proc, i < 2 ? ["room", "side"] : ["room"]));
      }
    }
    clients.push(...subs);
    return { procs, subs };
  }

  async function exactlyOnce(procs: ServerProcess[], subs: Subscriber[], perNode: number, perClient: number) {
    // Each process publishes to "room" and "side" from the server; the first client of each publishes to
    // "room" through its socket (so it must not get its own messages back).
    const publishing: Promise<unknown>[] = [];
    for (const proc of procs) {
      publishing.push(
        proc.request({ cmd: "publish", topic: "room", prefix: `${proc.name}`, count: perNode }),
      );
      publishing.push(
        proc.request({ cmd: "publish", topic: "side", prefix: `${proc.name}-side`, count: 50 }),
      );
    }
    const talkers = procs.map((proc) => subs.find((s) => s.node === proc.name)!);
    for (const [k, talker] of talkers.entries()) {
      for (let i = 0; i < perClient; i++) {
        talker.socket.send(JSON.stringify({ pub: "room", data: `${procs[k].name}-client:${i}` }));
      }
    }
    await within(Promise.all(publishing), 20_000, "publishes");

    const expectedFor = (sub: Subscriber) => {
      const expected = new Map<string, number[]>();
      for (const [k, proc] of procs.entries()) {
        expected.set(proc.name, range(perNode));
        if (talkers[k] !== sub) expected.set(`${proc.name}-client`, range(perClient));
        if (sub.topics.includes("side")) expected.set(`${proc.name}-side`, range(50));
      }
      return expected;
    };
    const total = (sub: Subscriber) => [...expectedFor(sub).values()].reduce((n, s) => n + s.length, 0);
    await until(() => subs.every((s) => s.messages.length >= total(s)), 20_000, "every delivery");
    await new Promise((resolve) => setTimeout(resolve, 200)); // room for a duplicate to show up
    for (const [i, sub] of subs.entries()) {
      const got = byPublisher(sub.messages);
      const expected = expectedFor(sub);
      assert.deepEqual(
        new Map([...got].sort()),
        new Map([...expected].sort()),
        `client ${i} on ${sub.node}: every message once, in each publisher's order`,
      );
    }
    // A process's own publishes come back from Redis and are skipped, never delivered twice locally.
    for (const proc of procs) {
      const stats = (await proc.request({ cmd: "stats" })) as {
        adapter: { skippedOwn: number; publishFailed: number };
        server: { adapterFailed: number };
      };
      assert.equal(stats.adapter.skippedOwn, perNode + 50 + perClient, `${proc.name} skipped its own`);
      assert.equal(stats.adapter.publishFailed, 0);
      assert.equal(
        proc.count((e) => e.type === "error"),
        0,
        `${proc.name} reported no error`,
      );
    }
  }

  test("two server processes: every message reaches every subscriber on both exactly once, in order", async () => {
    const { procs, subs } = await cluster(["a", "b"]);
    await exactlyOnce(procs, subs, 300, 100);
    await cleanup();
  });

  test("three server processes: every message reaches every subscriber on all three exactly once, in order", async () => {
    const { procs, subs } = await cluster(["a", "b", "c"]);
    await exactlyOnce(procs, subs, 200, 50);
    await cleanup();
  });

  test("Redis restarted: publishes while it is down are reported; subscriptions come back, later publishes arrive", async () => {
    const { procs, subs } = await cluster(["a", "b"]);
    const [a, b] = procs;
    const onA = subs.filter((s) => s.node === "a");
    const onB = subs.filter((s) => s.node === "b");
    await a.request({ cmd: "publish", topic: "room", prefix: "before", count: 20 });
    await until(() => subs.every((s) => s.messages.length === 20), 10_000, "the first batch");

    const readyBefore = procs.map((p) => p.count((e) => e.type === "redis-ready"));
    await redis.kill();
    await Promise.all(procs.map((p) => p.waitFor((e) => e.type === "redis-down", 10_000, "redis-down")));

    // Down: local subscribers still get a publish; the other process cannot; each failure is an 'error'.
    await a.request({ cmd: "publish", topic: "room", prefix: "during", count: 10 });
    await until(
      () => onA.every((s) => s.messages.length === 30),
      10_000,
      "local delivery while Redis is down",
    );
    const failures = a.events.filter((e) => e.type === "error" && e.code === "SJ_ERR_ADAPTER_PUBLISH");
    assert.equal(failures.length, 10);
    assert.equal(failures[0].topic, "room");
    const statsDown = (await a.request({ cmd: "stats" })) as {
      server: { adapterFailed: number };
      adapter: { publishFailed: number };
    };
    assert.equal(statsDown.server.adapterFailed, 10);
    assert.equal(statsDown.adapter.publishFailed, 10);
    // A subscription made while Redis is away is set up when it comes back.
    const late = await subscriber(b, ["late"]);
    clients.push(late);

    await redis.start();
    await Promise.all(
      procs.map((p, i) =>
        p
          .waitFor((e) => e.type === "redis-ready", 15_000, "redis-ready after the restart", 0)
          .then(() =>
            until(
              () => p.count((e) => e.type === "redis-ready") > readyBefore[i],
              15_000,
              `${p.name} to reconnect`,
            ),
          ),
      ),
    );
    await a.request({ cmd: "publish", topic: "room", prefix: "after-a", count: 30 });
    await b.request({ cmd: "publish", topic: "room", prefix: "after-b", count: 30 });
    await a.request({ cmd: "publish", topic: "late", prefix: "late", count: 5 });
    await until(
      () => onB.every((s) => s.messages.length === 80),
      10_000,
      "deliveries after the restart on b",
    );
    await until(
      () => onA.every((s) => s.messages.length === 90),
      10_000,
      "deliveries after the restart on a",
    );
    await until(() => late.messages.length === 5, 10_000, "the late subscription");
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const s of onA) {
      const got = byPublisher(s.messages);
      assert.deepEqual(got.get("during"), range(10));
      assert.deepEqual(got.get("after-a"), range(30));
      assert.deepEqual(got.get("after-b"), range(30));
    }
    for (const s of onB) {
      const got = byPublisher(s.messages);
      assert.equal(got.has("during"), false, "what could not reach Redis never reaches b");
      assert.deepEqual(got.get("after-a"), range(30));
      assert.deepEqual(got.get("after-b"), range(30));
      assert.equal(s.messages.length, 80);
    }
    assert.deepEqual(
      late.messages,
      range(5).map((i) => `late:${i}`),
    );
    const statsUp = (await a.request({ cmd: "stats" })) as { adapter: { reconnects: number } };
    assert.ok(statsUp.adapter.reconnects >= 1);
    await cleanup();
  });
});
