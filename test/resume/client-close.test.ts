// ResumableWebSocket.close() follows WebSocket.close() (WHATWG WebSockets, "The close(code, reason) method",
// steps 1–2): a code other than 1000 or 3000–4999, or a reason over 123 UTF-8 bytes, throws before anything
// changes (the client goes on, its connection stays up); a valid close() ends the connection on the server
// too and fires one `close` with the code the connection closed with.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ResumableWebSocket, type ResumeEvent } from "../../src/resume/client.js";
import { WebSocket } from "../../src/web/websocket.js";
import { startServer, until } from "./helpers.js";

for (const [code, reason, name] of [
  [1001, undefined, "InvalidAccessError"],
  [4000, "x".repeat(124), "SyntaxError"],
] as const) {
  test(`close(${code}${reason === undefined ? "" : ", a 124-byte reason"}) throws ${name} and changes nothing; close() then ends the connection`, async (t) => {
    const started = await startServer(t, { resume: {} });
    started.server.on("connection", (socket) => socket.subscribe("t"));
    const client = new ResumableWebSocket(started.url, {
      WebSocket: WebSocket as never,
      binaryType: "arraybuffer",
    });
    t.after(() => client.close());
    const closes: ResumeEvent[] = [];
    const received: string[] = [];
    client.addEventListener("close", (event) => closes.push(event));
    client.addEventListener("message", (event) => received.push(event.data));
    await until(() => client.connected && started.server.subscriberCount("t") === 1, 5000, "a session");

    assert.throws(() => client.close(code, reason), { name });
    // Still up: the session goes on as if close() had not been called.
    assert.equal(client.connected, true);
    assert.equal(client.readyState, ResumableWebSocket.OPEN);
    started.server.publish("t", "still here");
    await until(() => received.length === 1, 5000, "a message after the refused close()");
    client.send("a send after the refused close()");

    client.close(4000, "bye");
    await until(() => closes.length === 1 && started.server.clients.size === 0, 5000, "the close");
    assert.equal(closes[0].code, 4000);
    assert.equal(closes[0].reason, "bye");
    assert.equal(closes[0].wasClean, true);
    assert.equal(client.readyState, ResumableWebSocket.CLOSED);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(closes.length, 1);
  });
}
