// The server's `resume` option names (docs/resume.md): Socket.IO's names are TypeErrors that name sockjet's
// instead of being ignored without a word, and maxMessagesPerTopic (the default memory store's ring) given
// together with a store of one's own is a TypeError: the store has its own bound. The client helper's too:
// ReconnectingWebSocket's names are TypeErrors, `protocols` takes one string as WebSocket does, and
// `protocol` says which one the server chose, as WebSocket's does.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ResumableWebSocket, type ResumeErrorEvent } from "../../src/resume/client.js";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket } from "../../src/web/websocket.js";
import { startServer, until, within } from "./helpers.js";

test("resume.maxDisconnectionDuration (Socket.IO's name) is a TypeError pointing to maxDisconnectionMs", () => {
  assert.throws(
    () => new WebSocketServer({ noServer: true, resume: { maxDisconnectionDuration: 60_000 } as never }),
    {
      name: "TypeError",
      message: /maxDisconnectionDuration .*maxDisconnectionMs/,
    },
  );
  assert.throws(() => new WebSocketServer({ noServer: true, resume: { skipMiddlewares: true } as never }), {
    name: "TypeError",
    message: /skipMiddlewares/,
  });
});

test("resume.maxMessagesPerTopic together with a store is a TypeError; each alone is accepted", async () => {
  const store = new MemoryResumeStore({ maxMessagesPerTopic: 5 });
  assert.throws(() => new WebSocketServer({ noServer: true, resume: { store, maxMessagesPerTopic: 10 } }), {
    name: "TypeError",
    message: /maxMessagesPerTopic .*store/,
  });
  for (const resume of [{ store }, { maxMessagesPerTopic: 10 }]) {
    const server = new WebSocketServer({ noServer: true, resume });
    await server.close();
  }
});

test("ResumableWebSocket: other clients' names for its options, and WebSocket options at the top level, are TypeErrors naming its own", () => {
  for (const [name, ours] of [
    ["maxAttempts", "maxRetries"],
    ["webSocket", "webSocketOptions"],
    ["queue", "maxQueuedMessages"],
    ["reconnectionAttempts", "maxRetries"],
    ["reconnectionDelay", "initialDelayMs"],
    ["reconnectionDelayMax", "maxDelayMs"],
    ["headers", "webSocketOptions"],
    ["perMessageDeflate", "webSocketOptions"],
  ]) {
    assert.throws(
      () => new ResumableWebSocket("ws://127.0.0.1:1", { WebSocket: WebSocket as never, [name]: 2 }),
      (error: Error) =>
        error instanceof TypeError && error.message.includes(name) && error.message.includes(ours),
      name,
    );
  }
});

test("ResumableWebSocket: protocols as one string is one protocol, offered after sockjet.resume.1", async (t) => {
  const started = await startServer(t, { protocols: ["chat"] });
  const offered: string[] = [];
  started.server.on("connection", (socket) => offered.push(socket.protocol));
  const client = new ResumableWebSocket(started.url, { WebSocket: WebSocket as never, protocols: "chat" });
  t.after(() => client.close());
  await until(() => offered.length === 1, 5000, "the connection");
  assert.deepEqual(offered, ["chat"]);
});

test('ResumableWebSocket: protocol is the chosen subprotocol once open, "" before and after', async (t) => {
  // A server without resume that chose the app's protocol, and one with resume.
  const plain = await startServer(t, { protocols: ["chat"] });
  const resumable = await startServer(t, { resume: {} });
  for (const [started, expected] of [
    [plain, "chat"],
    [resumable, "sockjet.resume.1"],
  ] as const) {
    const client = new ResumableWebSocket(started.url, { WebSocket: WebSocket as never, protocols: "chat" });
    t.after(() => client.close());
    assert.equal(client.protocol, "", "while connecting");
    const seenOnOpen: string[] = [];
    client.addEventListener("open", () => seenOnOpen.push(client.protocol));
    await until(() => seenOnOpen.length === 1, 5000, "open");
    assert.deepEqual(seenOnOpen, [expected]);
    client.close();
    assert.equal(client.protocol, "", "after close()");
  }
});

