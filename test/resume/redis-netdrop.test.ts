// A network drop only the client notices, on RedisStreamStore (review 6 item 1, how issue 19 met it): the
// client resumes on the same server process while its old connection still looks open there. The server
// takes the session from the old connection (half-open takeover); the topics must keep their live feed:
// every message once, in order, the replay and then the live ones, drop after drop; and the topics stay
// subscribed throughout (the new connection subscribes them before the old one is dropped).

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { RedisStreamStore } from "../../src/redis/index.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { HOST, until, within } from "../pubsub/helpers.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";
import { RawResumeClient, startRelay } from "./redis-resume-helpers.js";

const skip = redisSkipReason() ?? false;
const TOPICS = ["alpha", "beta"];
const ROUNDS = 3;

describe("resume on RedisStreamStore after a drop the server did not notice", { skip }, () => {
  let redis: RedisServer | undefined;
  after(async () => {
    await redis?.kill();
  });

  test("resumed on the same process, drop after drop: replay, then every live message, once, in order", async () => {
    redis = await RedisServer.start();
    const store = new RedisStreamStore({ url: redis.url });
    // What the server tells the store to unsubscribe: a takeover keeps the topics (the new connection
    // subscribes them before the old one goes), so nothing.
    const unsubscribed: string[] = [];
    const unsubscribe = store.unsubscribe.bind(store);
    store.unsubscribe = (topic) => {
      unsubscribed.push(topic);
      return unsubscribe(topic);
    };
    // No pings: the server must not notice the drop by itself.
    const server = new WebSocketServer({
      port: 0,
      host: HOST,
      pingIntervalMs: 0,
      resume: { store, maxDisconnectionMs: 60_000 },
    });
    const errors: string[] = [];
    server.on("error", (error) => errors.push(error.message));
    server.on("connection", (socket) => {
      if (socket.resumed) return;
      for (const topic of TOPICS) socket.subscribe(topic);
      server.adapterSettled().then(() => socket.send("subscribed"));
    });
    await within(store.ready, 10_000, "the store");
    if (server.address() === null) await new Promise((resolve) => server.once("listening", resolve));
    const address = server.address();
    const relay = await startRelay(typeof address === "object" && address !== null ? address.port : 0);
    const expected: { topic: string; text: string }[] = [];
    const publish = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const message = { topic: TOPICS[i % TOPICS.length], text: `${prefix}:${i}` };
        server.publish(message.topic, message.text);
        expected.push(message);
      }
      await server.adapterSettled();
    };
    const client = new RawResumeClient();
    try {
      await client.connect(`ws://${HOST}:${relay.port}/`);
      await until(() => client.eventsOf("direct").length === 1, 10_000, "the subscriptions");
      await publish("before", 10);
      await until(() => client.received.length === expected.length, 10_000, "the first messages");

      for (let round = 0; round < ROUNDS; round++) {
        relay.dropClientSide();
        await until(() => client.socket?.readyState === 3, 10_000, "the client to see the drop");
        assert.equal(server.clients.size, 1, "the server still holds the old connection");
        await publish(`missed-${round}`, 20);

        const from = client.events.length;
        const session = await client.connect(`ws://${HOST}:${relay.port}/`);
        assert.equal(session.resumed, true, JSON.stringify(client.events.slice(from)));
        await until(() => client.eventsOf("resumed", from).length === 1, 10_000, "the end of the replay");
        assert.equal(client.eventsOf("resumed", from)[0].replayed, 20, `round ${round}: the replay`);
        await until(() => server.clients.size === 1, 10_000, "the old connection to be dropped");
        assert.deepEqual(unsubscribed, [], `round ${round}: the topics stayed subscribed`);

        await publish(`after-${round}`, 10);
        await until(
          () => client.received.length >= expected.length,
          5000,
          `round ${round}: the live messages after the resume (${client.received.length} of ${expected.length})`,
        );
      }
      for (const topic of TOPICS) {
        const got = client.received.filter((message) => message.topic === topic).map((m) => m.data);
        const want = expected.filter((m) => m.topic === topic).map((m) => m.text);
        assert.deepEqual(got, want, `${topic}: every message once, in order`);
      }
      assert.equal(client.received.length, expected.length);
      assert.deepEqual(errors, []);
    } finally {
      client.socket?.close();
      relay.close();
      await server.close();
    }
  });
});
