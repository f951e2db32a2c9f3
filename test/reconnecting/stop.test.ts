import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CloseEvent, type ErrorEvent, HandshakeError } from "../../src/index.js";
import { type ReconnectingEvent, ReconnectingWebSocket } from "../../src/reconnecting/index.js";
import { delay, peerServer, until } from "../client/helpers.js";
import { nextEvent, reconnecting, recordEvents, refusingServer } from "./helpers.js";

// Issue 18: no retry on closes that mean "do not come back" — an opening handshake refused with 401 or 403
// (the error event's HandshakeError has the status), a server's 1008, and close codes the application
// names — and no more than maxAttempts retries of anything else. Delays are made deterministic by injecting
// the random source.

describe("ReconnectingWebSocket: when it gives up", () => {
  for (const status of [401, 403]) {
    test(`an opening handshake refused with ${status} is not retried: error (HandshakeError, status ${status}), close 1006`, async (t) => {
      const server = await refusingServer(t, status);
      const client = reconnecting(t, server.url, { initialDelayMs: 10, maxDelayMs: 20 });
      const { summary, log } = recordEvents(client);
      const closed = await nextEvent<CloseEvent>(client, "close");
      assert.equal(closed.code, 1006);
      assert.equal(client.readyState, ReconnectingWebSocket.CLOSED);
      const error = (log[0].event as ErrorEvent).error;
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.status, status);
      assert.deepEqual(summary(), ["error SJ_ERR_HANDSHAKE_REFUSED", "close 1006"]);
      await delay(100); // several retry windows
      assert.equal(server.requests(), 1, "one handshake, no retry");
    });
  }

  test("a 503 is retried, with full-jitter delays, until maxAttempts retries have failed", async (t) => {
    const server = await refusingServer(t, 503);
    const client = reconnecting(t, server.url, {
      initialDelayMs: 20,
      maxDelayMs: 50,
      maxAttempts: 3,
      random: () => 0.5,
    });
    const { summary, log } = recordEvents(client);
    await nextEvent(client, "close");
    assert.equal(server.requests(), 4, "the first attempt and 3 retries");
    const retries = log.filter((e) => e.type === "reconnecting").map((e) => e.event as ReconnectingEvent);
    // Half of min(50, 20 × 2^n).
    assert.deepEqual(
      retries.map((e) => [e.attempt, e.delayMs, e.error.status]),
      [
        [1, 10, 503],
        [2, 20, 503],
        [3, 25, 503],
      ],
    );
    assert.deepEqual(summary().slice(-2), ["error SJ_ERR_HANDSHAKE_REFUSED", "close 1006"]);
  });

  test("a server's 1008 is not retried; 1001 (going away) is", async (t) => {
    const peer = await peerServer(t);
    const codes = [1001, 1008];
    let connections = 0;
    peer.server.on("connection", (socket) => socket.close(codes[connections++], "bye"));
    const client = reconnecting(t, peer.url, { initialDelayMs: 10, maxDelayMs: 20 });
    const { summary } = recordEvents(client);
    const closed = await nextEvent<CloseEvent>(client, "close");
    assert.deepEqual([closed.code, closed.reason, closed.wasClean], [1008, "bye", true]);
    assert.deepEqual(summary(), ["open", "reconnecting 1 after 1001", "open", "reconnected 1", "close 1008"]);
    assert.equal(connections, 2);
  });

  test("close codes the application names in stopCloseCodes are not retried (4001); others are (4000)", async (t) => {
    const peer = await peerServer(t);
    const codes = [4000, 4001];
    let connections = 0;
    peer.server.on("connection", (socket) => socket.close(codes[connections++]));
    const client = reconnecting(t, peer.url, { initialDelayMs: 10, stopCloseCodes: [4001] });
    const { summary } = recordEvents(client);
    await nextEvent(client, "close");
    assert.deepEqual(summary(), ["open", "reconnecting 1 after 4000", "open", "reconnected 1", "close 4001"]);
  });

  test("close() while waiting to retry: close 1006 at once, no further attempt", async (t) => {
    const server = await refusingServer(t, 503);
    const client = reconnecting(t, server.url, { initialDelayMs: 200, random: () => 0.99 });
    const { summary } = recordEvents(client);
    await nextEvent(client, "reconnecting");
    client.close();
    assert.equal(client.readyState, ReconnectingWebSocket.CLOSED);
    const closed = await nextEvent<CloseEvent>(client, "close", 100);
    assert.deepEqual([closed.code, closed.wasClean], [1006, false]);
    await delay(300);
    assert.equal(server.requests(), 1);
    assert.deepEqual(summary(), [
      "error SJ_ERR_HANDSHAKE_REFUSED",
      "reconnecting 1 after 1006",
      "close 1006",
    ]);
  });

  test("preventDefault() on reconnecting gives up: the final close follows", async (t) => {
    const server = await refusingServer(t, 503);
    const client = reconnecting(t, server.url, { initialDelayMs: 10 });
    client.addEventListener("reconnecting", (event) => event.preventDefault());
    const closed = await nextEvent<CloseEvent>(client, "close");
    assert.equal(closed.code, 1006);
    await delay(50);
    assert.equal(server.requests(), 1);
  });

  test("a stable connection starts the backoff over: attempts count from 1 again", async (t) => {
    const peer = await peerServer(t);
    peer.server.on("connection", (socket) => setTimeout(() => socket.terminate(), 40));
    const client = reconnecting(t, peer.url, { initialDelayMs: 5, stableAfterMs: 20, random: () => 0 });
    const { log } = recordEvents(client);
    await until(() => log.filter((e) => e.type === "reconnecting").length >= 3, 3000, "three drops");
    const attempts = log
      .filter((e) => e.type === "reconnecting")
      .map((e) => (e.event as ReconnectingEvent).attempt);
    assert.deepEqual(attempts.slice(0, 3), [1, 1, 1]);
  });
});