test("ResumableWebSocket: protocols naming sockjet.resume.1 itself are a TypeError saying it is offered already", () => {
  assert.throws(
    () =>
      new ResumableWebSocket("ws://127.0.0.1:1", {
        WebSocket: WebSocket as never,
        protocols: "sockjet.resume.1",
      }),
    {
      name: "TypeError",
      message: /protocols are the app's own; sockjet\.resume\.1 is offered first already/,
    },
  );
});

test("ResumableWebSocket: url is the URL as the WebSocket parsed it (http: → ws:)", async (t) => {
  const started = await startServer(t, { resume: {} });
  const httpUrl = started.url.replace(/^ws:/, "http:");
  const client = new ResumableWebSocket(httpUrl, { WebSocket: WebSocket as never });
  t.after(() => client.close());
  assert.equal(client.url, `${started.url}/`);
  await until(() => client.readyState === 1, 5000, "the session over the http: URL");
});

test("ResumableWebSocket: a port the Fetch standard blocks is not retried: one error, then close", async () => {
  const client = new ResumableWebSocket("ws://127.0.0.1:25/", {
    WebSocket: WebSocket as never,
    initialDelayMs: 1,
    maxDelayMs: 5,
  });
  const errors: string[] = [];
  client.addEventListener("error", (event) => errors.push((event as ResumeErrorEvent).error?.code));
  const closed = new Promise((resolve) => client.addEventListener("close", resolve));
  await within(closed, 5000, "the close");
  assert.deepEqual(errors, ["SJ_ERR_BAD_PORT"]);
  assert.equal(client.readyState, 3);
});

test("the client's maxRetries is a whole number ≥ 0 or Infinity: 1.5, -1 and NaN are TypeErrors", () => {
  for (const maxRetries of [1.5, -1, Number.NaN])
    assert.throws(
      () => new ResumableWebSocket("ws://127.0.0.1:1/", { WebSocket: WebSocket as never, maxRetries }),
      {
        name: "TypeError",
        message: /maxRetries/,
      },
    );
  for (const maxRetries of [0, 3, Number.POSITIVE_INFINITY])
    new ResumableWebSocket("ws://127.0.0.1:1/", { WebSocket: WebSocket as never, maxRetries }).close();
});

test("regression: ResumableWebSocket.send() refuses ws's callback and options instead of ignoring them", () => {
  const client = new ResumableWebSocket("ws://127.0.0.1:9/", { WebSocket: WebSocket as never });
  try {
    const send = client.send as (data: unknown, second?: unknown) => void;
    assert.throws(() => send.call(client, "a", () => {}), { name: "TypeError", message: /no callback/ });
    assert.throws(() => send.call(client, "b", { fin: false }), { name: "TypeError", message: /no options/ });
  } finally {
    client.close();
  }
});

test("ResumableWebSocket's options: null is {} (WebIDL), a non-object and a code list that is no list are TypeErrors", async (t) => {
  const started = await startServer(t, { resume: {} });
  const previous = (globalThis as { WebSocket?: unknown }).WebSocket;
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
  t.after(() => {
    (globalThis as { WebSocket?: unknown }).WebSocket = previous;
  });
  const client = new ResumableWebSocket(started.url, null);
  await within(new Promise((resolve) => client.addEventListener("session", resolve)), 5000, "a session");
  client.close();
  assert.throws(() => new ResumableWebSocket(started.url, 5 as never), {
    name: "TypeError",
    message: "ResumableWebSocket: options must be an object",
  });
  for (const [name, value] of [
    ["stopCloseCodes", 4001],
    ["stopCloseCodes", "4001"],
    ["stopStatuses", [401, "403"]],
  ] as const) {
    assert.throws(() => new ResumableWebSocket(started.url, { WebSocket, [name]: value } as never), {
      name: "TypeError",
      message: `ResumableWebSocket: options.${name} must be a list of numbers, like [1000, 1008]`,
    });
  }
});
