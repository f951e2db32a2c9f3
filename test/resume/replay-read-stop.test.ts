// A replay is read from the store page by page (maxMessagesPerTopic each): once the resuming connection has
// closed, no further page is asked for (its client resumes again, from what it got). Real sockets.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { rawResume, until, within } from "./helpers.js";
import { feedSession, SharedStore, SharedStoreView } from "./shared-store.js";

/** A view whose reads take a while, and that counts them. */
class SlowReadView extends SharedStoreView {
  reads = 0;

  override async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    this.reads++;
    await new Promise((resolve) => setTimeout(resolve, 100));
    return super.readAfter(topic, after, limit);
  }
}

describe("reading a replay", () => {
  test("stops at the next page once the resuming connection has closed", async (t) => {
    const shared = new SharedStore();
    const view = new SlowReadView(shared);
    const { started, token, end } = await feedSession(t, view);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await end();
    // Five pages of at most 1,000 (the server's page: resume.maxMessagesPerTopic's default; the store keeps 5,000).
    for (let i = 0; i < 4500; i++) started.server.publish("feed", `m${i}`);
    await until(() => shared.memory.lastPosition("feed") === "4500", 10_000, "the appends");

    const resumed = await rawResume(started.url, { type: "resume", token, positions: {} });
    await until(() => view.reads === 1, 5000, "the first page asked for");
    resumed.socket.close();
    await within(resumed.closed, 5000, "the close");
    // Five pages would take 500 ms.
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.ok(view.reads <= 2, `${view.reads} pages read for a closed connection`);
  });
});
