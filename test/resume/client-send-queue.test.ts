// What ResumableWebSocket.send() queues while no session is up (docs/resume.md): the message as WebSocket's
// send() would take it at the call (WHATWG send(); WebIDL's union conversion), and the session of a client
// whose WebSocket refuses one of its messages as too big (review 127: it resumed for ever, replaying it).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { WebSocket } from "../../src/web/websocket.js";
import { resumeClient, startServer, until } from "./helpers.js";

describe("ResumableWebSocket.send() before the session", () => {
  test("bytes are taken at the call; other values become strings, as WebSocket's send() makes them", async (t) => {
    const started = await startServer(t, { resume: {} });
    const received: string[] = [];
    started.server.on("connection", (socket) => {
      socket.binaryType = "nodebuffer";
      socket.addEventListener("message", (event) => {
        const data = event.data as string | Buffer;
        received.push(typeof data === "string" ? `text ${data}` : `binary ${data.toString("hex")}`);
      });
    });
    const client = resumeClient(t, started.url);
    const bytes = new Uint8Array([1, 2, 3]);
    const buffer = new Uint8Array([4, 5]).buffer;
    const view = new DataView(new Uint8Array([9, 6, 7, 9]).buffer, 1, 2);
    client.socket.send(bytes);
    client.socket.send(buffer);
    client.socket.send(view);
    client.socket.send(5 as never);
    client.socket.send({} as never);
    client.socket.send(null as never);
    // Its fields from its slots, not its properties.
    const liar = Buffer.from([1, 2, 3]);
    Object.defineProperty(liar, "byteLength", { value: 60 });
    client.socket.send(liar);
    // Claims to be an ArrayBuffer, is none (WebIDL's check is a brand check): a string.
    client.socket.send({
      [Symbol.toStringTag]: "ArrayBuffer",
      byteLength: 1,
      slice: () => new ArrayBuffer(1),
    } as never);
    // Changed after the call: not what was sent.
    bytes[0] = 99;
    new Uint8Array(buffer)[0] = 99;
    view.setUint8(0, 99);
    assert.throws(() => client.socket.send(Symbol("s") as never), TypeError);
    assert.throws(() => client.socket.send(new SharedArrayBuffer(2) as never), {
      name: "TypeError",
      message: /^Failed to execute 'send' on 'ResumableWebSocket': .* must not be shared/,
    });
    await until(() => received.length === 8, 5000, "the queued messages");
    assert.deepEqual(received, [
      "binary 010203",
      "binary 0405",
      "binary 0607",
      "text 5",
      "text [object Object]",
      "text null",
      "binary 010203",
      "text [object ArrayBuffer]",
    ]);
  });
});

describe("a message larger than the client's maxPayloadBytes", () => {
  test("the session is reset once ('too-big') and a fresh one goes on, instead of replaying it for ever", async (t) => {
    const started = await startServer(t, { resume: {} });
    let connections = 0;
    started.server.on("connection", (socket: WebSocket) => {
      connections++;
      if (!socket.resumed) socket.subscribe("t");
    });
    const client = resumeClient(t, started.url, { maxPayloadBytes: 1000 });
    await until(() => client.sessions.length === 1, 5000, "the session");
    started.server.publish("t", "x".repeat(2000));
    await until(() => client.resets.length === 1, 5000, "the reset");
    assert.deepEqual(client.resets, ["too-big"]);
    await until(() => client.sessions.length === 2, 5000, "the fresh session");
    assert.deepEqual(client.sessions, [false, false]);
    started.server.publish("t", "after");
    await until(() => client.received.includes("t:after"), 5000, "a message of the fresh session");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(connections, 2, "no further connection");
    assert.deepEqual(client.received, ["t:after"]);
  });
});
