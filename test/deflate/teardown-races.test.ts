// Closing while zlib works (issue 21, items 1 and 2): the bytes received are processed to the end before the
// connection is torn down, and a socket is never ended with frames still waiting behind a compression. Each
// case is the scenario on real sockets, in both roles: a raw TCP peer speaks exact bytes (its frames,
// its Close, its FIN) and records what reaches it; the sockjet side reports its events.

import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
import { CloseCode, Opcode } from "../../src/protocol/constants.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket } from "../../src/web/websocket.js";
import { rawServer } from "../support/raw-server.js";
import {
  HOST,
  jsonMessage,
  RawPeer,
  referenceCompress,
  referenceDecompress,
  wireFrame,
  within,
} from "./helpers.js";

/** A JSON text of ~500 KB (values vary, so inflating it takes zlib a while), and its compressed form. */
const LARGE_TEXT = jsonMessage(1, 500_000);
const LARGE_COMPRESSED = referenceCompress(LARGE_TEXT);

function closePayload(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return payload;
}

interface Outcome {
  events: string[];
  messages: string[];
  close: { code: number; reason: string; wasClean: boolean };
}

/** Records a sockjet socket's events until its `close`. */
function record(socket: WebSocket): Promise<Outcome> {
  const events: string[] = [];
  const messages: string[] = [];
  socket.addEventListener("message", (event) => {
    events.push("message");
    messages.push(String(event.data));
  });
  socket.addEventListener("error", () => events.push("error"));
  return new Promise((resolve) => {
    socket.addEventListener("close", (event) => {
      events.push(`close ${event.code} ${event.wasClean ? "clean" : "not clean"}`);
      resolve({
        events,
        messages,
        close: { code: event.code, reason: event.reason, wasClean: event.wasClean },
      });
    });
  });
}

async function deflateServer(t: TestContext): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: true });
  await once(server, "listening");
  t.after(() => server.close());
  return { server, port: (server.address() as AddressInfo).port };
}

describe("RFC 6455 §7.1.5/§7.1.6 with permessage-deflate: a message still inflating when the peer's Close and FIN arrive", () => {
  test("server delivers the message, then closes 1000 clean (a client that sends, closes and exits)", async (t) => {
    const { server, port } = await deflateServer(t);
    const outcome = new Promise<Outcome>((resolve) =>
      server.once("connection", (socket: WebSocket) => resolve(record(socket))),
    );
    const peer = await RawPeer.connect(port, "permessage-deflate");
    t.after(() => peer.destroy());
    assert.match(peer.header("sec-websocket-extensions") ?? "", /^permessage-deflate/);
    // The message, the Close and the FIN in one go, as a client that closes and exits sends them.
    peer.send({ opcode: Opcode.Text, payload: LARGE_COMPRESSED, rsv1: true });
    peer.send({ opcode: Opcode.Close, payload: closePayload(CloseCode.Normal) });
    peer.socket.end();
    const result = await within(outcome, 10_000, "the server socket's close");
    assert.deepEqual(result.events, ["message", "close 1000 clean"]);
    assert.equal(result.messages[0], LARGE_TEXT.toString());
    // The server still answered the Close before closing TCP (§7.1.1).
    assert.equal(await peer.closeCode(), CloseCode.Normal);
  });

  test("server: the socket closing while the message inflates does not lose it, nor the Close behind it", async (t) => {
    const { server, port } = await deflateServer(t);
    const frames = Buffer.concat([
      wireFrame({ opcode: Opcode.Text, payload: LARGE_COMPRESSED, rsv1: true, masked: true }),
      wireFrame({ opcode: Opcode.Close, payload: closePayload(CloseCode.Normal), masked: true }),
    ]);
    // The socket must close while zlib works: the first of ten attempts where it does is checked.
    let raced = 0;
    for (let attempt = 0; attempt < 10 && raced === 0; attempt++) {
      const accepted = new Promise<[WebSocket, IncomingMessage]>((resolve) =>
        server.once("connection", (socket: WebSocket, request: IncomingMessage) =>
          resolve([socket, request]),
        ),
      );
      const peer = await RawPeer.connect(port, "permessage-deflate");
      t.after(() => peer.destroy());
      const [socket, request] = await within(accepted, 5000, "connection");
      const outcome = record(socket);
      let messages = 0;
      socket.addEventListener("message", () => messages++);
      let messageBeforeDestroy = false;
      const start = request.socket.bytesRead;
      // Listeners run in order: this one runs after the connection has been handed the last byte.
      request.socket.on("data", () => {
        if (request.socket.bytesRead - start < frames.length || request.socket.destroyed) return;
        messageBeforeDestroy = messages > 0;
        request.socket.destroy();
      });
      peer.socket.write(frames);
      const result = await within(outcome, 10_000, "the server socket's close");
      if (messageBeforeDestroy) continue;
      raced++;
      // The peer's Close was received (its code is the close code) but ours could not be sent: not clean.
      assert.deepEqual(result.events, ["message", "close 1000 not clean"]);
      assert.equal(result.messages[0], LARGE_TEXT.toString());
    }
    assert.equal(raced, 1, "in one of ten attempts the socket closed while zlib worked");
  });

  test("client delivers the message, then closes 1000 clean (a server that sends, closes and exits)", async (t) => {
    const raw = await rawServer(t, "permessage-deflate", (socket) => {
      socket.write(
        Buffer.concat([
          wireFrame({ opcode: Opcode.Text, payload: LARGE_COMPRESSED, rsv1: true, masked: false }),
          wireFrame({ opcode: Opcode.Close, payload: closePayload(CloseCode.Normal), masked: false }),
        ]),
      );
      socket.end();
    });
    const client = new WebSocket(raw.url);
    const result = await within(record(client), 10_000, "the client's close");
    assert.deepEqual(result.events, ["message", "close 1000 clean"]);
    assert.equal(result.messages[0], LARGE_TEXT.toString());
    // The client echoed the Close (§5.5.1) before its own FIN.
    await within(raw.finished, 5000, "the client's FIN");
    assert.deepEqual(
      raw.frames.map((f) => f.opcode),
      [Opcode.Close],
    );
    assert.equal(raw.frames[0].payload.readUInt16BE(0), CloseCode.Normal);
  });
});

