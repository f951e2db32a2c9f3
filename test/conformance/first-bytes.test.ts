// The bytes that arrive with the opening handshake (RFC 6455 §4.2.2 / §4.1: frames may follow the handshake
// at once, in the same TCP segment). Our server gets them as the upgrade's `head`, our client right after
// the 101; either way they are the connection's first frames and must be handled like any other.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import {
  closePayload,
  echoServer,
  frame,
  OP,
  ourClient,
  parseHead,
  RawServer,
  tcpConnect,
  until,
  upgradeRequest,
} from "./peers.js";

const accept = (key: string) =>
  createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");

describe("RFC 6455 §4 frames in the same write as the handshake", () => {
  test("our server echoes a text message and a Ping sent in the same write as the upgrade request", async (t) => {
    const { port } = await echoServer(t);
    const peer = await tcpConnect(t, port);
    await peer.write(
      Buffer.concat([
        Buffer.from(upgradeRequest(), "latin1"),
        frame({ opcode: OP.text, payload: "with the request", mask: true }),
        frame({ opcode: OP.ping, payload: "p", mask: true }),
      ]),
    );
    assert.equal(parseHead(await peer.readHead()).status, 101);
    const echo = await peer.readFrame();
    assert.deepEqual([echo.opcode, echo.payload.toString()], [OP.text, "with the request"]);
    const pong = await peer.readFrame();
    assert.deepEqual([pong.opcode, pong.payload.toString()], [OP.pong, "p"]);
  });

  test("our server answers a Close sent with the upgrade request, then closes TCP", async (t) => {
    const { port, connections } = await echoServer(t);
    const peer = await tcpConnect(t, port);
    await peer.write(
      Buffer.concat([
        Buffer.from(upgradeRequest(), "latin1"),
        frame({ opcode: OP.close, payload: closePayload(1000, "bye"), mask: true }),
      ]),
    );
    assert.equal(parseHead(await peer.readHead()).status, 101);
    const close = await peer.readFrame();
    assert.deepEqual([close.closeCode, close.closeReason?.toString()], [1000, "bye"]);
    await peer.waitEnd();
    const event = await connections[0].close();
    assert.deepEqual([event.code, event.reason, event.wasClean], [1000, "bye", true]);
  });

  test("our server fails with 1002 an unmasked frame sent with the upgrade request", async (t) => {
    const { port } = await echoServer(t);
    const peer = await tcpConnect(t, port);
    await peer.write(
      Buffer.concat([Buffer.from(upgradeRequest(), "latin1"), frame({ opcode: OP.text, payload: "x" })]),
    );
    assert.equal(parseHead(await peer.readHead()).status, 101);
    const close = await peer.readFrame();
    assert.equal(close.closeCode, 1002);
    await peer.waitEnd();
  });

  test("our client delivers a message sent in the same write as the 101, after open", async (t) => {
    const raw = await RawServer.start(t, {
      response: (request) =>
        Buffer.concat([
          Buffer.from(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              `Sec-WebSocket-Accept: ${accept(request.headers["sec-websocket-key"])}\r\n\r\n`,
            "latin1",
          ),
          frame({ opcode: OP.text, payload: "with the 101" }),
          frame({ opcode: OP.binary, payload: Buffer.from([1, 2, 3]) }),
        ]),
    });
    const local = ourClient(t, raw.url, undefined, false);
    await raw.accept();
    await until(() => local.messages().length === 2, 3000, "both messages");
    assert.deepEqual(local.types(), ["open", "message", "message"]);
    assert.equal(local.messages()[0], "with the 101");
    assert.deepEqual([...new Uint8Array(local.messages()[1] as ArrayBuffer)], [1, 2, 3]);
  });

  test("our client answers a Close sent in the same write as the 101 and reports it after open", async (t) => {
    const raw = await RawServer.start(t, {
      response: (request) =>
        Buffer.concat([
          Buffer.from(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              `Sec-WebSocket-Accept: ${accept(request.headers["sec-websocket-key"])}\r\n\r\n`,
            "latin1",
          ),
          frame({ opcode: OP.close, payload: closePayload(4001, "at once") }),
        ]),
    });
    const local = ourClient(t, raw.url);
    const { peer } = await raw.accept();
    const echo = await peer.readFrame();
    assert.deepEqual([echo.opcode, echo.closeCode], [OP.close, 4001]);
    peer.end();
    const event = await local.close();
    assert.deepEqual([event.code, event.reason, event.wasClean], [4001, "at once", true]);
    assert.deepEqual(local.types(), ["open", "close"]);
  });

  test("our client fails with 1002 a masked frame sent with the 101", async (t) => {
    const raw = await RawServer.start(t, {
      response: (request) =>
        Buffer.concat([
          Buffer.from(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              `Sec-WebSocket-Accept: ${accept(request.headers["sec-websocket-key"])}\r\n\r\n`,
            "latin1",
          ),
          frame({ opcode: OP.text, payload: "masked", mask: true }),
        ]),
    });
    const local = ourClient(t, raw.url);
    const { peer } = await raw.accept();
    const close = await peer.readFrame();
    assert.equal(close.closeCode, 1002);
    const event = await local.close();
    assert.equal(event.code, 1006);
    assert.deepEqual(local.types(), ["open", "error", "close"]);
  });
});

describe("RFC 6455 §7.1.1 a peer that sends its Close and its FIN together", () => {
  test("our server echoes a Close followed at once by the client's FIN and reports a clean close", async (t) => {
    const { port, connections } = await echoServer(t);
    const peer = await tcpConnect(t, port);
    await peer.write(upgradeRequest());
    await peer.readHead();
    await until(() => connections.length === 1, 2000, "the connection");
    peer.socket.end(frame({ opcode: OP.close, payload: closePayload(1000), mask: true }));
    const event = await connections[0].close();
    assert.deepEqual([event.code, event.wasClean], [1000, true]);
  });

  test("our client reports a clean close when the server's Close comes with its FIN", async (t) => {
    const raw = await RawServer.start(t);
    const local = ourClient(t, raw.url);
    const { peer } = await raw.accept();
    await until(() => local.events.length > 0, 3000, "open");
    peer.socket.end(frame({ opcode: OP.close, payload: closePayload(1001, "restart") }));
    const event = await local.close();
    assert.deepEqual([event.code, event.reason, event.wasClean], [1001, "restart", true]);
    assert.deepEqual(local.types(), ["open", "close"]);
  });
});
