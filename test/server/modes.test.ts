import assert from "node:assert/strict";
import http, { type IncomingMessage } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { CloseEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  type Cleanup,
  defer,
  HOST,
  nextEmit,
  nextEvent,
  onMessage,
  openClient,
  portOf,
  RawClient,
  RFC_ACCEPT,
  shutDown,
  startServer,
  upgradeRequest,
  within,
} from "./helpers.js";

// The three ways to run a WebSocketServer, like ws: standalone (its own http server), attached
// ({ server, path } on an existing one, several per http server) and noServer (handleUpgrade from the
// caller's 'upgrade' listener, as frameworks do).

/** Makes every connection of `server` echo with a prefix naming it. */
function echoAs(server: WebSocketServer, name: string): void {
  server.on("connection", (ws) => {
    onMessage(ws, (data) => ws.send(`${name}:${data}`));
  });
}

/** Sends `text` and returns the reply. */
async function roundTrip(client: WebSocket, text: string): Promise<string> {
  const reply = nextEvent<MessageEvent>(client, "message");
  client.send(text);
  return (await reply).data;
}

/** An http server on 127.0.0.1:0, closed after the test. */
async function httpServer(
  t: Cleanup,
  onRequest?: http.RequestListener,
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(onRequest);
  defer(
    t,
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  server.listen(0, HOST);
  await nextEmit(server, "listening");
  return { server, port: portOf(server.address()) };
}

/** A plain HTTP GET; resolves with the status, headers and body. */
function get(
  port: number,
  path: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      http
        .get({ host: HOST, port, path, agent: false }, (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk) => (body += chunk));
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
          );
        })
        .on("error", reject);
    }),
    3000,
    `GET ${path}`,
  );
}

describe("standalone mode ({ port })", () => {
  test("listens, emits 'listening' and the constructor callback, and serves our client", async (t) => {
    let called = false;
    const server = new WebSocketServer({ port: 0, host: HOST }, () => {
      called = true;
    });
    defer(t, () => shutDown(server));
    await nextEmit(server, "listening");
    assert.equal(called, true);
    echoAs(server, "s");
    const client = await openClient(t, `ws://${HOST}:${portOf(server.address())}/`);
    assert.equal(await roundTrip(client, "hello"), "s:hello");
  });

  test("a non-upgrade GET gets 426 Upgrade Required with Upgrade: websocket", async (t) => {
    const { port } = await startServer(t);
    const response = await get(port, "/");
    assert.equal(response.status, 426);
    assert.equal(response.headers.upgrade, "websocket");
    assert.match(response.body, /^426 Upgrade Required/);
  });

  test("a 'request' listener takes over non-upgrade requests; upgrades still work", async (t) => {
    const { server, port, url } = await startServer(t);
    server.on("request", (_request, response) => {
      response.writeHead(200, { "Content-Type": "text/plain" });
      response.end("page");
    });
    echoAs(server, "s");
    const response = await get(port, "/index.html");
    assert.equal(response.status, 200);
    assert.equal(response.body, "page");
    const client = await openClient(t, url);
    assert.equal(await roundTrip(client, "x"), "s:x");
  });

  test("with `path`, an upgrade on another path → 404 and EOF", async (t) => {
    const { port } = await startServer(t, { path: "/ws" });
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ path: "/other" }));
    const head = await raw.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 404 Not Found");
    await raw.expectEof();
    const ok = await RawClient.connect(t, port);
    assert.equal((await ok.handshake("/ws?token=1")).header("sec-websocket-accept"), RFC_ACCEPT);
  });

  test("listen error (port in use) is emitted as 'error', not thrown", async (t) => {
    const { port } = await startServer(t);
    const second = new WebSocketServer({ port, host: HOST });
    defer(t, () => second.close());
    const [error] = await nextEmit<[NodeJS.ErrnoException]>(second, "error");
    assert.equal(error.code, "EADDRINUSE");
  });

  test("options: exactly one of port, server, noServer", () => {
    assert.throws(() => new WebSocketServer({}), TypeError);
    assert.throws(() => new WebSocketServer({ port: 0, noServer: true }), TypeError);
    assert.throws(() => new WebSocketServer({ noServer: true, maxPayloadBytes: -1 }), TypeError);
    assert.throws(() => new WebSocketServer({ noServer: true, slowConsumer: "drop" as "close" }), TypeError);
  });
});

