import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ReconnectingWebSocket, type ReconnectingWebSocketOptions } from "../../src/reconnecting/index.js";

// Option names ReconnectingWebSocket does not take, but that people bring from the reconnecting-websocket
// package (which docs/migrating-from-ws.md points away from), from ResumableWebSocket or Socket.IO, or that
// belong to the WebSocket: a TypeError that names the right option, not ignored (review 132: `maxRetries: 1`
// retried 140 times in 1.5 s). The constructor throws before any connection is made (port 2: refused).

function construct(options: Record<string, unknown>): ReconnectingWebSocket {
  return new ReconnectingWebSocket("ws://127.0.0.1:2/", [], options as ReconnectingWebSocketOptions);
}

describe("ReconnectingWebSocket: other clients' option names", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [
      { maxRetries: 1 },
      /^ReconnectingWebSocket: options\.maxRetries is the reconnecting-websocket package's name .*use maxAttempts$/,
    ],
    [
      { maxReconnectionDelay: 5000 },
      /options\.maxReconnectionDelay is the reconnecting-websocket package's name: use maxDelayMs$/,
    ],
    [{ minReconnectionDelay: 100 }, /options\.minReconnectionDelay is .*: use initialDelayMs/],
    [
      { reconnectionDelayGrowFactor: 1.3 },
      /options\.reconnectionDelayGrowFactor is .*initialDelayMs up to maxDelayMs$/,
    ],
    [{ minUptime: 5000 }, /options\.minUptime is .*: use stableAfterMs$/],
    [{ connectionTimeout: 4000 }, /options\.connectionTimeout is .*: use handshakeTimeoutMs in webSocket/],
    [
      { maxEnqueuedMessages: 10 },
      /options\.maxEnqueuedMessages is .*: use queue \(\{ queue: \{ maxMessages \} \}/,
    ],
    [
      { startClosed: true },
      /options\.startClosed is .*construct the ReconnectingWebSocket when it should connect$/,
    ],
    [{ debug: true }, /options\.debug is .*listen to its events/],
    [{ WebSocket: class {} }, /options\.WebSocket is .*it always opens sockjet's WebSocket$/],
    [{ webSocketOptions: {} }, /options\.webSocketOptions is ResumableWebSocket's name: use webSocket$/],
    [{ reconnectionAttempts: 3 }, /options\.reconnectionAttempts is Socket\.IO's name: use maxAttempts$/],
  ];
  for (const [options, message] of cases) {
    test(`${Object.keys(options)[0]}: a TypeError naming the option to use`, () => {
      assert.throws(
        () => construct(options),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe("ReconnectingWebSocket: WebSocket options at the top level", () => {
  for (const options of [
    { headers: { Authorization: "Bearer t" } },
    { heartbeat: true },
    { perMessageDeflate: false },
    { proxy: "http://127.0.0.1:3128" },
    { handshakeTimeoutMs: 1000 },
    { rejectUnauthorized: false },
    { localAddress: "127.0.0.2" },
  ]) {
    const name = Object.keys(options)[0];
    test(`${name}: a TypeError that says it goes in webSocket`, () => {
      assert.throws(
        () => construct(options),
        new TypeError(
          `ReconnectingWebSocket: options.${name} is an option of the WebSocket: pass it in webSocket ({ webSocket: { … } })`,
        ),
      );
    });
  }

  test("protocols: a TypeError that says it is the second argument", () => {
    assert.throws(
      () => construct({ protocols: ["chat"] }),
      /options\.protocols is the constructor's second argument/,
    );
  });

  test("the same options in webSocket are taken (no TypeError)", () => {
    const client = construct({
      webSocket: { headers: { Authorization: "Bearer t" }, heartbeat: true },
      maxAttempts: 0,
    });
    client.addEventListener("error", () => {});
    client.close();
  });
});
