// A resume connection is in server.clients before its hello has set up its session (docs/resume.md). An app
// that subscribes it then (e.g. every client to an announcement topic) must not make it a plain subscriber:
// a topic message without its envelope breaks the wire format, and one whose payload starts like an
// envelope ("\u00011 6\n…") would reach the client as another topic's message at a forged position. Such a
// subscription waits for the session and then is the session's (announced, enveloped, replayed on resume).
// The same holds while a resume is handled (its record taken, its replay read: a store may take its time):
// nothing of a subscription made then reaches the client before its session, and a resume that ends in a
// fresh session ("gap") keeps it.

import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import type { ResumableMessageEvent } from "../../src/resume/client.js";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { SessionRecord, StoredMessage } from "../../src/server/resume-store.js";
import { WebSocket } from "../../src/web/websocket.js";
import { allControls, resumeClient, startRelay, startServer, until, within } from "./helpers.js";

/** A memory store whose replay reads wait for `gate` once it is set, and then find a gap if `gap` is set. */
class GatedReplayStore extends MemoryResumeStore {
  gate: Promise<void> | null = null;
  gap = false;
  reading = false;
  /** Takes of a session record wait for this once it is set. */
  takeGate: Promise<void> | null = null;
  taking = false;

  override async takeSession(id: string): Promise<SessionRecord | undefined> {
    if (this.takeGate !== null) {
      this.taking = true;
      await this.takeGate;
    }
    return super.takeSession(id);
  }

  override async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    if (this.gate === null) return super.readAfter(topic, after, limit);
    this.reading = true;
    await this.gate;
    return this.gap ? null : super.readAfter(topic, after, limit);
  }
}

async function openWithoutHello(url: string) {
  const socket = new WebSocket(url, ["sockjet.resume.1"]);
  socket.binaryType = "arraybuffer";
  const messages: string[] = [];
  socket.onmessage = (event) =>
    messages.push(
      typeof event.data === "string" ? event.data : `bin:${Buffer.from(event.data).toString("latin1")}`,
    );
  await within(once(socket, "open"), 5000, "resume connection open");
  return { socket, messages };
}

