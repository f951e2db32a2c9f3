// Where a resumed topic's replay starts (docs/resume.md, "Guarantees"): at the client's claimed position, but
// never before where the session had started the topic (its subscription): a client, honest or not, gets no
// message published before it subscribed or while it was unsubscribed. And where live delivery takes over:
// after the last replayed position, even when an async store's append settles after the replay.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { ResumeStore } from "../../src/server/resume-store.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { controls, rawResume, resumeClient, startServer, until, within } from "./helpers.js";

/** The payloads of the topic messages among raw messages. */
function topicPayloads(messages: (string | Buffer)[]): string[] {
  return messages
    .filter((m): m is string => typeof m === "string" && m.charCodeAt(0) === 1)
    .map((m) => m.slice(m.indexOf("\n") + 1));
}

describe("a resume's start position", () => {
  test("a claimed position before the session's subscription replays nothing from before it", async (t) => {
    const started = await startServer(t, { resume: {} });
    for (let i = 1; i <= 5; i++) started.server.publish("room", `before-${i}`);
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) socket.subscribe("room");
    });
    const first = await rawResume(started.url, { type: "hello" });
    await until(() => started.server.subscriberCount("room") === 1, 5000, "the subscription");
    started.server.publish("room", "after-6");
    await until(() => topicPayloads(first.messages).length === 1, 5000, "the live message");
    const token = controls(first.messages)[0].token as string;
    sockets[0].terminate();
    await within(first.closed, 5000, "the close");
    await until(() => started.server.clients.size === 0, 5000, "the server side to close");

    // A hostile hello: "" claims the client saw nothing of the topic, ever.
    const second = await rawResume(started.url, { type: "resume", token, positions: { room: "" } });
    await until(() => controls(second.messages).some((c) => c.type === "resumed"), 5000, "the resume");
    assert.deepEqual(topicPayloads(second.messages), ["after-6"]);
    second.socket.close();
  });

  test("messages published while the app had unsubscribed the client are not replayed", async (t) => {
    const started = await startServer(t, { resume: {} });
    let current: WebSocket | null = null;
    started.server.on("connection", (socket) => {
      current = socket;
      if (!socket.resumed) socket.subscribe("a");
      socket.onmessage = (event) => {
        const [op, topic] = String(event.data).split(" ");
        if (op === "sub") socket.subscribe(topic);
        else socket.unsubscribe(topic);
        socket.send(`ok ${event.data}`);
      };
    });
    const client = resumeClient(t, started.url);
    await until(() => started.server.subscriberCount("a") === 1, 5000, "the subscription");
    for (let i = 1; i <= 3; i++) started.server.publish("a", `${i}`);
    await until(() => client.received.length === 3, 5000, "the first messages");
    client.socket.send("unsub a");
    await until(() => client.received.includes("ok unsub a"), 5000, "the unsubscribe");
    started.server.publish("a", "while-unsubscribed-4");
    started.server.publish("a", "while-unsubscribed-5");
    client.socket.send("sub a");
    await until(() => client.received.includes("ok sub a"), 5000, "the subscribe");
    (current as WebSocket | null)!.terminate();
    await until(() => client.events.includes("disconnect"), 5000, "the drop");
    started.server.publish("a", "6");
    await until(() => client.events.includes("resumed"), 5000, "the resume");
    await until(() => client.received.includes("a:6"), 5000, "the missed message");
    assert.deepEqual(client.received, ["a:1", "a:2", "a:3", "ok unsub a", "ok sub a", "a:6"]);
    assert.deepEqual(client.resets, []);
  });
});

