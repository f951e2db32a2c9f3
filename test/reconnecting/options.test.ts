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

describe("ReconnectingWebSocket: argument errors name the argument, as the WebSocket constructor's do", () => {
  const url = "ws://127.0.0.1:2/";

  test("regression: options that are not an object: a TypeError, as new WebSocket(url, [], 5) throws", () => {
    for (const options of [5, "x", true]) {
      assert.throws(
        () => new ReconnectingWebSocket(url, [], options as never),
        new TypeError("options must be an object"),
      );
    }
    // undefined and null are no options, as for the WebSocket.
    for (const options of [undefined, null]) {
      const client = new ReconnectingWebSocket(url, [], options as never);
      client.addEventListener("error", () => {});
      client.close();
    }
  });

  test("regression: a mistake in webSocket is named options.webSocket.…, not options.…", () => {
    for (const [webSocket, message] of [
      [5, "options.webSocket must be an object"],
      [{ maxPayload: 5 }, "options.webSocket.maxPayload is ws's name: use maxPayloadBytes"],
      [
        { handshakeTimeoutMs: -1 },
        "options.webSocket.handshakeTimeoutMs must be a non-negative number, not -1",
      ],
      [
        { proxyFromEnvironment: "yes" },
        'options.webSocket.proxyFromEnvironment must be a boolean, not "yes"',
      ],
      [{ heartbeat: 5 }, "options.webSocket.heartbeat must be a boolean or { intervalMs, timeoutMs }"],
      [{ headers: 5 }, "options.webSocket.headers must be an object"],
      [{ http2: "yes" }, 'options.webSocket.http2 must be "auto", "never" or "always", not "yes"'],
      [
        { proxy: "ftp://h:1" },
        'options.webSocket.proxy: unsupported proxy scheme "ftp:" (use http:, https:, socks5: or socks5h:)',
      ],
    ] as const) {
      assert.throws(() => construct({ webSocket }), new TypeError(message));
    }
  });

  test("regression: options as the second argument: the SyntaxError names this constructor's overload", () => {
    assert.throws(() => new ReconnectingWebSocket(url, { maxAttempts: 1 } as never), {
      name: "SyntaxError",
      message:
        "The subprotocol '[object Object]' is invalid. (options go in the third argument: new ReconnectingWebSocket(url, protocols, options))",
    });
    // Protocols themselves are still checked by the WebSocket, with the standard's messages.
    assert.throws(() => new ReconnectingWebSocket(url, ["a b"]), {
      name: "SyntaxError",
      message: "The subprotocol 'a b' is invalid.",
    });
  });
});
