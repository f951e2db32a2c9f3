import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/index.js";
import { ReconnectingWebSocket } from "../../src/reconnecting/index.js";
import { collectingServer, until } from "../client/helpers.js";
import { nextEvent, reconnecting } from "./helpers.js";

// WebIDL argument conversions of the ReconnectingWebSocket, the same as the WebSocket's whatever the state
// (outside review 49).

describe("ReconnectingWebSocket: WebIDL conversions", () => {
  test("send() converts as WebSocket.send() while queued too: a number, an object, null are text", async (t) => {
    const peer = await collectingServer(t);
    const client = reconnecting(t, peer.url, { queue: { maxMessages: 10, maxBytes: 100 } });
    const bytes = new Uint8Array([1, 2, 3]);
    // CONNECTING: queued. (BufferSource or Blob or USVString): 5 → "5", {} → "[object Object]", null → "null".
    for (const value of [5, {}, null, bytes]) client.send(value as never);
    bytes[0] = 9; // the queue keeps the bytes as they were at send()
    assert.equal(client.bufferedAmount, 1 + 15 + 4 + 3);
    assert.throws(() => client.send(Symbol("s") as never), TypeError);
    assert.throws(() => (client.send as (...args: unknown[]) => void)(), TypeError);
    // A shared buffer: the error names the ReconnectingWebSocket (it said 'WebSocket').
    assert.throws(() => client.send(new SharedArrayBuffer(2) as never), {
      name: "TypeError",
      message:
        "Failed to execute 'send' on 'ReconnectingWebSocket': The provided ArrayBuffer value must not be shared.",
    });
    assert.equal(client.bufferedAmount, 23);
    await nextEvent(client, "open");
    // OPEN: the same values give the same messages.
    for (const value of [5, {}, null]) client.send(value as never);
    assert.throws(() => client.send(Symbol("s") as never), TypeError);
    // A shared or resizable buffer: named as while queued (it said 'WebSocket' when open: review 141).
    for (const [buffer, what] of [
      [new SharedArrayBuffer(2), "shared"],
      [new ArrayBuffer(2, { maxByteLength: 4 }), "resizable"],
    ] as const) {
      assert.throws(() => client.send(buffer as never), {
        name: "TypeError",
        message: `Failed to execute 'send' on 'ReconnectingWebSocket': The provided ArrayBuffer value must not be ${what}.`,
      });
    }
    await until(() => peer.received.length === 7, 3000, "the messages");
    const got = peer.received.map(({ data, isBinary }) =>
      isBinary ? `binary ${[...data]}` : `text ${data}`,
    );
    assert.deepEqual(got, [
      "text 5",
      "text [object Object]",
      "text null",
      "binary 1,2,3",
      "text 5",
      "text [object Object]",
      "text null",
    ]);
  });

  test("queue.maxBytes counts the converted bytes: after send(1) it still bounds the queue", async (t) => {
    const peer = await collectingServer(t);
    const client = reconnecting(t, peer.url, { queue: { maxMessages: 1000, maxBytes: 100 } });
    client.send(1 as never);
    client.send("x".repeat(50));
    assert.throws(() => client.send("x".repeat(50)), { name: "QuotaExceededError" });
    assert.equal(client.bufferedAmount, 51);
  });

  test('close() converts the code as [Clamp] unsigned short: "1000" and 1000.4 close with 1000', async (t) => {
    const peer = await collectingServer(t);
    for (const code of ["1000", 1000.4, 4000.5]) {
      const client = reconnecting(t, peer.url);
      await nextEvent(client, "open");
      client.close(code as never, "bye");
      assert.equal(client.readyState, client.CLOSING);
      await nextEvent(client, "close");
    }
    await until(() => peer.closes.length === 3, 3000, "the closes");
    // 4000.5 rounds half to even (WebIDL §3.2.4 [Clamp]).
    assert.deepEqual(peer.closes, [
      { code: 1000, reason: "bye" },
      { code: 1000, reason: "bye" },
      { code: 4000, reason: "bye" },
    ]);
    // Still WebSocket's checks after the conversion: "abc" is 0, 1001.4 is 1001.
    const client = reconnecting(t, peer.url);
    // The errors name the interface whose method was called, as WebSocket's name WebSocket.
    assert.throws(() => client.close("abc" as never), {
      name: "InvalidAccessError",
      message: /^Failed to execute 'close' on 'ReconnectingWebSocket': The close code/,
    });
    assert.throws(() => client.close(1001.4), { name: "InvalidAccessError" });
    assert.throws(() => client.close(1000, "x".repeat(124)), {
      name: "SyntaxError",
      message: /^Failed to execute 'close' on 'ReconnectingWebSocket': The close reason/,
    });
    assert.equal(client.readyState, client.CONNECTING);
  });

  test("the constructor: no argument is a TypeError as for WebSocket; a stop list that is not iterable is named", () => {
    const Constructor = ReconnectingWebSocket as unknown as new (...args: unknown[]) => unknown;
    assert.throws(
      () => new Constructor(),
      (error: Error) => {
        assert.ok(error instanceof TypeError, `${error.name}: ${error.message}`);
        assert.match(error.message, /1 argument required/);
        return true;
      },
    );
    // Checked before any connection is made (no socket to close).
    for (const name of ["stopCloseCodes", "stopStatuses"]) {
      for (const value of [4001, "1000", null, {}, [401, "403"]]) {
        assert.throws(
          () => new Constructor("ws://127.0.0.1:1/", [], { [name]: value }),
          (error: Error) => {
            assert.ok(error instanceof TypeError, `${name}: ${String(value)}: ${error.message}`);
            assert.match(error.message, new RegExp(`options\\.${name}`));
            return true;
          },
        );
      }
    }
  });
});

describe("ReconnectingWebSocket: the protocols argument is converted once (review 152)", () => {
  for (const [what, make] of [
    ["an iterator (used up by the first conversion)", () => new Set(["a", "b"]).values()],
    ["an array changed after the constructor", () => ["a", "b"]],
  ] as const) {
    test(`${what}: every connection offers the same list`, async (t) => {
      const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
      t.after(() => server.close());
      await new Promise<void>((resolve) => server.once("listening", resolve));
      const offered: string[] = [];
      server.on("connection", (socket, request) => {
        offered.push(String(request.headers["sec-websocket-protocol"] ?? ""));
        // The first connection is cut, so the client connects again.
        if (offered.length === 1) socket.terminate();
      });
      const protocols = make();
      const client = new ReconnectingWebSocket(
        `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        protocols as Iterable<string> as string[],
        { initialDelayMs: 10 },
      );
      t.after(() => client.close());
      if (Array.isArray(protocols)) protocols.splice(0, 2, "c");
      await until(() => offered.length >= 2, 5000, "a second connection");
      assert.deepEqual(offered.slice(0, 2), ["a, b", "a, b"]);
    });
  }
});
