// Resumable sessions, docs/resume.md: a client whose connection dies while topic messages are published gets
// every one of them after it reconnects, in order, once, then the live ones; with permessage-deflate on and
// off, over one and two topics; live messages published while its replay is read are neither lost nor
// doubled; its subscriptions come back (socket.resumed), and connections without resume are unaffected.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { StoredMessage } from "../../src/server/resume-store.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { resumeClient, startRelay, startServer, until } from "./helpers.js";

const MISSED = 1000;

for (const perMessageDeflate of [false, true]) {
  describe(`resume with permessage-deflate ${perMessageDeflate ? "on" : "off"}`, () => {
    test("1,000 messages published while the client's socket is dead arrive after the reconnect, in order, once", async (t) => {
      const started = await startServer(t, { resume: {}, perMessageDeflate });
      const connections: WebSocket[] = [];
      started.server.on("connection", (socket) => {
        connections.push(socket);
        if (!socket.resumed) socket.subscribe("news");
      });
      const relay = await startRelay(t, started.url);
      const client = resumeClient(t, relay.url, { perMessageDeflate });
      await until(
        () => client.sessions.length === 1 && started.server.subscriberCount("news") === 1,
        5000,
        "first session",
      );
      started.server.publish("news", "before");
      await until(() => client.received.length === 1, 5000, "the message before the cut");

      // The client's side dies; the server's side still looks open and keeps writing into the void.
      relay.cutClients();
      await until(() => client.events.includes("disconnect"), 5000, "the client to notice");
      for (let i = 0; i < MISSED; i++) started.server.publish("news", `m${i}`);

      await until(() => client.events.includes("resumed"), 10_000, "the resume");
      started.server.publish("news", "after");
      await until(() => client.received.length === MISSED + 2, 10_000, "every message");
      const expected = [
        "news:before",
        ...Array.from({ length: MISSED }, (_, i) => `news:m${i}`),
        "news:after",
      ];
      assert.deepEqual(client.received, expected);
      assert.deepEqual(client.sessions, [false, true]);
      assert.deepEqual(client.resets, []);
      // The resumed connection had its subscription back, and the app did not subscribe it again.
      const resumed = connections[connections.length - 1];
      assert.equal(resumed.resumed, true);
      assert.deepEqual(resumed.topics, ["news"]);
      // The old connection (still open on this side) was dropped when its session moved on.
      await until(() => connections[0].readyState === 3, 5000, "the stale connection to close");
      assert.equal(started.server.subscriberCount("news"), 1);
      assert.deepEqual(started.errors, []);
    });
  });
}

describe("resume over two topics", () => {
  test("each topic's missed messages are replayed in its own order, binary and text alike", async (t) => {
    const started = await startServer(t, { resume: {} });
    started.server.on("connection", (socket) => {
      if (socket.resumed) return;
      socket.subscribe("a");
      socket.subscribe("b");
    });
    const relay = await startRelay(t, started.url);
    const client = resumeClient(t, relay.url);
    await until(
      () => started.server.subscriberCount("b") === 1 && client.sessions.length === 1,
      5000,
      "subscriptions and the client's session",
    );
    relay.cutBoth();
    await until(() => client.events.includes("disconnect"), 5000, "the drop");
    for (let i = 0; i < 100; i++) {
      started.server.publish("a", `a${i}`);
      started.server.publish("b", Buffer.from([i]));
    }
    await until(() => client.received.length === 200, 10_000, "every message");
    const a = client.received.filter((m) => m.startsWith("a:"));
    const b = client.received.filter((m) => m.startsWith("b:"));
    assert.deepEqual(
      a,
      Array.from({ length: 100 }, (_, i) => `a:a${i}`),
    );
    assert.deepEqual(
      b,
      Array.from({ length: 100 }, (_, i) => `b:${Buffer.from([i]).toString("hex")}`),
    );
    assert.deepEqual(client.sessions, [false, true]);
  });

  test("a topic the client never got a message on is replayed from where the session subscribed it", async (t) => {
    const started = await startServer(t, { resume: {} });
    started.server.publish("quiet", "published before the subscription: not for this session");
    started.server.on("connection", (socket) => {
      if (!socket.resumed) socket.subscribe("quiet");
    });
    const relay = await startRelay(t, started.url);
    const client = resumeClient(t, relay.url);
    await until(
      () => started.server.subscriberCount("quiet") === 1 && client.sessions.length === 1,
      5000,
      "subscription and the client's session",
    );
    relay.cutBoth();
    await until(() => client.events.includes("disconnect"), 5000, "the drop");
    started.server.publish("quiet", "missed");
    await until(() => client.events.includes("resumed"), 10_000, "the resume");
    await until(() => client.received.length >= 1, 5000, "the missed message");
    assert.deepEqual(client.received, ["quiet:missed"]);
  });
});

/** A memory store whose replay reads wait until released: live publishes happen meanwhile. */
class SlowReplayStore extends MemoryResumeStore {
  gate: Promise<void> | null = null;
  reading = false;

  /** `waitFirst`: the wait comes before the read, so what is published meanwhile is in the replay too. */
  constructor(private readonly waitFirst = false) {
    super();
  }

  override async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    if (this.waitFirst) {
      this.reading = true;
      await this.gate;
      return super.readAfter(topic, after, limit);
    }
    const read = await super.readAfter(topic, after, limit);
    this.reading = true;
    await this.gate;
    return read;
  }
}

