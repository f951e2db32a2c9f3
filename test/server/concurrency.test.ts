import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/web/websocket.js";
import { defer, onClose, onMessage, startServer, waitFor, within } from "./helpers.js";

// Many connections at once: 1,000 of our clients, each sending 5 numbered messages to an echo server that
// tags each reply with the connection it came from. Every reply must come back, to the right client, in order.

const CLIENTS = 1000;
const MESSAGES = 5;

describe("1,000 concurrent connections", () => {
  test("each exchanges 5 numbered messages: none lost, none crossed, all in order", async (t) => {
    const { server, url } = await startServer(t, { pingIntervalMs: 0 });
    server.on("connection", (ws, request) => {
      const id = new URL(request.url ?? "/", "ws://x").searchParams.get("id");
      onMessage(ws, (data) => ws.send(`${id}:${data}`));
    });

    const clients: WebSocket[] = [];
    const received: string[][] = [];
    defer(t, () => {
      for (const c of clients) c.terminate();
    });
    // Open in waves of 200 so the listen backlog never overflows (a dropped SYN costs a 1 s retransmit),
    // but keep every connection open: all 1,000 are open at the same time below.
    for (let wave = 0; wave < CLIENTS; wave += 200) {
      const opening: Promise<void>[] = [];
      for (let i = wave; i < Math.min(CLIENTS, wave + 200); i++) {
        const ws = new WebSocket(`${url}/?id=${i}`);
        clients.push(ws);
        received.push([]);
        onMessage(ws, (data) => received[i].push(data));
        opening.push(
          new Promise((resolve, reject) => {
            ws.addEventListener("open", () => resolve());
            ws.addEventListener("close", () => reject(new Error(`client ${i} closed before opening`)));
          }),
        );
      }
      await within(Promise.all(opening), 10_000, `wave ${wave / 200 + 1} of connections to open`);
    }
    assert.equal(server.clients.size, CLIENTS);
    assert.ok(clients.every((c) => c.readyState === WebSocket.OPEN));

    for (let n = 0; n < MESSAGES; n++) for (let i = 0; i < CLIENTS; i++) clients[i].send(`msg-${n}`);
    await waitFor(() => received.every((r) => r.length >= MESSAGES), 15_000, `${CLIENTS * MESSAGES} echoes`);
    for (let i = 0; i < CLIENTS; i++) {
      assert.deepEqual(
        received[i],
        Array.from({ length: MESSAGES }, (_, n) => `${i}:msg-${n}`),
        `client ${i}`,
      );
    }

    // And all of them close cleanly.
    const closes = clients.map((c) => new Promise<number>((resolve) => onClose(c, resolve)));
    for (const c of clients) c.close(1000);
    const codes = await within(Promise.all(closes), 10_000, "1,000 clean closes");
    assert.ok(codes.every((code) => code === 1000));
    await waitFor(() => server.clients.size === 0, 5000, "the server to forget every connection");
  });
});
