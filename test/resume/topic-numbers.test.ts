// Topic messages name their topic by a number (docs/resume.md, wire format): the server announces it on each
// connection (`topic` control) before the topic's first message there, the number is the same for every
// connection of the process (one envelope per publish: frame-once), and a number is never reused for another
// topic. The client maps numbers back to names, whatever characters a name holds.

import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import type { ResumeErrorEvent } from "../../src/resume/client.js";
import type { WebSocket } from "../../src/web/websocket.js";
import {
  allControls,
  handWrittenResumeServer,
  rawResume,
  resumeClient,
  startServer,
  until,
  within,
} from "./helpers.js";

/** [topic number, position, payload] of each topic message among raw messages. */
function topicMessages(messages: (string | Buffer)[]): [number, string, string][] {
  return messages
    .filter((m): m is string => typeof m === "string" && m.charCodeAt(0) === 1)
    .map((m) => {
      const newline = m.indexOf("\n");
      const [id, position] = m.slice(1, newline).split(" ");
      return [Number(id), position, m.slice(newline + 1)];
    });
}

describe("topic numbers", () => {
  test("are announced before the topic's first message, the same on every connection, one frame per publish", async (t) => {
    const started = await startServer(t, { resume: {} });
    started.server.on("connection", (socket) => {
      socket.subscribe("a");
      socket.subscribe("b");
    });
    const one = await rawResume(started.url, { type: "hello" });
    const two = await rawResume(started.url, { type: "hello" });
    await until(() => started.server.subscriberCount("b") === 2, 5000, "the subscriptions");
    const framesBefore = started.server.pubsubStats.framesEncoded;
    started.server.publish("a", "A1");
    started.server.publish("b", "B1");
    // Two receivers, two publishes: two frames (each shared by both connections).
    assert.equal(started.server.pubsubStats.framesEncoded - framesBefore, 2);
    for (const raw of [one, two])
      await until(() => topicMessages(raw.messages).length === 2, 5000, "the two messages");

    const numbersOf = (messages: (string | Buffer)[]) =>
      new Map(
        allControls(messages)
          .filter((c) => c.type === "topic")
          .map((c) => [c.topic as string, c.id as number]),
      );
    const numbers = numbersOf(one.messages);
    assert.deepEqual([...numbers.keys()], ["a", "b"]);
    assert.notEqual(numbers.get("a"), numbers.get("b"));
    assert.deepEqual(numbersOf(two.messages), numbers);
    for (const raw of [one, two]) {
      const firstTopicMessage = raw.messages.findIndex((m) => typeof m === "string" && m.charCodeAt(0) === 1);
      const lastAnnouncement = raw.messages.findLastIndex(
        (m) => typeof m === "string" && m.startsWith('\u0002{"type":"topic"'),
      );
      assert.ok(lastAnnouncement < firstTopicMessage, "announced before the first message");
      assert.deepEqual(
        topicMessages(raw.messages).map(([id, , payload]) => [id, payload]),
        [
          [numbers.get("a"), "A1"],
          [numbers.get("b"), "B1"],
        ],
      );
    }
    one.socket.close();
    two.socket.close();
  });

  test("a topic that lost its resume subscribers gets a new number when it has one again", async (t) => {
    const started = await startServer(t, { resume: {} });
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      socket.subscribe("room");
    });
    const raw = await rawResume(started.url, { type: "hello" });
    await until(() => started.server.subscriberCount("room") === 1, 5000, "the subscription");
    sockets[0].unsubscribe("room");
    sockets[0].subscribe("room");
    started.server.publish("room", "again");
    await until(() => topicMessages(raw.messages).length === 1, 5000, "the message");
    const controls = allControls(raw.messages).filter((c) => c.type !== "session");
    assert.deepEqual(
      controls.map((c) => c.type),
      ["topic", "unsubscribed", "topic"],
    );
    assert.notEqual(controls[0].id, controls[2].id, "a number is not reused");
    assert.equal(topicMessages(raw.messages)[0][0], controls[2].id);
    raw.socket.close();
  });

  test("the client's table of numbers stays as large as the topics followed while subscriptions churn", async (t) => {
    const started = await startServer(t, { resume: {} });
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      socket.subscribe("room");
    });
    const client = resumeClient(t, started.url);
    await until(() => started.server.subscriberCount("room") === 1, 5000, "the subscription");
    for (let i = 0; i < 300; i++) {
      sockets[0].unsubscribe("room");
      sockets[0].subscribe("room");
    }
    started.server.publish("room", "after the churn");
    await until(() => client.received.length === 1, 5000, "the message");
    assert.deepEqual(client.received, ["room:after the churn"]);
    // 300 numbers were announced for the one topic: the client keeps the current one only.
    const table = (client.socket as unknown as { topicNames: Map<number, string> }).topicNames;
    assert.equal(table.size, 1);
  });

  test("the client gives each message its topic's name, whatever characters it holds, live and replayed", async (t) => {
    const started = await startServer(t, { resume: {} });
    const names = ['news "today"', "line\nbreak", "a b", "ünïcødé 🎉"];
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) for (const name of names) socket.subscribe(name);
    });
    const client = resumeClient(t, started.url);
    await until(() => started.server.subscriberCount(names[3]) === 1, 5000, "the subscriptions");
    for (const name of names) started.server.publish(name, "live");
    await until(() => client.received.length === names.length, 5000, "the live messages");
    // Replayed on another connection, where the numbers are announced anew. Published as the server sees
    // the old connection close: before the client can have reconnected (it resumes within a few ms).
    const closed = once(sockets[0], "close");
    sockets[0].terminate();
    await within(closed, 5000, "the old connection to close");
    for (const name of names) started.server.publish(name, "missed");
    await until(() => client.received.length === 2 * names.length, 5000, "the replay");
    assert.deepEqual(client.received, [
      ...names.map((name) => `${name}:live`),
      ...names.map((name) => `${name}:missed`),
    ]);
    assert.deepEqual(client.resets, []);
  });

  test("regression: a message queued behind a Blob arrives after its topic's 'unsubscribed': delivered, no error, the topic left out of the next hello", async (t) => {
    const started = await startServer(t, { resume: {} });
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) socket.subscribe("a");
      socket.addEventListener("message", (event) => {
        if (event.data !== "go") return;
        // The topic message waits behind the Blob being read, and the `unsubscribed` behind it.
        socket.send(new Blob(["direct"]));
        started.server.publish("a", "m1");
        socket.unsubscribe("a");
      });
    });
    const client = resumeClient(t, started.url);
    const errors: string[] = [];
    client.socket.addEventListener("error", (event) => errors.push((event as ResumeErrorEvent).message));
    await until(() => client.sessions.length === 1, 5000, "the session");
    client.socket.send("go");
    await until(() => client.received.length === 2, 5000, "the Blob and the topic message");
    assert.deepEqual(client.received, [Buffer.from("direct").toString("hex"), "a:m1"]);
    assert.deepEqual(errors, []);
    assert.deepEqual(client.events, ["session"], "no drop, no reconnect");
    // The next resume does not claim the topic it left.
    sockets[0].terminate();
    await until(() => client.sessions.length === 2, 5000, "the resume");
    assert.deepEqual(client.sessions, [false, true]);
    assert.equal(started.server.subscriberCount("a"), 0);
  });

  test("a message with a number the server never announced: the client says so, reconnects and resumes before it", async (t) => {
    // A server speaking the wire format by hand, wrongly: its second message's number (9) was not announced.
    const { url, hellos } = await handWrittenResumeServer(t, (hello, socket) => {
      if (hello.type !== "hello") return;
      socket.send(`\u0002${JSON.stringify({ type: "session", token: "t1", resumed: false })}`);
      socket.send(`\u0002${JSON.stringify({ type: "topic", id: 1, topic: "a" })}`);
      socket.send("\u00011 5\nfirst");
      socket.send("\u00019 6\nunplaced");
    });
    const client = resumeClient(t, url);
    const errors: string[] = [];
    client.socket.addEventListener("error", (event) => errors.push((event as ResumeErrorEvent).message));
    await until(() => hellos.length === 2, 5000, "the resume hello");
    assert.deepEqual(client.received, ["a:first"], "the unplaced message is not given to the app");
    assert.match(errors[0], /unknown topic number/);
    // Resumed from the last message it could place: the server replays what follows.
    assert.deepEqual(hellos[1], { type: "resume", token: "t1", positions: { a: "5" } });
  });
});
