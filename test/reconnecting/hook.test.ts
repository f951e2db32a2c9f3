import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ErrorEvent } from "../../src/index.js";
import { ReconnectingWebSocket } from "../../src/reconnecting/index.js";
import { echoServer, until } from "../client/helpers.js";
import { nextEvent, reconnecting, recordEvents } from "./helpers.js";

// Issue 18: the onOpen hook (resubscribe, re-authenticate) runs on each connection before it counts as open,
// and may be async. Messages that arrive meanwhile are passed on; sends made meanwhile wait in the queue
// behind the hook's own sends. A hook that fails fails that connection, which is retried.

describe("ReconnectingWebSocket: the onOpen hook", () => {
  test("open waits for an async hook; the hook's sends go before the application's", async (t) => {
    const peer = await echoServer(t);
    let release!: () => void;
    const client = reconnecting(t, peer.url, {
      queue: { maxMessages: 5 },
      onOpen: async (socket) => {
        socket.send("auth");
        await new Promise<void>((resolve) => (release = resolve));
      },
    });
    const { summary } = recordEvents(client);
    await until(() => summary().includes("message auth"), 3000, "the hook's echo");
    assert.equal(client.readyState, ReconnectingWebSocket.CONNECTING, "not open while the hook runs");
    client.send("app");
    release();
    await nextEvent(client, "open");
    await until(() => summary().includes("message app"), 3000, "the application's echo");
    assert.deepEqual(summary(), ["message auth", "open", "message app"]);
  });

  test("a hook that rejects fails that connection (error with its error) and the next attempt follows", async (t) => {
    const peer = await echoServer(t);
    const closes: number[] = [];
    peer.server.on("connection", (socket) => socket.on("close", (code) => closes.push(code)));
    let calls = 0;
    const client = reconnecting(t, peer.url, {
      initialDelayMs: 10,
      onOpen: async () => {
        calls++;
        if (calls === 1) throw new Error("token refused");
      },
    });
    const { summary, log } = recordEvents(client);
    await nextEvent(client, "open");
    assert.equal((log[0].event as ErrorEvent).error.message, "token refused");
    assert.deepEqual(summary(), ["error token refused", "reconnecting 1 after 1000", "open"]);
    await until(() => closes.length === 1, 3000, "the server to see the first connection close");
    assert.deepEqual(closes, [1000], "the failed connection was closed by the client");
  });

  test("on* handler attributes, url, protocol and binaryType carry over to every connection", async (t) => {
    const peer = await echoServer(t);
    const client = reconnecting(t, `${peer.url}/path`, { initialDelayMs: 10 });
    client.binaryType = "arraybuffer";
    const got: unknown[] = [];
    client.onmessage = (event) => got.push(event.data);
    await nextEvent(client, "open");
    assert.equal(client.url, `${peer.url}/path`);
    assert.equal(client.protocol, "");
    client.send(new Uint8Array([7]));
    await until(() => got.length === 1, 3000, "the echo");
    assert.ok(got[0] instanceof ArrayBuffer);
    client.webSocket!.terminate();
    await nextEvent(client, "open");
    client.send(new Uint8Array([8]));
    await until(() => got.length === 2, 3000, "the echo on the new connection");
    assert.deepEqual(
      got.map((data) => [...new Uint8Array(data as ArrayBuffer)]),
      [[7], [8]],
    );
  });
});

describe("ReconnectingWebSocket: send() takes the data only", () => {
  test("regression: ws's callback and options are TypeErrors, not ignored; send(data, undefined) sends", async (t) => {
    const peer = await echoServer(t);
    const client = reconnecting(t, peer.url, {});
    const { summary } = recordEvents(client);
    await nextEvent(client, "open");
    const send = client.send as (data: unknown, second?: unknown) => void;
    assert.throws(() => send.call(client, "a", () => {}), { name: "TypeError", message: /no callback/ });
    assert.throws(() => send.call(client, "b", { binary: true }), {
      name: "TypeError",
      message: /no options/,
    });
    send.call(client, "c", undefined);
    await until(() => summary().includes("message c"), 3000, "the echo");
    assert.deepEqual(summary(), ["open", "message c"]);
  });
});
