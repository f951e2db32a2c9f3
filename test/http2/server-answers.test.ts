import assert from "node:assert/strict";
import http2 from "node:http2";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { defer, HOST, portOf, shutDown, startServer } from "../server/helpers.js";
import { connectStream, rawSession } from "./helpers.js";

// The server's answers to extended CONNECTs it does not take, where HTTP/2 changes the HTTP/1.1 answer: a
// version we do not speak (400, not 426), another :protocol (501, not 405). Cleartext h2c, a raw client.

describe("WebSocketServer over HTTP/2: refusals that differ from HTTP/1.1", () => {
  test("regression: a missing or other Sec-WebSocket-Version gets 400 with Sec-WebSocket-Version: 13, not 426 (RFC 9110 §15.5.22, RFC 9113 §8.2.2)", async (t) => {
    const { server, port } = await startServer(t, { http2: true });
    const rejected: number[] = [];
    server.on("rejected", (_request, status) => rejected.push(status));
    const session = await rawSession(`http://${HOST}:${port}`);
    defer(t, () => session.destroy());
    for (const version of ["8", undefined]) {
      const raw = connectStream(session, "/", { "sec-websocket-version": version as string });
      const response = await raw.response;
      assert.equal(response[":status"], 400, `version ${version}`);
      assert.equal(response["sec-websocket-version"], "13", "RFC 6455 §4.4: the version we speak");
      assert.equal(response.upgrade, undefined);
      assert.match(await raw.body(), /Sec-WebSocket-Version must be 13/);
    }
    assert.deepEqual(rejected, [400, 400]);
    const accepted = connectStream(session, "/");
    assert.equal((await accepted.response)[":status"], 200);
  });

  test("regression: an extended CONNECT for another :protocol gets 501 (RFC 9220 §3), not a 405 without Allow", async (t) => {
    // The standalone server (the compatibility API's 'connect' path) ...
    const { port } = await startServer(t, { http2: true });
    const standalone = await rawSession(`http://${HOST}:${port}`);
    defer(t, () => standalone.destroy());
    // ... and a node:http2 server where the WebSocketServer's 'stream' listener is the only one.
    const h2 = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    h2.on("session", (session) => sessions.add(session));
    await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => h2.close(resolve)));
    defer(t, () => {
      for (const session of sessions) session.destroy();
    });
    const wss = new WebSocketServer({ server: h2 });
    defer(t, () => shutDown(wss));
    const attached = await rawSession(`http://${HOST}:${portOf(h2.address())}`);
    defer(t, () => attached.destroy());
    for (const session of [standalone, attached]) {
      for (const protocol of ["foo", "websocket2"]) {
        const raw = connectStream(session, "/", { ":protocol": protocol });
        const response = await raw.response;
        assert.equal(response[":status"], 501, protocol);
        assert.match(await raw.body(), /Unsupported :protocol/);
      }
      const accepted = connectStream(session, "/", { ":protocol": "websocket" });
      assert.equal((await accepted.response)[":status"], 200);
    }
  });
});
