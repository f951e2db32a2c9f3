// A session's own publishes are left out of its replays on RedisStreamStore too (issue 19 item 2): the
// stream entry keeps the publisher given to append(), and readAfter hands it back — across two servers that
// share one Redis, the session publishing on the first and resuming on the second.

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { RedisStreamStore } from "../../src/redis/index.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { controls, rawResume, startServer, until } from "./helpers.js";

function topicPayloads(messages: (string | Buffer)[]): string[] {
  return messages
    .filter((m): m is string => typeof m === "string" && m.charCodeAt(0) === 1)
    .map((m) => m.slice(m.indexOf("\n") + 1));
}

/**
 * Two servers on one Redis (a RedisStreamStore each), every fresh session subscribed to "room", what a client
 * sends handed to `onText`; a session "a" on the first and "b" on the second, both subscribed in Redis.
 */
async function twoServers(t: TestContext, onText: (socket: WebSocket, text: string) => void) {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const stores = [new RedisStreamStore({ url: redis.url }), new RedisStreamStore({ url: redis.url })];
  for (const store of stores) t.after(() => store.close());
  const [one, two] = [
    await startServer(t, { resume: { store: stores[0] } }),
    await startServer(t, { resume: { store: stores[1] } }),
  ];
  const sockets: WebSocket[] = [];
  for (const started of [one, two])
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) socket.subscribe("room");
      socket.onmessage = (event) => onText(socket, String(event.data));
    });
  const a = await rawResume(one.url, { type: "hello" });
  const b = await rawResume(two.url, { type: "hello" });
  await until(() => sockets.length === 2, 5000, "both sessions");
  await until(() => controls(a.messages).length > 0, 5000, "a's session");
  await new Promise((resolve) => setTimeout(resolve, 100)); // the subscriptions reach Redis
  return { one, two, stores, sockets, a, b };
}

describe("a session's own publishes on RedisStreamStore", { skip: redisSkip() }, () => {
  test("are not replayed to it on another server; the others' are", async (t) => {
    const { one, two, stores, sockets, a, b } = await twoServers(t, (socket, text) =>
      socket.publish("room", text),
    );
    a.socket.send("from-a");
    await until(() => topicPayloads(b.messages).includes("from-a"), 5000, "b to get a's message");
    assert.deepEqual(topicPayloads(a.messages), []);

    sockets[0].terminate();
    await until(() => one.server.subscriberCount("room") === 0, 5000, "a's side to close");
    b.socket.send("from-b");
    for (let i = 0; ((await stores[0].readAfter("room", "", 10)) ?? []).length < 2; i++) {
      assert.ok(i < 100, "b's message was not stored within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const token = controls(a.messages)[0].token as string;
    const again = await rawResume(two.url, { type: "resume", token, positions: { room: "" } });
    await until(() => controls(again.messages).some((c) => c.type === "resumed"), 5000, "the resume");
    // What the session published (from-a) is not replayed; what b published while it was away is.
    assert.deepEqual(topicPayloads(again.messages), ["from-b"]);
    again.socket.close();
    b.socket.close();
  });

  test("regression: published on the first server after its connection dropped, resumed on the second: not sent to it live", async (t) => {
    const later: (() => void)[] = [];
    const { one, two, sockets, a, b } = await twoServers(t, (socket, text) => {
      if (text.startsWith("later ")) later.push(() => socket.publish("room", text.slice(6)));
    });
    a.socket.send("later own");
    await until(() => later.length === 1, 5000, "the app to take a's message");
    const token = controls(a.messages)[0].token as string;
    sockets[0].terminate();
    await until(() => one.server.subscriberCount("room") === 0, 5000, "a's side to close");
    const again = await rawResume(two.url, { type: "resume", token, positions: { room: "" } });
    await until(() => controls(again.messages).some((c) => c.type === "resumed"), 5000, "the resume");
    // The first server's app publishes from the dropped socket now: it reaches the second server through
    // Redis's live feed, which carries the session's publisher id.
    later[0]();
    await until(() => topicPayloads(b.messages).includes("own"), 5000, "b to get a's message");
    two.server.publish("room", "marker");
    await until(() => topicPayloads(again.messages).includes("marker"), 5000, "the marker");
    await until(() => topicPayloads(b.messages).includes("marker"), 5000, "b to get the marker");
    assert.deepEqual(topicPayloads(again.messages), ["marker"]);
    again.socket.close();
    b.socket.close();
  });

  for (const when of ["before", "after"] as const) {
    test(`published after its connection dropped (an async handler), ${when} the resume: not sent to it`, async (t) => {
      const redis = await RedisServer.start();
      t.after(() => redis.kill());
      const store = new RedisStreamStore({ url: redis.url });
      t.after(() => store.close());
      const started = await startServer(t, { resume: { store } });
      const sockets: WebSocket[] = [];
      // "later <text>" publishes <text> from the socket when the test says (an async handler).
      const later: (() => void)[] = [];
      started.server.on("connection", (socket) => {
        sockets.push(socket);
        if (!socket.resumed) socket.subscribe("room");
        socket.onmessage = (event) => {
          const text = String(event.data);
          if (text.startsWith("later ")) later.push(() => socket.publish("room", text.slice(6)));
        };
      });
      const a = await rawResume(started.url, { type: "hello" });
      const b = await rawResume(started.url, { type: "hello" });
      await until(() => started.server.subscriberCount("room") === 2, 5000, "both subscriptions");
      await new Promise((resolve) => setTimeout(resolve, 100)); // the subscription reaches Redis
      a.socket.send("later own");
      await until(() => later.length === 1, 5000, "the app to take a's message");
      started.server.publish("room", "seen");
      await until(() => topicPayloads(a.messages).includes("seen"), 5000, "a to get a message");
      const seen = a.messages.find((m) => typeof m === "string" && m.charCodeAt(0) === 1) as string;
      const position = seen.slice(seen.indexOf(" ") + 1, seen.indexOf("\n"));
      const token = controls(a.messages)[0].token as string;
      sockets[0].terminate();
      await until(() => started.server.subscriberCount("room") === 1, 5000, "a's side to close");

      if (when === "before") {
        later[0]();
        await until(() => topicPayloads(b.messages).includes("own"), 5000, "b to get a's message");
      }
      const again = await rawResume(started.url, { type: "resume", token, positions: { room: position } });
      await until(() => controls(again.messages).some((c) => c.type === "resumed"), 5000, "the resume");
      if (when === "after") later[0]();
      started.server.publish("room", "marker");
      await until(() => topicPayloads(again.messages).includes("marker"), 5000, "the marker");
      await until(() => topicPayloads(b.messages).includes("marker"), 5000, "b to get the marker");
      assert.deepEqual(topicPayloads(b.messages), ["seen", "own", "marker"]);
      assert.deepEqual(topicPayloads(again.messages), ["marker"]);
      again.socket.close();
      b.socket.close();
    });
  }
});
