import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { WebSocket } from "../../src/web/websocket.js";
import {
  type Cleanup,
  defer,
  HOST,
  nextEmit,
  nextEvent,
  onMessage,
  openClient,
  portOf,
  shutDown,
} from "./helpers.js";

// WebSocketServers attached to one http server by path (a newcomer's review): one path has one server (a
// second on it never got a connection, and was taken without a word), and a server without a path serves the
// paths the others do not, whichever was made first.

/** Makes every connection of `server` echo with a prefix naming it. */
function echoAs(server: WebSocketServer, name: string): void {
  server.on("connection", (ws) => onMessage(ws, (data) => ws.send(`${name}:${data}`)));
}

async function roundTrip(client: WebSocket, text: string): Promise<string> {
  const reply = nextEvent<MessageEvent>(client, "message");
  client.send(text);
  return (await reply).data;
}

/** An http (or h2c) server on 127.0.0.1:0, closed after the test. */
async function listening<S extends http.Server | http2.Http2Server>(t: Cleanup, server: S): Promise<number> {
  // An h2 session our client keeps open for 5 s after its last socket would hold close() that long.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session: http2.ServerHttp2Session) => sessions.add(session));
  defer(
    t,
    () =>
      new Promise<void>((resolve) => {
        (server as http.Server).closeAllConnections?.();
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  server.listen(0, HOST);
  await nextEmit(server, "listening");
  return portOf(server.address());
}

function refusesPathInUse(make: () => unknown, what: RegExp): void {
  assert.throws(make, (error: unknown) => {
    assert.ok(error instanceof Error && !(error instanceof TypeError), String(error));
    assert.equal((error as { code?: string }).code, "SJ_ERR_PATH_IN_USE");
    assert.match(error.message, what);
    return true;
  });
}

describe("attached WebSocketServers share an http server by path", () => {
  test("a second WebSocketServer on a path already served on that server is an Error (SJ_ERR_PATH_IN_USE); the first keeps it until it closes", async (t) => {
    const server = http.createServer();
    const port = await listening(t, server);
    const first = new WebSocketServer({ server, path: "/chat" });
    defer(t, () => shutDown(first));
    echoAs(first, "first");
    refusesPathInUse(
      () => new WebSocketServer({ server, path: "/chat" }),
      /already serves path "\/chat" on this server/,
    );
    // Another path, or another http server, is fine.
    const other = new WebSocketServer({ server, path: "/other" });
    defer(t, () => shutDown(other));
    const elsewhere = new WebSocketServer({ server: http.createServer(), path: "/chat" });
    defer(t, () => shutDown(elsewhere));
    const client = await openClient(t, `ws://${HOST}:${port}/chat`);
    assert.equal(await roundTrip(client, "a"), "first:a");
    await first.close();
    const second = new WebSocketServer({ server, path: "/chat" });
    defer(t, () => shutDown(second));
    echoAs(second, "second");
    const again = await openClient(t, `ws://${HOST}:${port}/chat`);
    assert.equal(await roundTrip(again, "b"), "second:b");
  });

  test("two WebSocketServers without a path on one server: the second is an Error", async (t) => {
    const server = http.createServer();
    const first = new WebSocketServer({ server });
    defer(t, () => shutDown(first));
    refusesPathInUse(() => new WebSocketServer({ server }), /already serves every path/);
  });

  test("a server without a path made before one on /admin: /admin lands on its own server, other paths on the first", async (t) => {
    const server = http.createServer();
    const port = await listening(t, server);
    const any = new WebSocketServer({ server });
    const admin = new WebSocketServer({ server, path: "/admin" });
    defer(t, () => shutDown(any));
    defer(t, () => shutDown(admin));
    echoAs(any, "any");
    echoAs(admin, "admin");
    assert.equal(await roundTrip(await openClient(t, `ws://${HOST}:${port}/admin?x=1`), "1"), "admin:1");
    assert.equal(await roundTrip(await openClient(t, `ws://${HOST}:${port}/else`), "2"), "any:2");
  });

  test("the same over HTTP/2 (h2c, RFC 8441): /admin lands on its own server", async (t) => {
    const server = http2.createServer();
    const port = await listening(t, server);
    const any = new WebSocketServer({ server });
    const admin = new WebSocketServer({ server, path: "/admin" });
    defer(t, () => shutDown(any));
    defer(t, () => shutDown(admin));
    echoAs(any, "any");
    echoAs(admin, "admin");
    const options = { http2: "always" as const, handshakeTimeoutMs: 3000 };
    const toAdmin = await openClient(t, `ws://${HOST}:${port}/admin`, undefined, options);
    assert.equal(await roundTrip(toAdmin, "1"), "admin:1");
    const toElse = await openClient(t, `ws://${HOST}:${port}/else`, undefined, options);
    assert.equal(await roundTrip(toElse, "2"), "any:2");
    refusesPathInUse(() => new WebSocketServer({ server, path: "/admin" }), /"\/admin"/);
  });
});