describe("attached mode ({ server, path })", () => {
  test("serves upgrades on its path of an existing http server, which keeps serving its own requests", async (t) => {
    const { server: httpSrv, port } = await httpServer(t, (_request, response) => response.end("app"));
    const wss = new WebSocketServer({ server: httpSrv, path: "/ws" });
    defer(t, () => shutDown(wss));
    echoAs(wss, "ws");
    const client = await openClient(t, `ws://${HOST}:${port}/ws?room=1`);
    assert.equal(await roundTrip(client, "a"), "ws:a");
    const response = await get(port, "/");
    assert.equal(response.status, 200);
    assert.equal(response.body, "app");
    // address() is the http server's.
    assert.equal(portOf(wss.address()), port);
  });

  test("two WebSocketServers on /a and /b of one http server: each client lands on its own server", async (t) => {
    const { server: httpSrv, port } = await httpServer(t);
    const a = new WebSocketServer({ server: httpSrv, path: "/a" });
    const b = new WebSocketServer({ server: httpSrv, path: "/b" });
    defer(t, () => shutDown(a));
    defer(t, () => shutDown(b));
    echoAs(a, "A");
    echoAs(b, "B");
    const toA = await openClient(t, `ws://${HOST}:${port}/a`);
    const toB = await openClient(t, `ws://${HOST}:${port}/b?q=1`);
    assert.equal(await roundTrip(toA, "1"), "A:1");
    assert.equal(await roundTrip(toB, "2"), "B:2");
    assert.equal(a.clients.size, 1);
    assert.equal(b.clients.size, 1);
  });

  test("an upgrade on a path no WebSocketServer serves → 404 and EOF; the others keep serving", async (t) => {
    const { server: httpSrv, port } = await httpServer(t);
    const a = new WebSocketServer({ server: httpSrv, path: "/a" });
    const b = new WebSocketServer({ server: httpSrv, path: "/b" });
    defer(t, () => shutDown(a));
    defer(t, () => shutDown(b));
    echoAs(a, "A");
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ path: "/c" }));
    const head = await raw.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 404 Not Found");
    assert.equal(head.header("connection"), "close");
    await raw.expectEof();
    const toA = await openClient(t, `ws://${HOST}:${port}/a`);
    assert.equal(await roundTrip(toA, "x"), "A:x");
  });

  test("closing one attached WebSocketServer leaves the http server and the other path running", async (t) => {
    const { server: httpSrv, port } = await httpServer(t);
    const a = new WebSocketServer({ server: httpSrv, path: "/a" });
    const b = new WebSocketServer({ server: httpSrv, path: "/b" });
    defer(t, () => shutDown(b));
    echoAs(b, "B");
    const toA = await openClient(t, `ws://${HOST}:${port}/a`);
    const closed = nextEvent<CloseEvent>(toA, "close");
    await within(a.close(), 3000, "a.close()");
    assert.equal((await closed).code, 1001);
    assert.equal(httpSrv.listening, true);
    const toB = await openClient(t, `ws://${HOST}:${port}/b`);
    assert.equal(await roundTrip(toB, "y"), "B:y");
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ path: "/a" }));
    assert.equal((await raw.readHead()).status, 404);
  });
});