describe("RFC 6455 §5.5.1 the Close reply waits for a message being compressed (no socket ended with frames queued)", () => {
  test("server: a client that sends 'go' and closes gets the ~900 KB answer's Close, 1000 clean on both sides", async (t) => {
    const { server, port } = await deflateServer(t);
    const answer = jsonMessage(2, 900_000).toString();
    const serverOutcome = new Promise<Outcome>((resolve) =>
      server.once("connection", (socket: WebSocket) => {
        socket.addEventListener("message", () => socket.send(answer));
        resolve(record(socket));
      }),
    );
    const client = new WebSocket(`ws://${HOST}:${port}/`);
    const clientOutcome = record(client);
    await within(once(client, "open"), 5000, "open");
    assert.match(client.extensions, /permessage-deflate/);
    client.send("go");
    client.close(1000);
    const [clientResult, serverResult] = await within(
      Promise.all([clientOutcome, serverOutcome]),
      10_000,
      "both closes",
    );
    // The answer arrives while the client is CLOSING: not dispatched (WHATWG "message received" step 1).
    assert.deepEqual(clientResult.events, ["close 1000 clean"]);
    assert.deepEqual(serverResult.events, ["message", "close 1000 clean"]);
  });

  test("client: a Close and FIN arriving while the client compresses its answer: answer, Close echo, then FIN", async (t) => {
    const answer = jsonMessage(3, 900_000).toString();
    const raw = await rawServer(t, "permessage-deflate", (socket) => {
      socket.write(
        Buffer.concat([
          wireFrame({ opcode: Opcode.Text, payload: Buffer.from("go"), masked: false }),
          wireFrame({ opcode: Opcode.Close, payload: closePayload(CloseCode.Normal), masked: false }),
        ]),
      );
      socket.end();
    });
    const client = new WebSocket(raw.url);
    client.addEventListener("message", () => client.send(answer));
    const result = await within(record(client), 10_000, "the client's close");
    await within(raw.finished, 5000, "the client's FIN");
    assert.deepEqual(result.events, ["message", "close 1000 clean"]);
    assert.deepEqual(
      raw.frames.map((f) => [f.opcode, f.rsv1]),
      [
        [Opcode.Text, true],
        [Opcode.Close, false],
      ],
    );
    assert.equal(referenceDecompress(raw.frames[0].payload).toString(), answer);
    assert.equal(raw.frames[1].payload.readUInt16BE(0), CloseCode.Normal);
  });
});
