import assert from "node:assert/strict";
import http2 from "node:http2";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { defer, HOST, portOf, shutDown, startServer, within } from "../server/helpers.js";
import { connectStream, rawSession } from "./helpers.js";

// The server's answers to extended CONNECTs it does not take, where HTTP/2 changes the HTTP/1.1 answer: a
// version we do not speak (400, not 426), another :protocol (501, not 405). Cleartext h2c, a raw client.

/** A node:http2 server of the test's own (with `onRequest`, if given) and a WebSocketServer attached to it. */
async function attachedServer(
  t: Parameters<typeof defer>[0],
  onRequest?: (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => void,
): Promise<http2.Http2Server> {
  const h2 = http2.createServer();
  if (onRequest !== undefined) h2.on("request", onRequest);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => sessions.add(session));
  await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
  defer(t, () => new Promise((resolve) => h2.close(resolve)));
  defer(t, () => {
    for (const session of sessions) session.destroy();
  });
  const wss = new WebSocketServer({ server: h2 });
  defer(t, () => shutDown(wss));
  return h2;
}

/**
 * The status, Allow, type and body of the answer to a request with `headers` whose stream the client keeps
 * open; then the stream's end: the client's (`"client ends"`: a CONNECT's request stays open, its tunnel) or
 * the server's, which must come without it.
 */
async function answerOf(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  ending: "client ends" | "server ends",
): Promise<{ status: unknown; allow: unknown; type: unknown; body: string }> {
  const stream = session.request(headers, { endStream: false });
  stream.on("error", () => {});
  let body = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    body += chunk;
  });
  const response = await within(
    new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
    5000,
    `the answer to ${headers[":method"]}`,
  );
  if (ending === "client ends") stream.end();
  if (!stream.closed) {
    const closed = new Promise((resolve) => stream.once("close", resolve));
    await within(closed, ending === "client ends" ? 5000 : 2000, "the stream's end");
  }
  return { status: response[":status"], allow: response.allow, type: response["content-type"], body };
}

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
    const h2 = await attachedServer(t);
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

  test("regression: standalone: a plain CONNECT (no :protocol) and other methods get 405 with Allow (RFC 9110 §15.5.6)", async (t) => {
    const { port } = await startServer(t, { http2: true });
    const session = await rawSession(`http://${HOST}:${port}`);
    defer(t, () => session.destroy());
    const answer = (headers: http2.OutgoingHttpHeaders) => answerOf(session, headers, "client ends");
    // Before the fix: Node's 405 without Allow for the CONNECT, and 426 for the others.
    for (const headers of [
      { ":method": "CONNECT", ":authority": `${HOST}:${port}` },
      { ":method": "POST", ":path": "/" },
      { ":method": "DELETE", ":path": "/chat" },
    ]) {
      const { status, allow, type, body } = await answer(headers);
      assert.equal(status, 405, headers[":method"]);
      assert.equal(allow, "GET, HEAD, CONNECT");
      assert.equal(type, "text/plain; charset=utf-8");
      assert.match(body, /^Method Not Allowed: this endpoint speaks WebSocket .*:protocol websocket/);
    }
    // GET stays 426 (it names the protocol to use), and the WebSocket still opens.
    assert.equal((await answer({ ":method": "GET", ":path": "/" })).status, 426);
    const accepted = connectStream(session, "/");
    assert.equal((await accepted.response)[":status"], 200);
  });

  test("regression: standalone with a 'request' listener: the app owns the other methods, so a plain CONNECT gets Node's 405 (no Allow of ours)", async (t) => {
    // RFC 9110 §10.2.1, §15.5.6: Allow lists the methods the target resource supports. The app serves POST
    // and DELETE here, which sockjet's "GET, HEAD, CONNECT" would leave out.
    const { server, port } = await startServer(t, { http2: true });
    server.on("request", (request, response) => {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(`app served ${request.method}`);
    });
    const session = await rawSession(`http://${HOST}:${port}`);
    defer(t, () => session.destroy());
    // The client keeps each stream open: the server must end it.
    const answer = async (headers: http2.OutgoingHttpHeaders) => {
      const { status, allow, body } = await answerOf(session, headers, "server ends");
      return `${status} allow=${allow ?? "-"} body=${JSON.stringify(body)}`;
    };
    assert.equal(await answer({ ":method": "POST", ":path": "/api" }), '200 allow=- body="app served POST"');
    assert.equal(
      await answer({ ":method": "DELETE", ":path": "/api" }),
      '200 allow=- body="app served DELETE"',
    );
    // Before the fix: '405 allow=GET, HEAD, CONNECT body="Method Not Allowed: this endpoint speaks WebSocket …"'.
    // Node, on a server with a 'request' listener and no 'connect' listener: 405, nothing else.
    const connect = { ":method": "CONNECT", ":authority": `${HOST}:${port}` };
    assert.equal(await answer(connect), '405 allow=- body=""');
    // WebSockets still open, and another :protocol still gets 501.
    const accepted = connectStream(session, "/");
    assert.equal((await accepted.response)[":status"], 200);
    const other = connectStream(session, "/", { ":protocol": "foo" });
    assert.equal((await other.response)[":status"], 501);
    // The app can answer CONNECT itself, as on any node:http2 server with a 'request' listener: a 'connect'
    // listener on its server (Node hands it every CONNECT: those with :protocol are the WebSocketServer's).
    server.httpServer?.on(
      "connect",
      (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
        if (request.headers[":protocol"] !== undefined) return;
        response.writeHead(405, { allow: "GET, HEAD, POST, DELETE, CONNECT" });
        response.end();
      },
    );
    assert.equal(await answer(connect), '405 allow=GET, HEAD, POST, DELETE, CONNECT body=""');
    const second = connectStream(session, "/");
    assert.equal((await second.response)[":status"], 200);
  });

  test("attached: a plain CONNECT on the user's own http2 server is left as it was (Node's 405, the owner's methods)", async (t) => {
    const h2 = await attachedServer(t, (_request, response) => response.end("the owner's"));
    const port = portOf(h2.address());
    const session = await rawSession(`http://${HOST}:${port}`);
    defer(t, () => session.destroy());
    const stream = session.request({ ":method": "CONNECT", ":authority": `${HOST}:${port}` });
    stream.on("error", () => {});
    const response = await within(
      new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
      5000,
      "the answer to CONNECT",
    );
    assert.equal(response[":status"], 405);
    assert.equal(response.allow, undefined, "sockjet does not know the owner's methods");
    const post = session.request({ ":method": "POST", ":path": "/" });
    post.on("error", () => {});
    post.end();
    const posted = await within(
      new Promise<http2.IncomingHttpHeaders>((resolve) => post.once("response", resolve)),
      5000,
      "the answer to POST",
    );
    assert.equal(posted[":status"], 200, "the owner's 'request' handler");
  });
});