describe("noServer mode (handleUpgrade)", () => {
  test("handleUpgrade from a plain http server's 'upgrade' event; the callback gets the WebSocket and the request", async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    defer(t, () => shutDown(wss));
    assert.equal(wss.address(), null);
    const requests: IncomingMessage[] = [];
    const { server: httpSrv, port } = await httpServer(t);
    httpSrv.on("upgrade", (request, socket, head) => {
      wss.handleUpgrade(request, socket, head, (ws, req) => {
        requests.push(req);
        wss.emit("connection", ws, req);
      });
    });
    echoAs(wss, "n");
    const client = await openClient(t, `ws://${HOST}:${port}/any/path`);
    assert.equal(await roundTrip(client, "z"), "n:z");
    assert.equal(requests.length, 1);
    assert.equal(requests[0].url, "/any/path");
    assert.equal(wss.clients.size, 1);
  });

  test("handleUpgrade with arguments that are not an upgrade's: a TypeError that says which", () => {
    const wss = new WebSocketServer({ noServer: true });
    const socket = new net.Socket();
    const cases: [unknown[], RegExp][] = [
      [[{}, {}, Buffer.alloc(0), () => {}], /socket must be the upgrade's socket/],
      [[null, socket, Buffer.alloc(0), () => {}], /request must be the upgrade's request/],
      [[{}, socket, "head", () => {}], /head must be the upgrade's Buffer/],
      [[{}, socket, Buffer.alloc(0)], /callback must be a function/],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => (wss.handleUpgrade as (...a: unknown[]) => void)(...args), {
        name: "TypeError",
        message,
      });
    }
    socket.destroy();
  });

  test("a request made by hand (headers, no rawHeaders), as ws's handleUpgrade takes: accepted, and its limits apply", async (t) => {
    const wss = new WebSocketServer({ noServer: true, maxHeaderCount: 8 });
    defer(t, () => shutDown(wss));
    const { server: httpSrv, port } = await httpServer(t);
    httpSrv.on("upgrade", (request: IncomingMessage, socket, head) => {
      const extra = request.headers["x-extra"] === undefined ? {} : { "x-many": Array(8).fill("x") };
      const byHand = {
        method: request.method,
        url: request.url,
        httpVersion: request.httpVersion,
        headers: { ...request.headers, ...extra },
        socket: request.socket,
      } as unknown as IncomingMessage;
      wss.handleUpgrade(byHand, socket, head, (ws) => wss.emit("connection", ws, byHand));
    });
    echoAs(wss, "h");
    const client = await openClient(t, `ws://${HOST}:${port}/`);
    assert.equal(await roundTrip(client, "z"), "h:z");
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ extra: ["X-Extra: 1"] }));
    assert.equal((await raw.readHead()).statusLine, "HTTP/1.1 431 Request Header Fields Too Large");
  });

  test("a request made by hand with header values that are no strings: numbers are read as Node would give them, the rest is a 400, never a throw", async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    defer(t, () => shutDown(wss));
    const { server: httpSrv, port } = await httpServer(t);
    const thrown: unknown[] = [];
    httpSrv.on("upgrade", (request: IncomingMessage, socket, head) => {
      const odd =
        request.headers["x-odd"] === "throws"
          ? {
              "x-odd": {
                toString: () => {
                  throw new Error("no string");
                },
              },
            }
          : { "sec-websocket-version": 13, "x-count": [5, undefined] };
      const byHand = {
        method: request.method,
        url: request.url,
        httpVersion: request.httpVersion,
        headers: { ...request.headers, ...odd },
        socket: request.socket,
      } as unknown as IncomingMessage;
      try {
        wss.handleUpgrade(byHand, socket, head, (ws) => wss.emit("connection", ws, byHand));
      } catch (error) {
        thrown.push(error);
      }
    });
    echoAs(wss, "n");
    const client = await openClient(t, `ws://${HOST}:${port}/`);
    assert.equal(await roundTrip(client, "z"), "n:z");
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ extra: ["X-Odd: throws"] }));
    assert.equal((await raw.readHead()).statusLine, "HTTP/1.1 400 Bad Request");
    assert.deepEqual(thrown, []);
  });

  test("Express-like flow: middleware authenticates the upgrade and routes by pathname to two noServer servers", async (t) => {
    // The shape of ws's README "multiple servers sharing a single HTTP server" + "client authentication":
    // the app answers HTTP, and one 'upgrade' listener authenticates, then picks a server by pathname.
    const chat = new WebSocketServer({ noServer: true });
    const feed = new WebSocketServer({ noServer: true });
    defer(t, () => shutDown(chat));
    defer(t, () => shutDown(feed));
    echoAs(chat, "chat");
    echoAs(feed, "feed");
    const app = (request: IncomingMessage, response: http.ServerResponse) => {
      response.writeHead(request.url === "/health" ? 200 : 404).end(request.url === "/health" ? "ok" : "");
    };
    const authenticate = (request: IncomingMessage) =>
      new URL(request.url ?? "/", "http://x").searchParams.get("token") === "secret";
    const { server: httpSrv, port } = await httpServer(t, app);
    httpSrv.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => {});
      if (!authenticate(request)) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const { pathname } = new URL(request.url ?? "/", "http://x");
      const target = pathname === "/chat" ? chat : pathname === "/feed" ? feed : null;
      if (target === null) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      target.handleUpgrade(request, socket, head, (ws) => target.emit("connection", ws, request));
    });

    assert.equal((await get(port, "/health")).body, "ok");
    const c = await openClient(t, `ws://${HOST}:${port}/chat?token=secret`);
    const f = await openClient(t, `ws://${HOST}:${port}/feed?token=secret`);
    assert.equal(await roundTrip(c, "hi"), "chat:hi");
    assert.equal(await roundTrip(f, "hi"), "feed:hi");
    const refused = new WebSocket(`ws://${HOST}:${port}/chat?token=wrong`);
    defer(t, () => refused.terminate());
    const closed = await nextEvent<CloseEvent>(refused, "close");
    assert.equal(closed.code, 1006);
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ path: "/chat?token=wrong" }));
    assert.equal((await raw.readHead()).statusLine, "HTTP/1.1 401 Unauthorized");
  });

  test("handleUpgrade still runs the §4.2.1 checks: a bad key → 400 and EOF", async (t) => {
    const wss = new WebSocketServer({ noServer: true });
    defer(t, () => shutDown(wss));
    const { server: httpSrv, port } = await httpServer(t);
    httpSrv.on("upgrade", (request, socket, head) => wss.handleUpgrade(request, socket, head, () => {}));
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ headers: { "Sec-WebSocket-Key": "short" } }));
    assert.equal((await raw.readHead()).statusLine, "HTTP/1.1 400 Bad Request");
    await raw.expectEof();
  });

  test("an upgrade socket that errors before the handshake completes is destroyed, not crashing the process", async (t) => {
    let release: () => void = () => {};
    const wss = new WebSocketServer({
      noServer: true,
      verify: () => new Promise((resolve) => (release = () => resolve(true))),
    });
    defer(t, () => shutDown(wss));
    const sockets: Duplex[] = [];
    const { server: httpSrv, port } = await httpServer(t);
    httpSrv.on("upgrade", (request, socket, head) => {
      sockets.push(socket);
      wss.handleUpgrade(request, socket, head, () => assert.fail("must not be accepted"));
    });
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest());
    await within(
      (async () => {
        while (sockets.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      2000,
      "the upgrade",
    );
    sockets[0].emit("error", new Error("ECONNRESET (simulated)"));
    assert.equal(sockets[0].destroyed, true);
    release();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(wss.clients.size, 0);
  });
});
