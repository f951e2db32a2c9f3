import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// What an idle socket does not keep (issue 17) must not change what it does once used: its frame parser is
// made on the first bytes, a client's MessageEvent.origin on the first message. Listeners and on* handlers
// stay per socket.

async function echoServer() {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  server.on("connection", (socket) => {
    socket.onmessage = (event) => socket.send(event.data as string);
  });
  const { port } = server.address() as { port: number };
  return { server, port };
}

function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("connection failed"));
  });
}

describe("idle footprint", () => {
  it("keeps listeners, on* handlers and the message origin per socket", async () => {
    const { server, port } = await echoServer();
    try {
      const a = await open(`ws://127.0.0.1:${port}/a`);
      const b = await open(`ws://localhost:${port}/b`);
      const gotA: string[] = [];
      const gotB: string[] = [];
      const listened: string[] = [];
      a.onmessage = (event) => gotA.push(`${event.data} from ${event.origin}`);
      a.addEventListener("message", (event) => listened.push(String(event.data)));
      b.onmessage = (event) => gotB.push(`${event.data} from ${event.origin}`);
      const bothAnswered = new Promise<void>((resolve) => {
        const check = () => gotA.length === 2 && gotB.length === 1 && resolve();
        a.addEventListener("message", check);
        b.addEventListener("message", check);
      });
      a.send("one");
      a.send("two");
      b.send("three");
      await bothAnswered;
      assert.deepEqual(gotA, [`one from ws://127.0.0.1:${port}`, `two from ws://127.0.0.1:${port}`]);
      assert.deepEqual(gotB, [`three from ws://localhost:${port}`]);
      assert.deepEqual(listened, ["one", "two"]);
      a.onmessage = null;
      assert.equal(a.onmessage, null);
      assert.equal(typeof b.onmessage, "function");
      a.close();
      b.close();
    } finally {
      await server.close();
    }
  });
});
