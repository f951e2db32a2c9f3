// Resumable sessions on Redis Streams across server processes (issue 19's proof, library level): a client
// whose connection dies — its server process killed, or the network cut — resumes on ANOTHER process and
// gets every message published meanwhile, in order, once, then goes on live.

import assert from "node:assert/strict";
import { after, afterEach, describe, test } from "node:test";
import { HOST, until } from "../pubsub/helpers.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";
import {
  RawResumeClient,
  ResumeServerProcess,
  startRelay,
  type TopicMessage,
} from "./redis-resume-helpers.js";

const skip = redisSkipReason() ?? false;
const TOPICS = ["alpha", "beta"];

/** What was published to each topic, in order: `${prefix}:${i}` to TOPICS[i % 2]. */
function published(prefix: string, count: number): Map<string, string[]> {
  const byTopic = new Map<string, string[]>(TOPICS.map((topic) => [topic, []]));
  for (let i = 0; i < count; i++) byTopic.get(TOPICS[i % TOPICS.length])?.push(`${prefix}:${i}`);
  return byTopic;
}

/** Checks that `received` holds, per topic, exactly the batches in order, each message once. */
function assertExactly(received: TopicMessage[], ...batches: Map<string, string[]>[]): void {
  for (const topic of TOPICS) {
    const got = received.filter((message) => message.topic === topic).map((message) => message.data);
    const expected = batches.flatMap((batch) => batch.get(topic) ?? []);
    assert.equal(
      got.length,
      expected.length,
      `${topic}: ${got.length} messages, expected ${expected.length}`,
    );
    assert.deepEqual(got, expected, topic);
  }
}

describe("resume on Redis Streams, across server processes", { skip }, () => {
  let redis: RedisServer | undefined;
  const processes: ResumeServerProcess[] = [];
  const start = async (name: string) => {
    redis ??= await RedisServer.start();
    const node = await ResumeServerProcess.start(redis.url, name);
    processes.push(node);
    return node;
  };
  afterEach(async () => {
    for (const node of processes.splice(0)) await node.kill();
  });
  after(async () => {
    await redis?.kill();
  });

  test("server process killed (SIGKILL) while 1,000 messages are published: the client resumes on another, gets all 1,000 in order, once", async () => {
    const a = await start("a");
    const b = await start("b");
    const client = new RawResumeClient();
    const first = await client.connect(`ws://${HOST}:${a.port}/?topics=${TOPICS.join(",")}`);
    assert.equal(first.resumed, false);
    await until(() => client.eventsOf("direct").length === 1, 10_000, "the subscriptions");

    await b.request({ cmd: "publish", topics: TOPICS, prefix: "before", count: 100 });
    await until(() => client.received.length === 100, 10_000, "the first 100 live through a");
    await a.kill();
    await until(() => client.socket?.readyState === 3, 10_000, "the client to see its connection die");

    await b.request({ cmd: "publish", topics: TOPICS, prefix: "missed", count: 1000 });
    const from = client.events.length;
    const session = await client.connect(`ws://${HOST}:${b.port}/`);
    assert.equal(session.resumed, true, JSON.stringify(client.events.slice(from)));
    await until(() => client.eventsOf("resumed", from).length === 1, 10_000, "the end of the replay");
    assert.equal(client.eventsOf("resumed", from)[0].replayed, 1000);
    assert.deepEqual(client.eventsOf("reset", from), []);

    await b.request({ cmd: "publish", topics: TOPICS, prefix: "after", count: 10 });
    await until(() => client.received.length === 1110, 10_000, "live again, through b");
    assertExactly(
      client.received,
      published("before", 100),
      published("missed", 1000),
      published("after", 10),
    );
    client.socket?.close();
  });

  test("network cut while 1,000 messages are published on the old process: resumed on another, all in order, once", async () => {
    const a = await start("a");
    const b = await start("b");
    const relay = await startRelay(a.port);
    try {
      const client = new RawResumeClient();
      await client.connect(`ws://${HOST}:${relay.port}/?topics=${TOPICS.join(",")}`);
      await until(() => client.eventsOf("direct").length === 1, 10_000, "the subscriptions");
      await a.request({ cmd: "publish", topics: TOPICS, prefix: "before", count: 10 });
      await until(() => client.received.length === 10, 10_000, "the first 10");
      relay.cut();
      await until(() => client.socket?.readyState === 3, 10_000, "the client to see its connection die");
      await a.request({ cmd: "publish", topics: TOPICS, prefix: "missed", count: 1000 });

      const from = client.events.length;
      const session = await client.connect(`ws://${HOST}:${b.port}/`);
      assert.equal(session.resumed, true, JSON.stringify(client.events.slice(from)));
      await until(() => client.eventsOf("resumed", from).length === 1, 10_000, "the end of the replay");
      await a.request({ cmd: "publish", topics: TOPICS, prefix: "after", count: 10 });
      await until(() => client.received.length === 1020, 10_000, "live again, published on a");
      assertExactly(
        client.received,
        published("before", 10),
        published("missed", 1000),
        published("after", 10),
      );

      // The token was used: presenting the old one again is refused (a fresh session, reason "unknown").
      client.socket?.close();
      const replayer = new RawResumeClient();
      replayer.token = String(client.eventsOf("session")[0].token);
      const refused = await replayer.connect(`ws://${HOST}:${a.port}/`);
      assert.equal(refused.resumed, false);
      assert.deepEqual(
        replayer.eventsOf("reset").map((event) => event.reason),
        ["unknown"],
      );
      replayer.socket?.close();
    } finally {
      relay.close();
    }
  });
});
