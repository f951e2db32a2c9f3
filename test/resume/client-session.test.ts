// ResumableWebSocket's sessions when the old one cannot go on: a resume hello the server refuses (1009, over
// its maxPayloadBytes) is not presented again — the client starts a fresh session with a `reset`
// ("rejected"); a reconnection that lands on a server without resume fires `reset` ("unsupported"), since
// what was published meanwhile is lost; a server that names the session's topics in its `session` message
// makes the client forget the positions of the others; messages still queued when the client gives up are
// reported by `drop` events.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { ResumableWebSocket } from "../../src/resume/client.js";
import type { WebSocket as ServerSocket } from "../../src/web/websocket.js";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, handWrittenResumeServer, resumeClient, startServer, until } from "./helpers.js";

test("a resume hello over the server's maxPayloadBytes (closed 1009): reset 'rejected', then a fresh session", async (t) => {
  const started = await startServer(t, { resume: {}, maxPayloadBytes: 4096 });
  let current: ServerSocket | null = null;
  started.server.on("connection", (socket) => {
    current = socket;
  });
  const client = resumeClient(t, started.url);
  await until(() => client.sessions.length === 1 && current !== null, 5000, "the first session");
  // Many followed topics, each with a position: the hello outgrows 4096 bytes. (Topics the app unsubscribed
  // do not count: the server says `unsubscribed` and the client forgets them, client.test.ts.)
  for (let i = 0; i < 250; i++) {
    const topic = `document/${String(i).padStart(6, "0")}`;
    current!.subscribe(topic);
    started.server.publish(topic, "edit");
  }
  await until(() => client.received.length === 250, 5000, "the topics' messages");
  assert.ok(JSON.stringify(client.socket.positions).length > 4096);

  current!.terminate();
  await until(() => client.sessions.length === 2, 5000, "a second session");
  assert.deepEqual(client.resets, ["rejected"]);
  assert.deepEqual(client.sessions, [false, false]);
  assert.deepEqual(client.socket.positions, {});
  assert.equal(client.socket.connected, true);
});

test("a reconnection to a server without resume fires reset 'unsupported' before its session", async (t) => {
  const started = await startServer(t, { protocols: ["chat"] });
  started.server.on("connection", (socket) => socket.subscribe("news"));
  const client = resumeClient(t, started.url, undefined, ["chat"]);
  await until(
    () => client.sessions.length === 1 && started.server.subscriberCount("news") === 1,
    5000,
    "session",
  );
  assert.deepEqual(client.resets, []);
  started.server.publish("news", "one");
  await until(() => client.received.length === 1, 5000, "the first message");
  for (const socket of started.server.clients) socket.terminate();
  await until(() => client.sessions.length === 2, 5000, "the second session");
  assert.deepEqual(client.resets, ["unsupported"]);
  const events = client.events.filter((type) => type !== "disconnect");
  assert.deepEqual(events, ["session", "reset", "session"]);
});

test("a server without resume that selects no protocol: the client stops, its error says to turn resume on", async (t) => {
  const started = await startServer(t, {});
  const client = resumeClient(t, started.url);
  const messages: string[] = [];
  client.socket.addEventListener("error", (event) => messages.push((event as ErrorEvent).message));
  await until(() => client.events.includes("close"), 5000, "the client's close");
  assert.equal(messages.length, 1, "not retried: the same handshake fails every time");
  assert.match(messages[0], /did not select any of the offered subprotocols/);
  assert.match(messages[0], /does not speak sockjet\.resume\.1: turn on its `resume` option/);
});

test("a session message naming the session's topics: the positions of the others are forgotten", async (t) => {
  // A server speaking sockjet.resume.1 by hand: tells the topics it restores (a), not b.
  const { server, url, hellos } = await handWrittenResumeServer(t, (hello, socket) => {
    if (hello.type === "hello") {
      socket.send(`\u0002${JSON.stringify({ type: "session", token: "t1", resumed: false })}`);
      socket.send(`\u0002${JSON.stringify({ type: "topic", id: 7, topic: "a" })}`);
      socket.send(`\u0002${JSON.stringify({ type: "topic", id: 8, topic: "b" })}`);
      socket.send("\u00017 1\nA");
      socket.send("\u00018 1\nB");
    } else {
      socket.send(`\u0002${JSON.stringify({ type: "session", token: "t2", resumed: true, topics: ["a"] })}`);
      socket.send(`\u0002${JSON.stringify({ type: "resumed", replayed: 0 })}`);
    }
  });
  const client = resumeClient(t, url);
  await until(() => client.received.length === 2, 5000, "the two messages");
  assert.deepEqual(client.socket.positions, { a: "1", b: "1" });
  for (const socket of server.clients) socket.terminate();
  await until(() => client.events.includes("resumed"), 5000, "the resume");
  assert.deepEqual(hellos[1], { type: "resume", token: "t1", positions: { a: "1", b: "1" } });
  assert.deepEqual(client.socket.positions, { a: "1" });
  for (const socket of server.clients) socket.terminate();
  await until(() => hellos.length === 3, 5000, "the next hello");
  assert.deepEqual(hellos[2], { type: "resume", token: "t2", positions: { a: "1" } });
});

test("messages queued when the client gives up: one drop event each; the full queue's error names its option", async (t) => {
  const probe = net.createServer().listen(0, HOST);
  await once(probe, "listening");
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const client = new ResumableWebSocket(`ws://${HOST}:${port}/`, {
    WebSocket: WebSocket as never,
    maxQueuedMessages: 2,
    maxRetries: 0,
  });
  t.after(() => client.close());
  const dropped: unknown[] = [];
  let closed = false;
  client.addEventListener("drop", (event) => dropped.push(event.data));
  client.addEventListener("close", () => {
    closed = true;
  });
  client.send("m0");
  client.send("m1");
  assert.throws(() => client.send("m2"), {
    name: "QuotaExceededError",
    message: /maxQueuedMessages is 2/,
  });
  await until(() => closed, 5000, "giving up");
  assert.deepEqual(dropped, ["m0", "m1"]);
});
