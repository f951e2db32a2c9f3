// A resumable session's connection cannot become a WebSocketStream (WebSocketStream.from): it speaks
// sockjet.resume.1 (the hello first, envelopes and prefixes after). Before, taken in 'connection' it threw
// "already received messages" (the hello counted), and taken from server.clients before the hello the stream
// read the hello as the app's: the client was closed 1013 "no hello in time" and the stream's writes went
// nowhere (review 13). Now both are a NotSupportedError that says why, and the session goes on.

import assert from "node:assert/strict";
import { test } from "node:test";
import { WebSocket, WebSocketStream } from "../../src/index.js";
import { resumeClient, startServer, until } from "./helpers.js";

function assertRefused(take: () => unknown): void {
  assert.throws(take, (error: unknown) => {
    assert.ok(error instanceof DOMException, `expected a DOMException, got ${String(error)}`);
    assert.equal(error.name, "NotSupportedError");
    assert.match(
      error.message,
      /resumable-session connection \(sockjet\.resume\.1\) cannot have a WebSocketStream/,
    );
    return true;
  });
}

test("WebSocketStream.from() on a resume connection before its hello (from server.clients): NotSupportedError", async (t) => {
  const started = await startServer(t, { resume: {} });
  const raw = new WebSocket(started.url, ["sockjet.resume.1"]);
  t.after(() => raw.close());
  const messages: string[] = [];
  raw.onmessage = (event) => messages.push(String(event.data));
  await until(() => raw.readyState === WebSocket.OPEN && started.server.clients.size === 1, 5000, "open");
  const [socket] = started.server.clients;
  assertRefused(() => WebSocketStream.from(socket));
  // The session goes on: the hello sent now is answered with the session.
  raw.send(JSON.stringify({ type: "hello" }));
  await until(() => messages.some((m) => m.startsWith('\u0002{"type":"session"')), 5000, "the session");
});

test("WebSocketStream.from() on a resume connection in 'connection': NotSupportedError, and the session goes on", async (t) => {
  const started = await startServer(t, { resume: {} });
  let refused = false;
  started.server.on("connection", (socket) => {
    assertRefused(() => WebSocketStream.from(socket));
    refused = true;
    socket.subscribe("news");
  });
  const client = resumeClient(t, started.url);
  await until(() => refused && client.sessions.length === 1, 5000, "the session");
  started.server.publish("news", "still here");
  await until(() => client.received.length === 1, 5000, "a topic message");
  assert.deepEqual(client.received, ["news:still here"]);
  assert.deepEqual(client.events, ["session"], "no close, no reconnect");
});