describe("subscribing a resume connection before its hello", () => {
  test("delivers nothing before the session, then envelopes the topic's messages like any session topic", async (t) => {
    const started = await startServer(t, { resume: {} });
    const announced: string[] = [];
    started.server.on("connection", (socket) => announced.push(String(socket.topics)));
    const raw = await openWithoutHello(started.url);
    t.after(() => raw.socket.close());
    await until(() => started.server.clients.size === 1, 5000, "the connection in server.clients");
    const [pending] = started.server.clients;
    assert.equal(pending.subscribe("news"), true);
    assert.equal(pending.subscribe("news"), false, "already subscribed");
    assert.equal(pending.isSubscribed("news"), true);
    assert.deepEqual([...pending.topics], ["news"]);
    // Published while the hello is still to come: not this connection's (its session starts later), and
    // never on the wire without an envelope. One payload is shaped like an envelope of another topic.
    started.server.publish("news", "\u00011 6\nFORGED");
    started.server.publish("news", "before-hello");
    // A direct send waits for the session too, counted in bufferedAmount meanwhile.
    pending.send("early");
    pending.send(Buffer.from("early-binary"));
    assert.equal(pending.bufferedAmount, 5 + 12);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(raw.messages.length, 0, `nothing reaches a connection before its session: ${raw.messages}`);

    raw.socket.send(JSON.stringify({ type: "hello" }));
    await until(() => announced.length === 1, 5000, "the connection announced");
    assert.deepEqual(announced, ["news"], "subscribed when the app gets it");
    started.server.publish("news", "after-hello");
    await until(() => raw.messages.some((m) => m.endsWith("after-hello")), 5000, "the live message");
    const controls = allControls(raw.messages);
    assert.deepEqual(
      controls.map((c) => c.type),
      ["session", "topic"],
    );
    const topicId = controls[1].id as number;
    assert.equal(controls[1].topic, "news");
    // Every message is a control, an envelope of an announced topic, or a direct send after the session.
    const topicMessages = raw.messages.filter((m) => m.charCodeAt(0) === 1);
    assert.equal(topicMessages.length, 1);
    assert.match(topicMessages[0], new RegExp(`^\\u0001${topicId} \\d+\\nafter-hello$`));
    // The direct sends held until the session come right behind it (send order: nothing of the app's
    // before the session); the subscription is applied when the app gets the connection, so its number next.
    assert.deepEqual(raw.messages.slice(1, 3), ["\u0000early", "bin:\u0000early-binary"]);
    assert.equal(raw.messages[3].charCodeAt(0), 2, "the topic's number");
    assert.equal(raw.messages[4], topicMessages[0]);
  });

  test("a subscription that waits is the session's: a resume replays what the client missed there", async (t) => {
    const started = await startServer(t, { resume: {} });
    const raw = await openWithoutHello(started.url);
    await until(() => started.server.clients.size === 1, 5000, "the connection in server.clients");
    const [pending] = started.server.clients;
    pending.subscribe("news");
    pending.subscribe("gone");
    assert.equal(pending.unsubscribe("gone"), true, "a waiting subscription can be undone");
    raw.socket.send(JSON.stringify({ type: "hello" }));
    await until(() => allControls(raw.messages).some((c) => c.type === "topic"), 5000, "the topic announced");
    const session = allControls(raw.messages).find((c) => c.type === "session")!;
    started.server.publish("news", "one");
    await until(() => raw.messages.some((m) => m.endsWith("\none")), 5000, "the first message");
    const position = raw.messages
      .find((m) => m.endsWith("\none"))!
      .split("\n")[0]
      .split(" ")[1];
    raw.socket.close();
    await until(() => started.server.clients.size === 0, 5000, "the connection gone");
    started.server.publish("news", "two");
    started.server.publish("gone", "never");

    const back = new WebSocket(started.url, ["sockjet.resume.1"]);
    t.after(() => back.close());
    const messages: string[] = [];
    back.onmessage = (event) => messages.push(String(event.data));
    await within(once(back, "open"), 5000, "the resume connection open");
    back.send(JSON.stringify({ type: "resume", token: session.token, positions: { news: position } }));
    await until(() => allControls(messages).some((c) => c.type === "resumed"), 5000, "the replay");
    const resumed = allControls(messages).find((c) => c.type === "session")!;
    assert.equal(resumed.resumed, true);
    assert.deepEqual(resumed.topics, ["news"]);
    const replayed = messages.filter((m) => m.charCodeAt(0) === 1).map((m) => m.slice(m.indexOf("\n") + 1));
    assert.deepEqual(replayed, ["two"]);
  });
});

