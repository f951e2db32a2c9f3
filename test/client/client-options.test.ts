import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket, type WebSocketOptions, WebSocketServer } from "../../src/index.js";
import { collectingServer, connect, next, peerServer, until } from "./helpers.js";

// The Node-only third constructor argument is checked like the server's options: a wrong value, or an option
// under ws's name, is a TypeError at construction that names the option (before, each was ignored or did
// something else once connected: maxPayloadBytes "1k" refused every message, maxPayload left 64 MiB).

function assertTypeError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

describe("client options: values", () => {
  for (const [options, name] of [
    [{ maxPayloadBytes: -1 }, "maxPayloadBytes"],
    [{ maxPayloadBytes: "1k" }, "maxPayloadBytes"],
    [{ maxPayloadBytes: Number.NaN }, "maxPayloadBytes"],
    [{ maxPayloadBytes: 0 }, "maxPayloadBytes"],
    // Counts are whole numbers, as on the server (2.5 was taken as it was).
    [{ maxPayloadBytes: 2.5 }, "maxPayloadBytes"],
    [{ maxFragmentsPerMessage: 1.5 }, "maxFragmentsPerMessage"],
    [{ maxFragmentsPerMessage: -1 }, "maxFragmentsPerMessage"],
    [{ handshakeTimeoutMs: -5 }, "handshakeTimeoutMs"],
    [{ handshakeTimeoutMs: "x" }, "handshakeTimeoutMs"],
    [{ closeTimeoutMs: -1 }, "closeTimeoutMs"],
    [{ maxHeaderBytes: 1.5 }, "maxHeaderBytes"],
    [{ perMessageDeflate: "yes" }, "perMessageDeflate"],
    // ws reads 0 as "no timeout"; here it failed every handshake at once (review 132).
    [{ handshakeTimeoutMs: 0 }, "handshakeTimeoutMs"],
    // Node's own "Invalid character in header content" named no option (review 132).
    [{ origin: "a\nb" }, "origin"],
    [{ origin: 5 }, "origin"],
  ] as const) {
    test(`new WebSocket(url, [], ${JSON.stringify(options, (_, v) => (Number.isNaN(v) ? "NaN" : v))}) throws a TypeError naming ${name}`, async (t) => {
      const peer = await peerServer(t);
      assertTypeError(
        () => connect(t, peer.url, [], options as unknown as WebSocketOptions),
        new RegExp(`options\\.${name} must be`),
      );
    });
  }

  test("an options object as the second argument, a bad baseURL: the SyntaxError says which", () => {
    assert.throws(() => new WebSocket("ws://127.0.0.1:1/", { headers: {} } as never), {
      name: "SyntaxError",
      message: /options go in the third argument/,
    });
    assert.throws(() => new WebSocket("/p", [], { baseURL: "nope" }), {
      name: "SyntaxError",
      message: /its base, the baseURL option 'nope', is not an absolute URL/,
    });
    // A bad URL itself keeps the standard's wording.
    assert.throws(() => new WebSocket("ws://[", []), {
      name: "SyntaxError",
      message: /^The URL 'ws:\/\/\[' is invalid\.$/,
    });
  });

  test("maxPayloadBytes: Infinity (no limit) receives a 2 MiB message", async (t) => {
    const peer = await peerServer(t);
    peer.server.on("connection", (socket) => socket.send(Buffer.alloc(2 * 1024 * 1024, 7)));
    const ws = connect(t, peer.url, [], { maxPayloadBytes: Number.POSITIVE_INFINITY });
    ws.binaryType = "arraybuffer";
    const event = await next<MessageEvent>(ws, "message");
    assert.equal((event.data as ArrayBuffer).byteLength, 2 * 1024 * 1024);
  });
});

describe("ws's option names get the sockjet name", () => {
  test("client maxPayload → 'maxPayload is ws's name: use maxPayloadBytes'", async (t) => {
    const peer = await peerServer(t);
    assertTypeError(
      () => connect(t, peer.url, [], { maxPayload: 1 } as WebSocketOptions),
      /^options\.maxPayload is ws's name: use maxPayloadBytes$/,
    );
  });

  test("client handshakeTimeout and followRedirects are refused with what to do instead", async (t) => {
    const peer = await peerServer(t);
    assertTypeError(
      () => connect(t, peer.url, [], { handshakeTimeout: 100 } as WebSocketOptions),
      /use handshakeTimeoutMs/,
    );
    assertTypeError(
      () => connect(t, peer.url, [], { followRedirects: true } as WebSocketOptions),
      /never follows redirects/,
    );
  });

  test("regression: ws's agent (how ws users reach a proxy) is refused, naming proxy, not dropped", async (t) => {
    const peer = await peerServer(t);
    assertTypeError(
      () => connect(t, peer.url, [], { agent: {} } as WebSocketOptions),
      /^options\.agent is ws's name: sockjet makes its own connections: for a proxy use proxy/,
    );
  });

  test("regression: send() refuses ws's callback and ws's send options, which it would otherwise ignore", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    const send = ws.send as (data: unknown, options?: unknown) => void;
    assertTypeError(() => send.call(ws, "a", () => {}), /send\(\) takes no callback.*bufferedAmount/);
    assertTypeError(() => send.call(ws, "b", { binary: true }), /^send\(\) options\.binary is ws's name: /);
    assertTypeError(() => send.call(ws, "c", { fin: false }), /^send\(\) options\.fin is ws's name: /);
    assertTypeError(() => send.call(ws, "d", 5), /options are not an object/);
    // What WebIDL makes of an absent dictionary, and sockjet's own member, still send.
    send.call(ws, "e", null);
    send.call(ws, "f", { compress: false, binary: undefined });
    await until(() => peer.received.length >= 2, 3000, "the two messages");
    assert.deepEqual(
      peer.received.map((m) => m.data.toString()),
      ["e", "f"],
    );
  });

  test("other unknown client options are left alone (options are added over time)", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url, [], { someFutureOption: 1 } as WebSocketOptions);
    await next(ws, "open");
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  for (const [name, replacement] of [
    ["maxPayload", "maxPayloadBytes"],
    ["pingInterval", "pingIntervalMs"],
    ["verifyClient", "verify"],
  ] as const) {
    test(`new WebSocketServer({ ${name} }) throws: use ${replacement}`, () => {
      assertTypeError(
        () => new WebSocketServer({ noServer: true, [name]: 5 }),
        new RegExp(`^options\\.${name} is ws's name: use ${replacement}`),
      );
    });
  }

  test("ws's perMessageDeflate names (threshold: 0 compressed nothing, silently) are refused on both sides", async (t) => {
    assertTypeError(
      () => new WebSocketServer({ noServer: true, perMessageDeflate: { threshold: 0 } as never }),
      /^perMessageDeflate\.threshold is ws's name: use thresholdBytes$/,
    );
    assertTypeError(
      () => new WebSocketServer({ noServer: true, perMessageDeflate: { concurrencyLimit: 4 } as never }),
      /use setZlibConcurrency/,
    );
    const peer = await peerServer(t);
    assertTypeError(
      () => connect(t, peer.url, [], { perMessageDeflate: { zlibDeflateOptions: {} } } as WebSocketOptions),
      /^perMessageDeflate\.zlibDeflateOptions is ws's name: use level and memLevel$/,
    );
  });

  test("new WebSocketServer({ maxPayloadBytes: 0 }) throws (it would refuse every non-empty message)", () => {
    assertTypeError(
      () => new WebSocketServer({ noServer: true, maxPayloadBytes: 0 }),
      /Infinity for no limit/,
    );
  });
});
