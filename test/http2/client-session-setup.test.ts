import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/web/websocket.js";
import { defer, HOST, sleep, waitFor, within } from "../server/helpers.js";
import { delayingRelay, outcomeOf, refusingServer, silentServer } from "./client-peers.js";

// Sockets that wait on one HTTP/2 session being set up (a second WebSocket to an origin while the first's
// session waits for TCP, TLS or the server's SETTINGS, RFC 9113 §3.4): each keeps its own handshakeTimeoutMs,
// and a setup nobody waits for any more is given up. Cleartext h2c by prior knowledge (http2 "always").

const timedOut = (ms: number) => [
  `error SJ_ERR_HANDSHAKE_TIMEOUT: no answer to the opening handshake within ${ms} ms`,
  "close",
];

/** A socket to `url` over HTTP/2 with `handshakeTimeoutMs`, terminated after the test. */
function open(t: Parameters<typeof defer>[0], url: string, handshakeTimeoutMs: number): WebSocket {
  const socket = new WebSocket(url, [], { http2: "always", handshakeTimeoutMs });
  defer(t, () => socket.terminate());
  return socket;
}

function assertAround(at: number, expected: number, label: string): void {
  assert.ok(
    at >= expected - 50 && at < expected + 250,
    `${label} came ${at} ms after the start, not at ${expected}`,
  );
}

describe("WebSocket client over HTTP/2: sockets waiting on one session's setup", () => {
  test("regression: each socket waiting on a setup times out at its own handshakeTimeoutMs, as SJ_ERR_HANDSHAKE_TIMEOUT", async (t) => {
    // A server that never sends its SETTINGS: the session's setup never ends.
    const { port, held } = await silentServer(t);
    const url = `ws://${HOST}:${port}/`;
    const started = Date.now();
    // The first starts the setup; the others wait on it (one connection for the three).
    const first = outcomeOf(open(t, url, 300), started);
    const longer = outcomeOf(open(t, url, 1200), started);
    const shorter = outcomeOf(open(t, url, 200), started);
    const [a, b, c] = await within(Promise.all([first, longer, shorter]), 5000, "the three outcomes");
    t.diagnostic(`closed after ${a.at}, ${b.at}, ${c.at} ms`);
    assert.deepEqual(a.events, timedOut(300));
    assert.deepEqual(c.events, timedOut(200));
    // Before the fix: at ~305 ms, "SJ_ERR_NETWORK: no HTTP/2 session within 300 ms" (the first socket's
    // bound on the setup, which the waiting sockets shared).
    assert.deepEqual(b.events, timedOut(1200));
    assertAround(a.at, 300, "the first socket's timeout");
    assertAround(b.at, 1200, "the longer socket's timeout");
    assertAround(c.at, 200, "the shorter socket's timeout");
    assert.equal(held.length, 1, "the three sockets waited on one session");
  });

  test("regression: the setup runs to the latest waiter's deadline: SETTINGS that come after the first socket gave up carry the next", async (t) => {
    // An h2c WebSocket server reached through a relay that holds each connection 600 ms.
    const { base, sessions, wss } = await refusingServer(t, () => {});
    const relayPort = await delayingRelay(t, Number(new URL(base).port), 600);
    const url = `ws://${HOST}:${relayPort}/`;
    const started = Date.now();
    const first = outcomeOf(open(t, url, 300), started);
    const second = outcomeOf(open(t, url, 3000), started);
    const [a, b] = await within(Promise.all([first, second]), 5000, "the two outcomes");
    t.diagnostic(`first closed after ${a.at} ms, second opened after ${b.at} ms`);
    assert.deepEqual(a.events, timedOut(300));
    // Before the fix: the setup was given up at the first socket's 300 ms, and the second failed with it.
    assert.deepEqual(b.events, ["open"]);
    assert.ok(b.at >= 550 && b.at < 1500, `the second socket opened after ${b.at} ms`);
    assert.equal(sessions.length, 1, "on the session the first socket started");
    await waitFor(() => wss.clients.size === 1, 2000, "the server's one client");
  });
});

describe("WebSocket client over HTTP/2: a setup nobody waits for is given up", () => {
  test("regression: close() of the one socket waiting on a setup closes its connection at once", async (t) => {
    const { port, held } = await silentServer(t);
    const started = Date.now();
    const socket = open(t, `ws://${HOST}:${port}/`, 20_000);
    const outcome = outcomeOf(socket, started);
    await waitFor(() => held.length === 1, 2000, "the connection");
    socket.close();
    assert.deepEqual((await within(outcome, 2000, "the socket's outcome")).events, [
      "error SJ_ERR_ABORTED: WebSocket was closed before the connection was established",
      "close",
    ]);
    // Before the fix the connection stayed open (and held the process) until the 20 s setup timeout.
    await waitFor(() => held[0].closedAt !== null, 1000, "the connection's close");
    assert.ok((held[0].closedAt ?? 0) - started < 1000);
  });

  test("regression: the last waiter's deadline closes the connection, though the socket that started the setup allowed 20 s", async (t) => {
    const { port, held } = await silentServer(t);
    const url = `ws://${HOST}:${port}/`;
    const started = Date.now();
    const starter = open(t, url, 20_000);
    const starterOutcome = outcomeOf(starter, started);
    const waiter = outcomeOf(open(t, url, 500), started);
    await waitFor(() => held.length === 1, 2000, "the connection");
    starter.close();
    await within(starterOutcome, 2000, "the closed socket's outcome");
    // One socket still waits: the setup goes on.
    await sleep(100);
    assert.equal(held[0].closedAt, null, "the setup goes on while a socket waits for it");
    const { events, at } = await within(waiter, 2000, "the waiting socket's outcome");
    assert.deepEqual(events, timedOut(500));
    assertAround(at, 500, "the waiting socket's timeout");
    // Before the fix: open until the first socket's 20 s.
    await waitFor(() => held[0].closedAt !== null, 1000, "the connection's close");
    assert.equal(held.length, 1);
  });
});
