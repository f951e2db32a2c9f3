import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConnectionLostError } from "../../src/index.js";
import {
  type OpenInfo,
  type ReconnectingEvent,
  ReconnectingWebSocket,
} from "../../src/reconnecting/index.js";
import { delay, until } from "../client/helpers.js";
import { freePort, startChildServer, stopChild } from "../support/child-server.js";
import { nextEvent, reconnecting, recordEvents } from "./helpers.js";

// Issue 18, "A reconnecting client": the server is a real process, killed (SIGKILL: no Close, no FIN from
// a graceful exit) and started again on the same port. The client retries with backoff while it is down,
// keeps what the application sends meanwhile, and on the new connection runs the onOpen hook (resubscribe)
// before the queued messages and the `open` event.

describe("ReconnectingWebSocket against a server process that is killed and restarted", () => {
  test("reconnects once the server is back on its port: hook first, then the queued sends, then open and reconnected", async (t) => {
    const port = await freePort();
    const first = await startChildServer(t, port);
    const hookCalls: OpenInfo[] = [];
    const client = reconnecting(t, first.url, {
      initialDelayMs: 20,
      maxDelayMs: 100,
      queue: { maxMessages: 10 },
      onOpen: async (socket, info) => {
        hookCalls.push(info);
        await delay(5);
        socket.send(`subscribe ${hookCalls.length}`);
      },
    });
    const { log, summary } = recordEvents(client);
    const messages: string[] = [];
    client.onmessage = (event) => messages.push(String(event.data));
    await nextEvent(client, "open");
    assert.equal(client.readyState, ReconnectingWebSocket.OPEN);
    client.send("before");
    await until(() => messages.length === 2, 3000, "the first two echoes");

    const firstDrop = nextEvent<ReconnectingEvent>(client, "reconnecting");
    await stopChild(first.child);
    const dropped = await firstDrop;
    assert.equal(dropped.attempt, 1);
    assert.equal(dropped.code, 1006);
    assert.equal(dropped.wasClean, false);
    assert.ok(dropped.error instanceof ConnectionLostError);
    assert.equal(client.readyState, ReconnectingWebSocket.CONNECTING);
    client.send("while down");
    assert.equal(client.bufferedAmount, Buffer.byteLength("while down"));
    // At least one attempt is refused while nothing listens.
    await until(() => summary().includes("error SJ_ERR_CONNECTION_REFUSED"), 3000, "a refused attempt");

    const back = nextEvent(client, "reconnected");
    await startChildServer(t, port);
    await back;
    await until(() => messages.length === 4, 3000, "the echoes on the new connection");
    assert.deepEqual(messages, ["subscribe 1", "before", "subscribe 2", "while down"]);
    assert.deepEqual(
      hookCalls.map((info) => info.reconnect),
      [false, true],
    );
    assert.ok(hookCalls[1].attempt >= 2, "the hook is told how many attempts it took");
    const events = summary().filter((line) => !line.startsWith("message"));
    // Every disconnected period ends in open then reconnected; close is never fired in between.
    assert.deepEqual(events.slice(-2), ["open", `reconnected ${hookCalls[1].attempt}`]);
    assert.ok(!events.includes("close 1006"), events.join("\n"));
    assert.equal(log.filter((e) => e.type === "open").length, 2, "one open per connection");

    client.close(1000, "done");
    const closed = await nextEvent<CloseEvent>(client, "close");
    assert.equal(closed.code, 1000);
    assert.equal(closed.wasClean, true);
    assert.equal(client.readyState, ReconnectingWebSocket.CLOSED);
    await delay(150);
    assert.equal(client.webSocket, null, "no new connection after close()");
    assert.equal(
      summary().filter((line) => line.startsWith("reconnecting")).length,
      events.filter((line) => line.startsWith("reconnecting")).length,
    );
  });
});
