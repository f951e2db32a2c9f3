import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocketServer } from "ws";
import type { DropEvent } from "../../src/reconnecting/index.js";
import { ReconnectingWebSocket } from "../../src/reconnecting/index.js";
import { until } from "../client/helpers.js";
import { freePort } from "../support/child-server.js";
import { nextEvent, reconnecting, recordEvents } from "./helpers.js";

// Issue 18: sends while disconnected. Without a queue they throw; with one they wait, in order, up to its
// limits, and what happens when it is full is explicit: a QuotaExceededError, or the oldest message dropped
// with a `drop` event. Nothing queued vanishes without an event.

describe("ReconnectingWebSocket: the send queue", () => {
  test("without a queue, send() while not connected throws InvalidStateError", async (t) => {
    const client = reconnecting(t, `ws://127.0.0.1:${await freePort()}/`, { initialDelayMs: 1000 });
    assert.throws(() => client.send("x"), { name: "InvalidStateError" });
  });

  test('whenFull "throw": the send that does not fit throws QuotaExceededError and is not queued', async (t) => {
    const client = reconnecting(t, `ws://127.0.0.1:${await freePort()}/`, {
      initialDelayMs: 1000,
      queue: { maxMessages: 2, maxBytes: 10 },
    });
    client.send("12345");
    client.send("678");
    assert.throws(() => client.send("x"), { name: "QuotaExceededError" }); // 3 messages
    assert.equal(client.bufferedAmount, 8);
    const other = reconnecting(t, `ws://127.0.0.1:${await freePort()}/`, {
      initialDelayMs: 1000,
      queue: { maxMessages: 5, maxBytes: 10 },
    });
    other.send("123456");
    assert.throws(() => other.send("12345"), { name: "QuotaExceededError" }); // 11 bytes
    assert.equal(other.bufferedAmount, 6);
  });

  test('whenFull "drop-oldest": the oldest message is dropped with a drop event; the rest on close()', async (t) => {
    const client = reconnecting(t, `ws://127.0.0.1:${await freePort()}/`, {
      initialDelayMs: 1000,
      queue: { maxMessages: 2, whenFull: "drop-oldest" },
    });
    const { summary } = recordEvents(client);
    client.send("a");
    client.send("b");
    client.send("c");
    assert.deepEqual(summary(), ["drop a overflow"]);
    client.close();
    await nextEvent(client, "close");
    assert.deepEqual(summary().slice(-3), ["drop b closed", "drop c closed", "close 1006"]);
  });

  test("queued messages are sent in order once a server listens, binary as it was at send()", async (t) => {
    const port = await freePort();
    const client = reconnecting(t, `ws://127.0.0.1:${port}/`, {
      initialDelayMs: 20,
      maxDelayMs: 40,
      queue: { maxMessages: 10 },
    });
    const bytes = new Uint8Array([1, 2, 3]);
    client.send("first");
    client.send(bytes);
    bytes[0] = 9; // after send(): not what is sent
    client.send(new Blob(["third"]));
    const received: string[] = [];
    const server = new WebSocketServer({ host: "127.0.0.1", port });
    t.after(() => {
      for (const socket of server.clients) socket.terminate();
      return new Promise((resolve) => server.close(resolve));
    });
    server.on("connection", (socket) => {
      socket.on("message", (data, isBinary) =>
        received.push(isBinary ? `binary ${[...(data as Buffer)]}` : `text ${data}`),
      );
    });
    await nextEvent(client, "open");
    await until(() => received.length === 3, 3000, "the queued messages");
    assert.deepEqual(received, ["text first", "binary 1,2,3", "binary 116,104,105,114,100"]);
    assert.equal(client.bufferedAmount, 0);
  });

  test("the queue's options are checked at construction", () => {
    const url = "ws://127.0.0.1:1/";
    assert.throws(() => new ReconnectingWebSocket(url, [], { queue: { maxMessages: 0 } }), TypeError);
    const notAPolicy = { maxMessages: 1, whenFull: "x" } as unknown as { maxMessages: number };
    assert.throws(() => new ReconnectingWebSocket(url, [], { queue: notAPolicy }), TypeError);
  });

  test("maxAttempts is a whole number ≥ 0 or Infinity: 1.5, -1 and NaN are TypeErrors", () => {
    const url = "ws://127.0.0.1:1/";
    for (const maxAttempts of [1.5, -1, Number.NaN, 0.1])
      assert.throws(() => new ReconnectingWebSocket(url, [], { maxAttempts }), {
        name: "TypeError",
        message: /maxAttempts/,
      });
    for (const maxAttempts of [0, 3, Number.POSITIVE_INFINITY])
      new ReconnectingWebSocket(url, [], { maxAttempts }).close();
  });

  test("a message larger than maxBytes is refused even with drop-oldest", async (t) => {
    const client = reconnecting(t, `ws://127.0.0.1:${await freePort()}/`, {
      initialDelayMs: 1000,
      queue: { maxMessages: 5, maxBytes: 4, whenFull: "drop-oldest" },
    });
    const drops: DropEvent[] = [];
    client.addEventListener("drop", (event) => drops.push(event));
    client.send("ab");
    assert.throws(() => client.send("abcde"), { name: "QuotaExceededError" });
    assert.equal(drops.length, 0);
  });
});
