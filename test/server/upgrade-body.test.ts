import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clientFrame, OP, RawClient, startServer, upgradeRequest } from "./helpers.js";

// RFC 6455 §4.1 item 2 and §4.2.1 item 1: the opening handshake is a GET without a body. An upgrade request
// that declares one (Content-Length, Transfer-Encoding) is refused with 400; before, it got a 101 and its
// "body" was read as WebSocket frames (attack review, upgrade-body: a frame smuggled past whatever looked
// at the HTTP request).

describe("RFC 6455 §4.2.1 an upgrade request has no body", () => {
  for (const [label, framing, body] of [
    ["Content-Length", (n: number) => ({ "Content-Length": String(n) }), (frame: Buffer) => frame],
    [
      "Transfer-Encoding: chunked",
      () => ({ "Transfer-Encoding": "chunked" }),
      (frame: Buffer) =>
        Buffer.concat([Buffer.from(`${frame.length.toString(16)}\r\n`), frame, Buffer.from("\r\n0\r\n\r\n")]),
    ],
  ] as const) {
    test(`server answers 400 to an upgrade request with ${label}, and never reads its body as frames`, async (t) => {
      const { server, port } = await startServer(t);
      const received: unknown[] = [];
      server.on("connection", (socket) => socket.addEventListener("message", (e) => received.push(e.data)));
      const frame = clientFrame(OP.text, Buffer.from("smuggled"));
      const client = await RawClient.connect(t, port);
      client.write(
        Buffer.concat([Buffer.from(upgradeRequest({ headers: framing(frame.length) })), body(frame)]),
      );
      const head = await client.readHead();
      assert.equal(head.statusLine, "HTTP/1.1 400 Bad Request");
      await client.expectEof();
      assert.deepEqual(received, []);
    });
  }

  test("server accepts an upgrade request with Content-Length: 0", async (t) => {
    const { port } = await startServer(t);
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest({ headers: { "Content-Length": "0" } }));
    const head = await client.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 101 Switching Protocols");
  });
});