describe("subscribing a resume connection while its resume is handled", () => {
  for (const gap of [false, true])
    test(`waits for the session, nothing of it reaches the client before, and it is kept (${gap ? "the resume ends in a gap: a fresh session" : "resumed"})`, async (t) => {
      const store = new GatedReplayStore();
      const started = await startServer(t, { resume: { store } });
      // The first connection only: later ones have only what the resume and the app during it gave them.
      let connections = 0;
      started.server.on("connection", (socket) => {
        if (connections++ === 0) socket.subscribe("news");
      });
      const relay = await startRelay(t, started.url);
      const client = resumeClient(t, relay.url);
      const log: string[] = [];
      client.socket.addEventListener("session", () => log.push("session"));
      client.socket.addEventListener("reset", (event) => log.push(`reset ${event.reason}`));
      client.socket.addEventListener("message", (event) => {
        const message = event as ResumableMessageEvent;
        log.push(`${message.topic}:${message.data}`);
      });
      await until(
        () => started.server.subscriberCount("news") === 1 && client.sessions.length === 1,
        5000,
        "the first session",
      );
      started.server.publish("news", "n1");
      await until(() => log.includes("news:n1"), 5000, "n1");

      let release!: () => void;
      store.gate = new Promise((resolve) => (release = resolve));
      store.gap = gap;
      relay.cutBoth();
      await until(() => store.reading, 10_000, "the resume reading its replay");
      const [resuming] = started.server.clients;
      assert.equal(resuming.subscribe("alerts"), true);
      assert.equal(resuming.subscribe("alerts"), false, "waiting already");
      assert.equal(resuming.subscribe("news"), false, "restored already");
      assert.equal(resuming.isSubscribed("alerts"), true);
      // Published while the subscription waits: before the session, so not this session's. A direct send
      // waits for the session too (and counts in bufferedAmount meanwhile).
      started.server.publish("alerts", "a1");
      const bufferedBefore = resuming.bufferedAmount;
      resuming.send("d1");
      assert.equal(resuming.bufferedAmount, bufferedBefore + 2);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.deepEqual(log, ["session", "news:n1"], "nothing before the session");
      store.gate = null;
      release();
      await until(() => log.filter((entry) => entry === "session").length === 2, 5000, "the second session");
      assert.equal(resuming.isSubscribed("alerts"), true, "kept");
      // The app's subscribe("news") during the resume is kept too, even when the gap dropped the restored one.
      assert.equal(resuming.isSubscribed("news"), true, "news kept");
      started.server.publish("alerts", "a2");
      await until(() => log.includes("alerts:a2"), 5000, "a2");
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.deepEqual(log, [
        "session",
        "news:n1",
        ...(gap ? ["reset gap"] : []),
        "session",
        "null:d1",
        "alerts:a2",
      ]);
    });
});

describe("unsubscribing a resume connection while its resume takes its record", () => {
  test("the topic is not restored: none of its messages reach the client", async (t) => {
    const store = new GatedReplayStore();
    const started = await startServer(t, { resume: { store } });
    started.server.on("connection", (socket) => {
      if (!socket.resumed) socket.subscribe("news");
    });
    const relay = await startRelay(t, started.url);
    const client = resumeClient(t, relay.url);
    await until(
      () => started.server.subscriberCount("news") === 1 && client.sessions.length === 1,
      5000,
      "session",
    );
    let release!: () => void;
    store.takeGate = new Promise((resolve) => (release = resolve));
    relay.cutBoth();
    await until(() => store.taking, 10_000, "the resume taking its record");
    const [resuming] = started.server.clients;
    assert.equal(resuming.unsubscribe("news"), false, "not subscribed (yet)");
    assert.equal(resuming.isSubscribed("news"), false);
    started.server.publish("news", "after-unsubscribe");
    store.takeGate = null;
    release();
    await until(() => client.sessions.length === 2, 5000, "the second session");
    started.server.publish("news", "later");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(resuming.isSubscribed("news"), false);
    assert.deepEqual(resuming.topics, []);
    assert.deepEqual(client.received, []);
  });
});

describe("direct sends held before the session", () => {
  test("past maxBufferedBytes beyond the largest, fail the connection as a slow consumer (1013 on resume)", async (t) => {
    const started = await startServer(t, { resume: {}, maxBufferedBytes: 64 * 1024 });
    const raw = await openWithoutHello(started.url);
    const closed = new Promise<CloseEvent>((resolve) => raw.socket.addEventListener("close", resolve));
    await until(() => started.server.clients.size === 1, 5000, "the connection in server.clients");
    const [pending] = started.server.clients;
    pending.send(Buffer.alloc(40 * 1024));
    pending.send(Buffer.alloc(40 * 1024));
    assert.equal(pending.readyState, 1, "within the limit: 40 KiB beyond the largest");
    pending.send(Buffer.alloc(40 * 1024));
    const event = await within(closed, 5000, "the close");
    assert.equal(event.code, 1013);
    assert.match(
      event.reason,
      /slow consumer: over 65536 bytes waiting beyond one message \(held until its session\)/,
    );
    assert.equal(raw.messages.length, 0, "none of it sent");
  });
});