describe("live messages during the replay", () => {
  for (const waitFirst of [false, true])
    test(`are written after the replay, none lost and none doubled (${waitFirst ? "published before the read: in the replay too" : "published after the read"})`, async (t) => {
      const store = new SlowReplayStore(waitFirst);
      const started = await startServer(t, { resume: { store } });
      started.server.on("connection", (socket) => {
        if (!socket.resumed) socket.subscribe("feed");
      });
      const relay = await startRelay(t, started.url);
      const client = resumeClient(t, relay.url);
      await until(
        () => started.server.subscriberCount("feed") === 1 && client.sessions.length === 1,
        5000,
        "subscription and the client's session",
      );
      // The replay's read waits from the start: nothing depends on how fast the client comes back.
      let release!: () => void;
      store.gate = new Promise((resolve) => (release = resolve));
      relay.cutBoth();
      await until(() => client.events.includes("disconnect"), 5000, "the drop");
      for (let i = 0; i < 10; i++) started.server.publish("feed", `missed${i}`);
      // The replay has been read (missed0..9) and waits; these are published now, after that read.
      await until(() => store.reading, 10_000, "the replay read");
      for (let i = 0; i < 10; i++) started.server.publish("feed", `live${i}`);
      release();
      await until(() => client.received.length === 20, 10_000, "every message");
      started.server.publish("feed", "later");
      // Past the seam: the session takes the shared envelope as plain subscribers do (the fast path).
      started.server.publish("feed", "later2");
      await until(() => client.received.length >= 22, 5000, "the later messages");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(client.received, [
        ...Array.from({ length: 10 }, (_, i) => `feed:missed${i}`),
        ...Array.from({ length: 10 }, (_, i) => `feed:live${i}`),
        "feed:later",
        "feed:later2",
      ]);
    });
});

describe("a store that fails to read the replay", () => {
  test("1011 and the session kept: once the store reads again the client resumes, nothing missed; the server's 'error' has code SJ_ERR_RESUME_STORE", async (t) => {
    class FailingReadStore extends MemoryResumeStore {
      failures = 0;
      override async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
        if (this.failures > 0) {
          this.failures--;
          throw new Error("disk on fire");
        }
        return super.readAfter(topic, after, limit);
      }
    }
    const store = new FailingReadStore();
    const started = await startServer(t, { resume: { store } });
    const errors: (Error & { code?: string })[] = [];
    started.server.on("error", (error) => errors.push(error));
    started.server.on("connection", (socket) => {
      if (!socket.resumed) socket.subscribe("feed");
    });
    const relay = await startRelay(t, started.url);
    const client = resumeClient(t, relay.url);
    await until(
      () => started.server.subscriberCount("feed") === 1 && client.sessions.length === 1,
      5000,
      "the subscription and the session's token",
    );
    // The store fails the next two reads (the first resume's, and its retry's), then reads again.
    store.failures = 2;
    relay.cutBoth();
    await until(() => started.server.subscriberCount("feed") === 0, 5000, "the cut");
    started.server.publish("feed", "missed");
    await until(() => client.events.includes("resumed"), 10_000, "the resume");
    assert.deepEqual(client.resets, []);
    assert.deepEqual(client.received, ["feed:missed"]);
    assert.deepEqual(client.sessions, [false, true]);
    assert.ok(
      client.disconnects.some((close) => close.startsWith("1011 sockjet.resume: the session store failed")),
      client.disconnects.join(", "),
    );
    assert.ok(errors.length >= 1);
    for (const error of errors) {
      assert.equal(error.code, "SJ_ERR_RESUME_STORE");
      assert.match(error.message, /Could not read a replay: disk on fire/);
    }
  });
});

describe("fan-out with resume", () => {
  test("a publish is framed once for plain subscribers and once for every resume subscriber", async (t) => {
    const started = await startServer(t, { resume: {} });
    started.server.on("connection", (socket) => socket.subscribe("t"));
    const clients = Array.from({ length: 5 }, () => resumeClient(t, started.url));
    await until(() => started.server.subscriberCount("t") === 5, 5000, "resume subscribers");
    const plain = new (await import("../../src/web/websocket.js")).WebSocket(started.url);
    const plainMessages: string[] = [];
    plain.onmessage = (event) => plainMessages.push(event.data as string);
    t.after(() => plain.close());
    await until(() => started.server.subscriberCount("t") === 6, 5000, "the plain subscriber");
    const before = started.server.pubsubStats.framesEncoded;
    started.server.publish("t", "x");
    assert.equal(started.server.pubsubStats.framesEncoded - before, 2);
    await until(
      () => plainMessages.length === 1 && clients.every((c) => c.received.length === 1),
      5000,
      "delivery",
    );
    // A connection that did not offer sockjet.resume.1 gets the app's bytes, untouched.
    assert.deepEqual(plainMessages, ["x"]);
    assert.equal(plain.protocol, "");
    for (const c of clients) assert.deepEqual(c.received, ["t:x"]);
  });

  test("direct sends reach the resume client as plain messages, text and binary", async (t) => {
    const started = await startServer(t, { resume: {} });
    started.server.on("connection", (socket) => {
      socket.send("hello");
      socket.send(new Uint8Array([1, 2, 3]));
      socket.send(new Blob(["blob"]));
      socket.onmessage = (event) => socket.send(`echo ${event.data}`);
    });
    const client = resumeClient(t, started.url);
    client.socket.send("ping");
    await until(() => client.received.length === 4, 5000, "the direct messages");
    assert.deepEqual(client.received, ["hello", "010203", Buffer.from("blob").toString("hex"), "echo ping"]);
  });
});
