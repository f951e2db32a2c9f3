import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { MessageEvent as SockjetMessageEvent, WebSocket, WebSocketServer } from "../../src/index.js";

// HTML §9.2: a received message is a MessageEvent. Browser code that checks `event instanceof MessageEvent`
// (the global one: Node has it since 15) must see ours as one, on both ends of a real connection, while every
// attribute reads as ours.

test("received messages are instances of the platform's MessageEvent, on the client and on the server", async () => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(server, "listening");
  const serverEvents: Event[] = [];
  server.on("connection", (socket) => {
    socket.addEventListener("message", (event) => {
      serverEvents.push(event);
      socket.send(`echo ${event.data}`);
    });
  });
  const { port } = server.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  await once(client, "open");
  client.send("hello");
  const [event] = (await once(client, "message")) as [MessageEvent];
  for (const received of [event, serverEvents[0]]) {
    assert.ok(received instanceof globalThis.MessageEvent, "instanceof the global MessageEvent");
    assert.ok(received instanceof SockjetMessageEvent, "instanceof sockjet's MessageEvent");
    assert.ok(received instanceof Event);
    assert.equal(Object.prototype.toString.call(received), "[object MessageEvent]");
    assert.equal(received.lastEventId, "");
    assert.equal(received.source, null);
    assert.deepEqual(received.ports, []);
  }
  assert.equal(event.data, "echo hello");
  assert.equal(event.origin, `ws://127.0.0.1:${port}`);
  assert.equal((serverEvents[0] as MessageEvent).data, "hello");
  // Constructed by hand, too, and dispatched by an ordinary EventTarget.
  const made = new SockjetMessageEvent("message", { data: 1 });
  assert.ok(made instanceof globalThis.MessageEvent);
  const target = new EventTarget();
  let seen: unknown = null;
  target.addEventListener("message", (e) => {
    seen = (e as MessageEvent).data;
  });
  target.dispatchEvent(made);
  assert.equal(seen, 1);
  client.close();
  await once(client, "close");
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
