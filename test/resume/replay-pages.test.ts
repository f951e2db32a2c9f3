// A replay is read from the store a page at a time, and the next page is asked for only once the last one is
// written (paced by the client's reading): a resuming connection holds one page of its replay, not all of it.
// A page the store no longer holds by then closes the connection (1013), and the next resume is told `gap`.
// Real sockets, through a relay that can stop reading.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { controls, rawResume, startRelay, type startServer, until, within } from "./helpers.js";
import { feedSession, SharedStore, SharedStoreView } from "./shared-store.js";

/** A view that counts the messages its reads have handed out. */
class CountingView extends SharedStoreView {
  messagesRead = 0;
  bytesRead = 0;

  override async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    const read = await super.readAfter(topic, after, limit);
    this.messagesRead += read?.length ?? 0;
    for (const message of read ?? []) this.bytesRead += message.payload.length;
    return read;
  }
}

/** A server on a counting view, and a session subscribed to "feed" that got one message and was cut. */
async function cutSession(t: Parameters<typeof startServer>[0]) {
  const shared = new SharedStore();
  const view = new CountingView(shared);
  const { started, first, token, end } = await feedSession(t, view);
  started.server.publish("feed", "one");
  await until(() => first.messages.some((m) => String(m).charCodeAt(0) === 1), 5000, "the first message");
  await end();
  return { shared, view, started, token };
}

const topicMessages = (messages: (string | Buffer)[]) =>
  messages.map(String).filter((text) => text.charCodeAt(0) === 1);

describe("a replay read page by page", () => {
  test("a client that does not read holds the server to a page or so of its replay, and then gets all of it", async (t) => {
    const { view, started, token } = await cutSession(t);
    const missed = 4000;
    const payload = "x".repeat(8 * 1024);
    for (let i = 0; i < missed; i++) started.server.publish("feed", `${i} ${payload}`);
    await until(
      () => view.messagesRead === 0 && started.server.pubsubStats.published >= missed,
      5000,
      "publishes",
    );
    const relay = await startRelay(t, started.url);
    relay.stallNewConnections(true);
    const resumed = await rawResume(relay.url, { type: "resume", token, positions: { feed: "1" } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // 32 MiB missed; what is read is what the sockets' buffers took, and a page (100 messages).
    const readWhileStalled = view.messagesRead;
    assert.ok(
      readWhileStalled < missed / 2,
      `${readWhileStalled} of ${missed} messages read for a stalled client`,
    );
    relay.resumeReading();
    await until(() => topicMessages(resumed.messages).length === missed, 30_000, "the whole replay");
    const words = topicMessages(resumed.messages).map(
      (text) => text.slice(text.indexOf("\n") + 1).split(" ")[0],
    );
    assert.deepEqual(
      words,
      Array.from({ length: missed }, (_, i) => String(i)),
    );
    assert.ok(controls(resumed.messages).some((c) => c.type === "resumed"));
    resumed.socket.close();
    await within(resumed.closed, 5000, "the close");
  });

  test("a session of many topics of large messages: a stalled client holds the server to what its socket took and the read-ahead", async (t) => {
    const shared = new SharedStore();
    const view = new CountingView(shared);
    const topics = Array.from({ length: 20 }, (_, i) => `t${i}`);
    const { started, token, end } = await feedSession(t, view, topics);
    await end();
    // 20 topics × 200 messages of 8 KiB: 32 MiB missed (16 MiB in first pages of 100, as once read).
    const payload = "x".repeat(8 * 1024);
    for (const topic of topics)
      for (let i = 0; i < 200; i++) started.server.publish(topic, `${i} ${payload}`);
    const relay = await startRelay(t, started.url);
    relay.stallNewConnections(true);
    const resumed = await rawResume(relay.url, { type: "resume", token, positions: {} });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // What the sockets' buffers took (~8 MiB here, loopback autotuning) and 256 KiB; read by whole pages of
    // 100 before the head and on, 22.7 MiB.
    const mib = view.bytesRead / 1024 / 1024;
    assert.ok(mib < 14, `${mib.toFixed(1)} MiB read for a stalled client`);
    relay.resumeReading();
    await until(
      () => controls(resumed.messages).some((c) => c.type === "resumed"),
      30_000,
      "the whole replay",
    );
    assert.equal(resumed.messages.filter((m) => String(m).charCodeAt(0) === 1).length, 20 * 200);
    resumed.socket.close();
    await within(resumed.closed, 5000, "the close");
  });

  test("a page trimmed from the store before it is read: 1013, and the next resume is told gap", async (t) => {
    const { shared, started, token } = await cutSession(t);
    const payload = "x".repeat(8 * 1024);
    for (let i = 0; i < 2000; i++) started.server.publish("feed", `${i} ${payload}`);
    await until(() => shared.memory.lastPosition("feed") === "2001", 5000, "the publishes");
    const relay = await startRelay(t, started.url);
    relay.stallNewConnections(true);
    const resumed = await rawResume(relay.url, { type: "resume", token, positions: { feed: "1" } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The store's ring (5,000) turns over while the client does not read.
    for (let i = 0; i < 5000; i++) started.server.publish("feed", "later");
    await until(() => shared.memory.lastPosition("feed") === "7001", 5000, "the later publishes");
    relay.resumeReading();
    const closed = await within(resumed.closed, 30_000, "the close");
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /no longer kept/);
    const next = controls(resumed.messages).find((c) => c.type === "session")!.token as string;
    const again = await rawResume(started.url, { type: "resume", token: next, positions: {} });
    await until(() => controls(again.messages).length > 0, 5000, "the answer");
    assert.deepEqual(controls(again.messages)[0], { type: "reset", reason: "gap" });
    again.socket.close();
    await within(again.closed, 5000, "the close");
  });
});
