import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { CloseEvent } from "../../src/index.js";
import { echoServer, until } from "../client/helpers.js";
import { nextEvent, reconnecting, recordEvents } from "./helpers.js";

// What an outside review of the reconnecting client reproduced (issue 18), each with real sockets.

describe("ReconnectingWebSocket: review regressions", () => {
  test("regression: an onOpen hook that fails after stableAfterMs still counts attempts (maxAttempts ends it)", async (t) => {
    const peer = await echoServer(t);
    let connections = 0;
    peer.server.on("connection", () => connections++);
    const client = reconnecting(t, peer.url, {
      initialDelayMs: 10,
      maxDelayMs: 10,
      maxAttempts: 2,
      stableAfterMs: 50,
      onOpen: () => new Promise((_, reject) => setTimeout(() => reject(new Error("auth failed")), 80)),
    });
    client.addEventListener("error", () => {});
    await nextEvent<CloseEvent>(client, "close", 5000);
    assert.equal(connections, 3, "the first connection and maxAttempts (2) more");
  });

  test("regression: a proxy that refuses the credentials (407) is not retried", async (t) => {
    let connects = 0;
    const proxy = net.createServer((socket) => {
      connects++;
      socket.once("data", () =>
        socket.end("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"),
      );
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    t.after(() => proxy.close());
    const { port } = proxy.address() as AddressInfo;
    const client = reconnecting(t, "ws://127.0.0.1:2/", {
      initialDelayMs: 10,
      maxDelayMs: 10,
      webSocket: { proxy: `http://alice:wrong@127.0.0.1:${port}` },
    });
    const { summary } = recordEvents(client);
    await nextEvent<CloseEvent>(client, "close", 5000);
    assert.equal(connects, 1, summary().join(" | "));
    assert.ok(!summary().some((line) => line.startsWith("reconnecting")), summary().join(" | "));
  });

  test("regression: close() and preventDefault() in one reconnecting listener: one close event", async (t) => {
    const peer = await echoServer(t);
    const client = reconnecting(t, peer.url, { initialDelayMs: 10 });
    const { log } = recordEvents(client);
    await nextEvent(client, "open");
    client.addEventListener("reconnecting", (event) => {
      client.close();
      event.preventDefault();
    });
    for (const socket of peer.server.clients) socket.terminate();
    await nextEvent<CloseEvent>(client, "close", 5000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(log.filter((entry) => entry.type === "close").length, 1);
  });

  test("regression: close() from the open listener of a reconnection: no reconnected event after it", async (t) => {
    const peer = await echoServer(t);
    const client = reconnecting(t, peer.url, { initialDelayMs: 10 });
    const { summary } = recordEvents(client);
    await nextEvent(client, "open");
    client.addEventListener("open", () => client.close());
    for (const socket of peer.server.clients) socket.terminate();
    await nextEvent<CloseEvent>(client, "close", 5000);
    await until(() => summary().length > 0, 1000, "events");
    assert.ok(!summary().some((line) => line.startsWith("reconnected")), summary().join(" | "));
  });
});
