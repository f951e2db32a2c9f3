// A resume connection that does not keep up (over maxBufferedBytes) is closed — under slowConsumer "pause"
// rather than have topic messages dropped, under "close" as any slow consumer (docs/resume.md, failure
// table) — with 1013 (try again later), not 1008: the client comes back (1008 is one of its
// stopCloseCodes), resumes and gets them all. Its replay is paced by its reading (Connection.roomFor), so
// one resume carries all it missed, however far past maxBufferedBytes.

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { type RecordingClient, resumeClient, startRelay, startServer, until } from "./helpers.js";

const MESSAGES = 300;
const big = "x".repeat(64 * 1024);

function numbersReceived(client: RecordingClient): number[] {
  return client.received.filter((m) => m !== "t:after").map((m) => Number(m.slice(2, m.indexOf(" "))));
}

function count(events: string[], type: string): number {
  return events.filter((event) => event === type).length;
}

/**
 * A resume server (maxBufferedBytes 64 KiB) and a client on a relay, subscribed to "t", that stops reading
 * while MESSAGES × 64 KiB are published there (its connection is closed for it; it has not seen the Close).
 */
async function missedWhileNotReading(t: TestContext, slowConsumer: "pause" | "close") {
  const started = await startServer(t, { resume: {}, slowConsumer, maxBufferedBytes: 64 * 1024 });
  started.server.on("connection", (socket) => {
    if (!socket.resumed) socket.subscribe("t");
  });
  const relay = await startRelay(t, started.url);
  const client = resumeClient(t, relay.url);
  await until(() => started.server.subscriberCount("t") === 1, 5000, "the subscription");
  relay.pauseReading();
  for (let i = 0; i < MESSAGES; i++) {
    started.server.publish("t", `${i} ${big}`);
    if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { started, relay, client };
}

for (const slowConsumer of ["pause", "close"] as const) {
  describe(`a slow resume connection under slowConsumer '${slowConsumer}'`, () => {
    test("is closed instead of losing messages: one resume brings every one, in order, once", async (t) => {
      const { started, relay, client } = await missedWhileNotReading(t, slowConsumer);
      started.server.publish("t", "after");
      relay.resumeReading();
      await until(() => client.received.includes("t:after"), 20_000, "the last message");
      assert.deepEqual(
        numbersReceived(client),
        Array.from({ length: MESSAGES }, (_, i) => i),
      );
      assert.equal(client.received.at(-1), "t:after");
      assert.deepEqual(client.resets, []);
      // The replay, ~19 MB over a 64 KiB limit, waited for the client to read instead of closing again.
      assert.equal(count(client.events, "disconnect"), 1, client.events.join(" "));
      assert.equal(count(client.events, "resumed"), 1, client.events.join(" "));
      assert.ok(!client.events.includes("close"), "the client came back: it did not stop");
    });
  });
}

describe("live messages held behind a replay the client does not read", () => {
  test("past maxBufferedBytes close the connection (1013): the next resume brings them, none lost", async (t) => {
    const { started, relay, client } = await missedWhileNotReading(t, "pause");
    // The client's next connection reads nothing after its 101: its replay fills the buffers and waits.
    relay.stallNewConnections(true);
    relay.resumeReading();
    await until(() => count(client.events, "disconnect") === 1, 10_000, "the first close");
    await until(() => relay.connections() === 1, 10_000, "the resume connection");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Held while the replay waits: two of them pass the 64 KiB the session may hold.
    for (let i = MESSAGES; i < MESSAGES + 2; i++) started.server.publish("t", `${i} ${big}`);
    started.server.publish("t", "after");
    relay.stallNewConnections(false);
    relay.resumeReading();
    await until(() => client.received.includes("t:after"), 20_000, "the last message");
    assert.deepEqual(
      numbersReceived(client),
      Array.from({ length: MESSAGES + 2 }, (_, i) => i),
    );
    assert.deepEqual(client.resets, []);
    assert.equal(count(client.events, "disconnect"), 2, client.events.join(" "));
    assert.ok(!client.events.includes("close"));
  });
});
