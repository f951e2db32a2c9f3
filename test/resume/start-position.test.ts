// A new subscription starts where its topic stands (docs/resume.md), and with a store whose lastPosition is
// async (the cluster's store, Redis) that position is known only some time after the subscription. Whatever
// the client receives of the topic, a resume from any of its positions must replay every message after it:
// the session's start must never come after a message the client may hold (a claim before the start is
// raised to it, and the messages between would be lost with no reset). Real sockets, raw wire messages.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StoredMessage } from "../../src/server/resume-store.js";
import { controls, rawResume, until, within } from "./helpers.js";
import { feedSession, SharedStore, SharedStoreView } from "./shared-store.js";

/** A view whose lastPosition answers only when let (with where the topic stands then, as a slow store would). */
class SlowStartView extends SharedStoreView {
  private readonly waiting: (() => void)[] = [];

  override lastPosition(topic: string): Promise<string> {
    return new Promise((resolve) => this.waiting.push(() => resolve(this.shared.memory.lastPosition(topic))));
  }

  get asked(): number {
    return this.waiting.length;
  }

  answer(): void {
    for (const answer of this.waiting.splice(0)) answer();
  }
}

/** The topic messages among raw messages: [position, payload]. */
function topicMessages(messages: (string | Buffer)[]): [string, string][] {
  const out: [string, string][] = [];
  for (const message of messages) {
    const text = typeof message === "string" ? message : message.toString("utf8");
    if (text.charCodeAt(0) !== 1) continue;
    const newline = text.indexOf("\n");
    out.push([text.slice(1, newline).split(" ")[1], text.slice(newline + 1)]);
  }
  return out;
}

describe("a new subscription's start position, given late by the store", () => {
  test("messages published before the store answers: a resume from any message the client got replays every later one", async (t) => {
    const shared = new SharedStore();
    const view = new SlowStartView(shared);
    const { started, first, token, end } = await feedSession(t, view);
    await until(() => view.asked === 1, 5000, "the store asked for the start");
    // Published while the start is unknown, then after it.
    for (const text of ["a", "b", "c"]) started.server.publish("feed", text);
    await until(() => shared.memory.lastPosition("feed") === "3", 5000, "the appends");
    await new Promise((resolve) => setTimeout(resolve, 50));
    view.answer();
    for (const text of ["d", "e"]) started.server.publish("feed", text);
    await until(() => topicMessages(first.messages).some(([, data]) => data === "e"), 5000, "message e");
    const got = topicMessages(first.messages);
    // Nothing after the start is missed live.
    assert.deepEqual(
      got.map(([, data]) => data).filter((data) => data >= "d"),
      ["d", "e"],
    );
    await end();

    // A cut right after the client's first message: the resume claims its position.
    const [claimed] = got[0];
    const resumed = await rawResume(started.url, { type: "resume", token, positions: { feed: claimed } });
    await until(() => controls(resumed.messages).some((c) => c.type === "resumed"), 5000, "the replay");
    const session = controls(resumed.messages).find((c) => c.type === "session");
    assert.equal(session?.resumed, true, JSON.stringify(controls(resumed.messages)));
    const after = (await shared.memory.readAfter("feed", claimed, 100))!.map(
      (m: StoredMessage) => m.position,
    );
    assert.deepEqual(
      topicMessages(resumed.messages).map(([position]) => position),
      after,
      `the client got ${JSON.stringify(got)} and resumed from ${claimed}`,
    );
    resumed.socket.close();
    await within(resumed.closed, 5000, "the close");
  });

  test("a session cut before the store answers resumes with every message after the start, none before", async (t) => {
    const shared = new SharedStore();
    const view = new SlowStartView(shared);
    const { started, sockets, first, token } = await feedSession(t, view);
    await until(() => view.asked === 1, 5000, "the store asked for the start");
    started.server.publish("feed", "x");
    await until(() => shared.memory.lastPosition("feed") === "1", 5000, "the append");
    sockets[0].terminate();
    await within(first.closed, 5000, "the close");
    // The record waits for the start (ResumeSession.settled): the store answers after the close.
    for (const text of ["y", "z"]) started.server.publish("feed", text);
    await until(() => shared.memory.lastPosition("feed") === "3", 5000, "the appends");
    view.answer();
    await until(() => started.server.clients.size === 0, 5000, "the server side to close");
    await new Promise((resolve) => setTimeout(resolve, 50));

    const resumed = await rawResume(started.url, { type: "resume", token, positions: {} });
    await until(() => controls(resumed.messages).some((c) => c.type === "resumed"), 5000, "the replay");
    // Its start is where the topic stood when the store answered: what came later is replayed.
    assert.deepEqual(topicMessages(first.messages), []);
    assert.deepEqual(topicMessages(resumed.messages), []);
    started.server.publish("feed", "live");
    await until(() => topicMessages(resumed.messages).length === 1, 5000, "the live message");
    assert.deepEqual(topicMessages(resumed.messages), [["4", "live"]]);
    resumed.socket.close();
    await within(resumed.closed, 5000, "the close");
  });
});
