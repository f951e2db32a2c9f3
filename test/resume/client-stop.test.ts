// When ResumableWebSocket stops reconnecting, and how it says why a connection failed — as
// ReconnectingWebSocket does (src/reconnecting/): a close the server meant (1000, 1008: stopCloseCodes) or a
// handshake refused with 401/403 (stopStatuses) ends it; the backoff grows until a session has been up for
// stableAfterMs (a server that accepts and closes at once does not reset it); every failed attempt fires
// `error` with the WebSocket's error (a HandshakeError on Node), and `disconnect` says code, reason, wasClean.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { ResumableWebSocket, type ResumeErrorEvent, type ResumeEvent } from "../../src/resume/client.js";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, startServer, until } from "./helpers.js";

/** A client with a fast backoff that records its events. */
function recordingClient(t: import("node:test").TestContext, url: string, maxRetries = 20) {
  const socket = new ResumableWebSocket(url, {
    WebSocket: WebSocket as never,
    initialDelayMs: 5,
    maxDelayMs: 20,
    maxRetries,
  });
  const errors: ResumeErrorEvent[] = [];
  const disconnects: ResumeEvent[] = [];
  const attempts: number[] = [];
  const closes: ResumeEvent[] = [];
  socket.addEventListener("error", (event) => errors.push(event));
  socket.addEventListener("disconnect", (event) => disconnects.push(event));
  socket.addEventListener("reconnecting", (event) => attempts.push(event.attempt));
  socket.addEventListener("close", (event) => closes.push(event));
  t.after(() => socket.close());
  return { socket, errors, disconnects, attempts, closes };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

for (const code of [1000]) {
  test(`the server closes a session with ${code}: no reconnection, one close with its code and reason`, async (t) => {
    const started = await startServer(t, { resume: {} });
    let connections = 0;
    started.server.on("connection", (socket) => {
      connections++;
      setTimeout(() => socket.close(code, "go away"), 20);
    });
    const client = recordingClient(t, started.url);
    await until(() => client.closes.length === 1, 5000, "the close");
    await settle();
    assert.equal(connections, 1);
    assert.deepEqual(client.attempts, []);
    assert.equal(client.closes.length, 1);
    assert.deepEqual(
      [client.closes[0].code, client.closes[0].reason, client.closes[0].wasClean],
      [code, "go away", true],
    );
    assert.deepEqual(
      [client.disconnects[0].code, client.disconnects[0].reason, client.disconnects[0].wasClean],
      [code, "go away", true],
    );
    assert.equal(client.socket.readyState, ResumableWebSocket.CLOSED);
  });
}

test("a server that accepts and closes (4001) at once: the backoff grows, maxRetries is reached", async (t) => {
  const started = await startServer(t, { resume: {} });
  let connections = 0;
  started.server.on("connection", (socket) => {
    connections++;
    socket.close(4001, "unauthorized");
  });
  const client = recordingClient(t, started.url, 4);
  await until(() => client.closes.length === 1, 10_000, "giving up");
  assert.deepEqual(client.attempts, [1, 2, 3, 4]);
  assert.equal(connections, 5);
  assert.equal(client.closes[0].code, 4001);
  assert.equal(client.disconnects[0].reason, "unauthorized");
});

test("a handshake refused with 403: an error event with the HandshakeError, then close, no retry", async (t) => {
  let handshakes = 0;
  const started = await startServer(t, {
    resume: {},
    verify: () => {
      handshakes++;
      return false;
    },
  });
  const client = recordingClient(t, started.url);
  await until(() => client.closes.length === 1, 5000, "the close");
  await settle();
  assert.equal(handshakes, 1);
  assert.deepEqual(client.attempts, []);
  assert.equal(client.errors.length, 1);
  assert.equal(client.errors[0].error?.name, "HandshakeError");
  assert.equal(client.errors[0].error?.status, 403);
  assert.equal(client.closes[0].error?.status, 403);
  assert.equal(client.disconnects[0].wasClean, false);
});

test("nothing listening: each attempt fires error (SJ_ERR_CONNECTION_REFUSED) and disconnect 1006", async (t) => {
  const probe = net.createServer().listen(0, HOST);
  await once(probe, "listening");
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const client = recordingClient(t, `ws://${HOST}:${port}/`, 2);
  await until(() => client.closes.length === 1, 5000, "giving up");
  assert.deepEqual(client.attempts, [1, 2]);
  assert.equal(client.errors.length, 3);
  for (const event of client.errors) assert.equal(event.error?.code, "SJ_ERR_CONNECTION_REFUSED");
  assert.deepEqual(
    client.disconnects.map((event) => [event.code, event.wasClean]),
    [
      [1006, false],
      [1006, false],
      [1006, false],
    ],
  );
});

test("a server with neither resume nor an app protocol: one error (no protocol selected), then close", async (t) => {
  const started = await startServer(t, {});
  let connections = 0;
  started.server.on("connection", () => connections++);
  const client = recordingClient(t, started.url);
  await until(() => client.closes.length === 1, 5000, "the close");
  await settle();
  assert.deepEqual(client.attempts, []);
  assert.equal(client.errors.length, 1);
  assert.equal(client.errors[0].error?.code, "SJ_ERR_INVALID_HANDSHAKE");
  assert.match(client.errors[0].message, /subprotocol/);
  assert.equal(connections, 1);
});
