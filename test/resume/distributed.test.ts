// Resume with a store that distributes (as the Redis Streams store does): every server delivers each publish
// when it comes back from the store, so a client cut off from one server resumes on another and gets every
// message published on either, in order, once; a socket.publish() does not come back to its publisher.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { resumeClient, startRelay, startServer, until } from "./helpers.js";
import { SharedStore, SharedStoreView } from "./shared-store.js";

/** A view whose live feed can fall behind the store (as the Redis store's does while its own appends settle). */
class LaggingView extends SharedStoreView {
  private queue: [string, StoredMessage][] | null = null;
  private handlerLagged: (topic: string, message: StoredMessage) => void = () => {};

  override onAppended(handler: (topic: string, message: StoredMessage) => void): void {
    this.handlerLagged = handler;
    super.onAppended((topic, message) => {
      if (this.queue !== null) this.queue.push([topic, message]);
      else handler(topic, message);
    });
  }

  pause(): void {
    this.queue = [];
  }

  release(): void {
    const queue = this.queue ?? [];
    this.queue = null;
    for (const [topic, message] of queue) this.handlerLagged(topic, message);
  }
}

describe("resume with a distributing store", () => {
  test("a client cut off from server A resumes on server B with every message published on either, in order, once", async (t) => {
    const shared = new SharedStore();
    const a = await startServer(t, { resume: { store: shared.view() } });
    const b = await startServer(t, { resume: { store: shared.view() } });
    for (const started of [a, b])
      started.server.on("connection", (socket) => {
        if (!socket.resumed) socket.subscribe("feed");
      });
    const relay = await startRelay(t, a.url);
    const client = resumeClient(t, relay.url);
    await until(() => a.server.subscriberCount("feed") === 1, 5000, "the subscription on A");
    a.server.publish("feed", "first");
    await until(() => client.received.length === 1, 5000, "the first message");

    relay.retarget(b.url);
    relay.cutClients();
    await until(() => client.events.includes("disconnect"), 5000, "the drop");
    for (let i = 0; i < 500; i++) (i % 2 === 0 ? a : b).server.publish("feed", `m${i}`);
    await until(() => client.events.includes("resumed"), 10_000, "the resume on B");
    b.server.publish("feed", "live");
    await until(() => client.received.length === 502, 10_000, "every message");
    assert.deepEqual(client.received, [
      "feed:first",
      ...Array.from({ length: 500 }, (_, i) => `feed:m${i}`),
      "feed:live",
    ]);
    assert.deepEqual(client.sessions, [false, true]);
    const [onB] = b.server.clients;
    assert.equal(onB.resumed, true);
    assert.deepEqual(onB.topics, ["feed"]);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  test("socket.publish() reaches the other subscribers, on every server, but not its publisher", async (t) => {
    const shared = new SharedStore();
    const a = await startServer(t, { resume: { store: shared.view() } });
    const b = await startServer(t, { resume: { store: shared.view() } });
    for (const started of [a, b])
      started.server.on("connection", (socket) => {
        socket.subscribe("room");
        socket.onmessage = (event) => socket.publish("room", event.data as string);
      });
    const publisher = resumeClient(t, a.url);
    const neighbour = resumeClient(t, a.url);
    const remote = resumeClient(t, b.url);
    await until(
      () => a.server.subscriberCount("room") === 2 && b.server.subscriberCount("room") === 1,
      5000,
      "the subscriptions",
    );
    for (let i = 0; i < 20; i++) publisher.socket.send(`line${i}`);
    const lines = Array.from({ length: 20 }, (_, i) => `room:line${i}`);
    await until(() => neighbour.received.length === 20 && remote.received.length === 20, 5000, "the lines");
    assert.deepEqual(neighbour.received, lines);
    assert.deepEqual(remote.received, lines);
    // The publisher gets the server's own publish that follows, and nothing before it.
    a.server.publish("room", "end");
    await until(() => publisher.received.length > 0, 5000, "the end");
    assert.deepEqual(publisher.received, ["room:end"]);
  });

  test("a replay read ahead of the server's live feed: the live messages it carried are not sent again", async (t) => {
    const shared = new SharedStore();
    const lagging = new LaggingView(shared);
    const a = await startServer(t, { resume: { store: shared.view() } });
    const b = await startServer(t, { resume: { store: lagging } });
    for (const started of [a, b])
      started.server.on("connection", (socket) => {
        if (!socket.resumed) socket.subscribe("feed");
      });
    // B follows the topic already (a subscriber of its own), so its feed carries what A publishes.
    const neighbour = resumeClient(t, b.url);
    const relay = await startRelay(t, a.url);
    const client = resumeClient(t, relay.url);
    await until(
      () => a.server.subscriberCount("feed") === 1 && b.server.subscriberCount("feed") === 1,
      5000,
      "the subscriptions",
    );
    a.server.publish("feed", "first");
    await until(() => client.received.length === 1, 5000, "the first message");

    relay.retarget(b.url);
    relay.cutClients();
    await until(() => client.events.includes("disconnect"), 5000, "the drop");
    lagging.pause();
    for (let i = 0; i < 100; i++) a.server.publish("feed", `m${i}`);
    await until(() => client.events.includes("resumed"), 10_000, "the resume on B");
    // B's feed catches up only now, after the replay has written the 100 messages.
    lagging.release();
    b.server.publish("feed", "live");
    await until(() => client.received.includes("feed:live"), 10_000, "the live message");
    await until(() => neighbour.received.includes("feed:live"), 10_000, "the live message at the neighbour");
    const expected = Array.from({ length: 100 }, (_, i) => `feed:m${i}`);
    assert.deepEqual(client.received, ["feed:first", ...expected, "feed:live"]);
    assert.deepEqual(neighbour.received, ["feed:first", ...expected, "feed:live"]);
    assert.deepEqual(client.sessions, [false, true]);
  });
});
