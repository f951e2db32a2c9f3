// The ResumableWebSocket client (src/resume/client.ts, docs/resume.md): its resume hello holds the positions
// of the topics it follows only (the server says `unsubscribed`), a hello over the server's maxPayloadBytes
// (1009) makes it start afresh instead of retrying forever; close() checks its code and reason first, as
// WebSocket.close() does (WHATWG), and throws before anything changes; against a server that selects no
// protocol it offered it stops ('close' 1002) rather than reconnect forever.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ResumeEvent } from "../../src/resume/client.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { resumeClient, startServer, until, within } from "./helpers.js";

const TOPICS = 250;

describe("the resume hello's size", () => {
  test("positions of topics the server unsubscribed are forgotten: the resume still fits maxPayloadBytes", async (t) => {
    const started = await startServer(t, { resume: {}, maxPayloadBytes: 4096 });
    let current: WebSocket | null = null;
    started.server.on("connection", (socket) => {
      current = socket;
    });
    const client = resumeClient(t, started.url);
    await until(() => client.sessions.length === 1 && current !== null, 5000, "the session");
    const socket = current as unknown as WebSocket;
    // Topic churn: one document after another, one at a time.
    for (let i = 0; i < TOPICS; i++) {
      const topic = `document/${String(i).padStart(6, "0")}`;
      socket.subscribe(topic);
      started.server.publish(topic, "edit");
      socket.unsubscribe(topic);
    }
    socket.subscribe("current");
    started.server.publish("current", "now");
    await until(() => client.received.includes("current:now"), 5000, "the messages");
    assert.deepEqual(Object.keys(client.socket.positions), ["current"]);
    socket.terminate();
    await until(() => client.events.includes("resumed"), 5000, "the resume");
    assert.deepEqual(client.sessions, [false, true]);
    assert.deepEqual(client.resets, []);
  });

  test("a hello the server refuses as too big (1009) gives a reset 'too-big' and a fresh session", async (t) => {
    const started = await startServer(t, { resume: {}, maxPayloadBytes: 4096 });
    let current: WebSocket | null = null;
    started.server.on("connection", (socket) => {
      current = socket;
    });
    const client = resumeClient(t, started.url);
    await until(() => client.sessions.length === 1 && current !== null, 5000, "the session");
    const socket = current as unknown as WebSocket;
    // Followed topics, each with a position: the hello outgrows 4096 bytes.
    for (let i = 0; i < TOPICS; i++) {
      const topic = `document/${String(i).padStart(6, "0")}`;
      socket.subscribe(topic);
      started.server.publish(topic, "edit");
    }
    await until(() => client.received.length === TOPICS, 5000, "the messages");
    socket.terminate();
    await until(() => client.sessions.length === 2, 5000, "a session again");
    assert.deepEqual(client.sessions, [false, false]);
    assert.deepEqual(client.resets, ["too-big"]);
    assert.deepEqual(client.socket.positions, {});
    assert.equal(client.socket.connected, true);
  });
});

describe("close()", () => {
  for (const [code, reason, name] of [
    [1001, undefined, "InvalidAccessError"],
    [4000, "x".repeat(124), "SyntaxError"],
  ] as const) {
    test(`close(${code}, ${reason === undefined ? "no reason" : `${reason.length}-byte reason`}) throws ${name} and leaves the session as it was`, async (t) => {
      const started = await startServer(t, { resume: {} });
      let current: WebSocket | null = null;
      started.server.on("connection", (socket) => {
        current = socket;
        socket.subscribe("t");
      });
      const client = resumeClient(t, started.url);
      await until(() => client.sessions.length === 1 && current !== null, 5000, "the session");
      assert.throws(
        () => client.socket.close(code, reason),
        (error: Error) => error instanceof DOMException && error.name === name,
      );
      assert.deepEqual(client.events, ["session"]);
      assert.equal(client.socket.connected, true);
      client.socket.send("still usable");
      started.server.publish("t", "still here");
      await until(() => client.received.includes("t:still here"), 5000, "a message after");
      // A valid close still ends it, with its event, and the server side closes.
      client.socket.close(4000, "bye");
      assert.deepEqual(client.events, ["session", "close"]);
      await until(() => (current as unknown as WebSocket).readyState === 3, 5000, "the server side to close");
    });
  }
});

describe("a server that speaks neither sockjet.resume.1 nor an offered protocol", () => {
  test("stops the client with 'close' 1002 and the reason, instead of reconnecting forever", async (t) => {
    const started = await startServer(t, {});
    const client = resumeClient(t, started.url);
    const closed = new Promise<ResumeEvent>((resolve) =>
      client.socket.addEventListener("close", (event) => resolve(event)),
    );
    const event = await within(closed, 5000, "the close");
    assert.equal(event.code, 1002);
    assert.match(event.reason, /subprotocol/);
    assert.deepEqual(client.events, ["close"]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(client.events, ["close"], "no reconnection after");
    assert.throws(() => client.socket.send("x"), { name: "InvalidStateError" });
  });
});
