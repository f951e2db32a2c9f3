// The ResumableWebSocket client (src/resume/client.ts, docs/resume.md): its resume hello holds the positions
// of the topics it follows only (the server says `unsubscribed`), so topic churn does not outgrow the
// server's maxPayloadBytes. (A hello that does is in client-session.test.ts, close() in client-close, a
// server with no protocol in client-stop.)

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { WebSocket } from "../../src/web/websocket.js";
import { resumeClient, startServer, until } from "./helpers.js";

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
});