describe("after the replay", () => {
  test("an async store's message that the replay carried is not delivered again when its append settles", async (t) => {
    // Stored at once, acknowledged when the test says so (a round trip that ends after the replay).
    const inner = new MemoryResumeStore();
    const pending: (() => void)[] = [];
    const store: ResumeStore = {
      distributes: false,
      append(topic, payload, isText, publisher) {
        const position = inner.append(topic, payload, isText, publisher);
        return new Promise<string>((resolve) => pending.push(() => resolve(position)));
      },
      readAfter: (topic, after, limit) => inner.readAfter(topic, after, limit),
      lastPosition: (topic) => inner.lastPosition(topic),
      saveSession: (id, record, ttlMs) => inner.saveSession(id, record, ttlMs),
      takeSession: (id) => inner.takeSession(id),
      close: () => inner.close(),
    };
    const started = await startServer(t, { resume: { store } });
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) socket.subscribe("t");
    });
    const first = await rawResume(started.url, { type: "hello" });
    await until(() => started.server.subscriberCount("t") === 1, 5000, "the subscription");
    started.server.publish("t", "m1");
    for (const settle of pending.splice(0)) settle();
    await until(() => topicPayloads(first.messages).length === 1, 5000, "m1");
    const token = controls(first.messages)[0].token as string;
    sockets[0].terminate();
    await within(first.closed, 5000, "the close");
    await until(() => started.server.subscriberCount("t") === 0, 5000, "the server side to close");

    started.server.publish("t", "m2"); // stored; its append settles only after the resume
    const second = await rawResume(started.url, { type: "resume", token, positions: { t: "1" } });
    await until(() => controls(second.messages).some((c) => c.type === "resumed"), 5000, "the resume");
    for (const settle of pending.splice(0)) settle();
    // Queued behind m2's publish: its append comes once m2's has settled.
    started.server.publish("t", "m3");
    await until(
      () => {
        for (const settle of pending.splice(0)) settle();
        return topicPayloads(second.messages).includes("m3");
      },
      5000,
      "m3",
    );
    assert.deepEqual(topicPayloads(second.messages), ["m2", "m3"]);
    second.socket.close();
  });
});

describe("a subscription whose start an async store is still giving", () => {
  test("when the connection dies is restored by the resume, not left out", async (t) => {
    const inner = new MemoryResumeStore();
    const answers: (() => void)[] = [];
    const store: ResumeStore = {
      distributes: false,
      append: (topic, payload, isText, publisher) => inner.append(topic, payload, isText, publisher),
      readAfter: (topic, after, limit) => inner.readAfter(topic, after, limit),
      lastPosition: (topic) =>
        new Promise<string>((resolve) => answers.push(() => resolve(inner.lastPosition(topic)))),
      saveSession: (id, record, ttlMs) => inner.saveSession(id, record, ttlMs),
      takeSession: (id) => inner.takeSession(id),
      close: () => inner.close(),
    };
    const started = await startServer(t, { resume: { store } });
    const seen: string[] = [];
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      seen.push(`resumed=${socket.resumed} topics=${socket.topics.join()}`);
      if (!socket.resumed) socket.subscribe("news");
    });
    const first = await rawResume(started.url, { type: "hello" });
    await until(() => answers.length === 1, 5000, "the store asked for the start");
    // The session's token is on its way to the client meanwhile.
    await until(() => controls(first.messages).length > 0, 5000, "the session");
    const token = controls(first.messages)[0].token as string;
    sockets[0].terminate();
    await within(first.closed, 5000, "the close");
    await until(() => started.server.clients.size === 0, 5000, "the server side to close");
    for (const answer of answers.splice(0)) answer();
    started.server.publish("news", "missed");

    const second = await rawResume(started.url, { type: "resume", token, positions: {} });
    await until(
      () => controls(second.messages).some((c) => c.type === "resumed" || c.type === "reset"),
      5000,
      "the resume",
    );
    assert.deepEqual(seen, ["resumed=false topics=", "resumed=true topics=news"]);
    assert.deepEqual(topicPayloads(second.messages), ["missed"]);
    second.socket.close();
  });
});

describe("topics named as Object.prototype's properties", () => {
  test('"__proto__", "constructor", "hasOwnProperty", "toString" are restored by a resume and replayed', async (t) => {
    const started = await startServer(t, { resume: {} });
    const topics = ["__proto__", "constructor", "hasOwnProperty", "toString", "news"];
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) for (const topic of topics) socket.subscribe(topic);
    });
    const client = resumeClient(t, started.url);
    await until(() => started.server.subscriberCount("news") === 1, 5000, "the subscriptions");
    for (const topic of topics) started.server.publish(topic, "before");
    await until(() => client.received.length === topics.length, 5000, "the live messages");
    sockets[0].terminate();
    // Published while the connection is closing: stored, not delivered; the resume replays them.
    for (const topic of topics) started.server.publish(topic, "missed");
    await until(() => client.events.includes("resumed"), 5000, "the resume");
    assert.deepEqual(client.sessions, [false, true]);
    assert.deepEqual(client.resets, []);
    assert.deepEqual(sockets[1].topics, topics);
    assert.deepEqual(client.received, [
      ...topics.map((topic) => `${topic}:before`),
      ...topics.map((topic) => `${topic}:missed`),
    ]);
  });
});
