import assert from "node:assert/strict";
import http2 from "node:http2";
import { before, describe, test } from "node:test";
import { openSessionCount } from "../../src/client/http2-session-pool.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { CloseEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  defer,
  HOST,
  nextConnection,
  nextEvent,
  openClient,
  portOf,
  selfSignedCert,
  shutDown,
  startServer,
  waitFor,
  within,
} from "../server/helpers.js";

// Our client's `http2` option against our server: the route it takes (h2 when ALPN and SETTINGS allow it,
// HTTP/1.1 otherwise), one session per origin shared by its sockets, and sockets on one session that stay
// independent (their own traffic, deflate or not, a reset touching no other stream).

describe("WebSocket client over HTTP/2 (RFC 8441)", () => {
  let cert: { cert: string; key: string } | null = null;
  before(async () => {
    cert = await selfSignedCert();
  });

  test("auto: h2 when the server allows extended CONNECT, one session shared by the sockets of an origin", async (t) => {
    if (cert === null) return t.skip("openssl is not installed");
    const { server, url } = await startServer(t, { http2: true, tls: cert });
    const versions: string[] = [];
    const sessions = new Set<unknown>();
    server.on("connection", (ws, request) => {
      versions.push(request.httpVersion);
      sessions.add((request as unknown as { stream: http2.ServerHttp2Stream }).stream?.session);
      ws.onmessage = (event) => ws.send(`echo:${event.data}`);
    });
    const clients = await Promise.all(
      [1, 2, 3].map(() => openClient(t, `${url}/x`, undefined, { ca: cert!.cert, http2: "auto" })),
    );
    assert.deepEqual(versions, ["2.0", "2.0", "2.0"]);
    assert.equal(clients[0].remoteAddress, HOST, "the session's peer address");
    assert.equal(sessions.size, 1, "one session carries the three sockets");
    for (const [i, client] of clients.entries()) {
      const reply = nextEvent<MessageEvent>(client, "message");
      client.send(`m${i}`);
      assert.equal((await reply).data, `echo:m${i}`);
    }
    const closed = nextEvent<CloseEvent>(clients[0], "close");
    clients[0].close(1000, "done");
    const event = await closed;
    assert.equal(event.code, 1000);
    assert.equal(event.wasClean, true);
  });

  test("auto falls back to HTTP/1.1 on an h2 server that allows no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0)", async (t) => {
    if (cert === null) return t.skip("openssl is not installed");
    const h2 = http2.createSecureServer({
      ...cert,
      allowHTTP1: true,
      settings: { enableConnectProtocol: true, maxConcurrentStreams: 0 },
    });
    const wss = new WebSocketServer({ noServer: true });
    defer(t, () => shutDown(wss));
    const versions: string[] = [];
    h2.on("upgrade", (request, socket, head) => {
      versions.push(request.httpVersion);
      wss.handleUpgrade(request, socket, head, () => {});
    });
    await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => h2.close(resolve)));
    // Review 137: every socket failed ("the server allows no HTTP/2 stream") where "auto" means HTTP/1.1.
    await openClient(t, `wss://${HOST}:${portOf(h2.address())}/z`, undefined, {
      ca: cert.cert,
      http2: "auto",
    });
    assert.deepEqual(versions, ["1.1"]);
  });

  test("auto falls back to HTTP/1.1: on an https server (ALPN http/1.1) and on an h2 server without extended CONNECT", async (t) => {
    if (cert === null) return t.skip("openssl is not installed");
    const { server, url } = await startServer(t, { tls: cert });
    let tcpConnections = 0;
    server.httpServer?.on("connection", () => tcpConnections++);
    const connection = nextConnection(server);
    await openClient(t, `${url}/a`, undefined, { ca: cert.cert, http2: "auto" });
    assert.equal((await connection)[1].httpVersion, "1.1");
    // The handshake runs on the TLS connection whose ALPN chose http/1.1: no second connection (regression:
    // node:http's own agent ignored it, opened another, and the first stayed open).
    assert.equal(tcpConnections, 1, "one TCP connection for one WebSocket");

    // An h2 server (allowHTTP1) that does not announce SETTINGS_ENABLE_CONNECT_PROTOCOL: our server takes
    // the HTTP/1.1 upgrades on it through noServer mode.
    const h2 = http2.createSecureServer({ ...cert, allowHTTP1: true });
    const wss = new WebSocketServer({ noServer: true });
    defer(t, () => shutDown(wss));
    h2.on("upgrade", (request, socket, head) => wss.handleUpgrade(request, socket, head, () => {}));
    const versions: string[] = [];
    wss.on("connection", () => {});
    h2.on("upgrade", (request) => versions.push(request.httpVersion));
    await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => h2.close(resolve)));
    const plain = `wss://${HOST}:${portOf(h2.address())}`;
    await openClient(t, `${plain}/b`, undefined, { ca: cert.cert, http2: "auto" });
    assert.deepEqual(versions, ["1.1"]);
    const refused = new WebSocket(`${plain}/c`, [], { ca: cert.cert, http2: "always" });
    defer(t, () => refused.terminate());
    const event = await nextEvent<CloseEvent>(refused, "close");
    assert.equal(event.code, 1006, "always: no HTTP/1.1 fallback");
  });

  test("100 sockets on one session: interleaved large and small messages, deflate on and off, a reset touching no other stream", async (t) => {
    if (cert === null) return t.skip("openssl is not installed");
    const { server, url } = await startServer(t, {
      http2: true,
      tls: cert,
      perMessageDeflate: true,
      maxPayloadBytes: 4 << 20,
    });
    const serverSockets: WebSocket[] = [];
    server.on("connection", (ws) => {
      serverSockets.push(ws);
      ws.binaryType = "arraybuffer";
      ws.onmessage = (event) => ws.send(event.data);
    });
    const clients = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        openClient(t, `${url}/s${i}`, undefined, {
          ca: cert!.cert,
          http2: "always",
          perMessageDeflate: i % 2 === 0,
        }),
      ),
    );
    assert.equal(server.clients.size, 100);
    const deflated = clients.filter((c) => c.extensions.includes("permessage-deflate")).length;
    assert.equal(deflated, 50);
    const rounds = clients.map(async (client, i) => {
      client.binaryType = "arraybuffer";
      const sizes = [10, 300_000 + i, 5, 70_000];
      for (const size of sizes) {
        const payload = new Uint8Array(size).map((_, k) => (k * 7 + i) & 0xff);
        const reply = nextEvent<MessageEvent>(client, "message", 20_000);
        client.send(payload);
        const back = new Uint8Array((await reply).data as ArrayBuffer);
        assert.equal(back.length, size);
        assert.equal(back[size - 1], payload[size - 1]);
        assert.deepEqual(back.subarray(0, 64), payload.subarray(0, 64));
      }
    });
    await within(Promise.all(rounds), 60_000, "100 echo rounds");
    // Reset one stream from the server side: only that socket closes.
    const victim = serverSockets[17];
    const victimClient = clients.find((c) => c.url === victim.url)!;
    const closed = nextEvent<CloseEvent>(victimClient, "close");
    (victim as unknown as { terminate(): void }).terminate();
    assert.equal((await closed).code, 1006);
    await waitFor(() => server.clients.size === 99, 5000, "99 left");
    const survivor = clients.find((c) => c !== victimClient)!;
    const reply = nextEvent<MessageEvent>(survivor, "message");
    survivor.send("after the reset");
    assert.equal((await reply).data, "after the reset");
    assert.equal(openSessionCount() >= 1, true);
  });

  test("answers to the CONNECT: 200 with no headers opens; another status or an unoffered subprotocol fails", async (t) => {
    if (cert === null) return t.skip("openssl is not installed");
    const h2 = http2.createSecureServer({ ...cert, settings: { enableConnectProtocol: true } });
    const answers: Record<string, Record<string, string | number>> = {
      "/bare": { ":status": 200 },
      "/created": { ":status": 201 },
      "/forbidden": { ":status": 403 },
      "/protocol": { ":status": 200, "sec-websocket-protocol": "other" },
    };
    const seen: Record<string, string | string[] | undefined>[] = [];
    h2.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.on("error", () => {});
      stream.respond(answers[headers[":path"] ?? ""] ?? { ":status": 404 }, { endStream: false });
    });
    await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => h2.close(resolve)));
    defer(t, () => {
      for (const session of sessionsOf) session.destroy();
    });
    const sessionsOf = new Set<http2.ServerHttp2Session>();
    h2.on("session", (session) => sessionsOf.add(session));
    const base = `wss://${HOST}:${portOf(h2.address())}`;
    const outcome = async (path: string, protocols: string[] = []) => {
      const socket = new WebSocket(`${base}${path}`, protocols, { ca: cert!.cert, http2: "always" });
      defer(t, () => socket.terminate());
      return within(
        new Promise<string>((resolve) => {
          socket.onopen = () => resolve("open");
          socket.onclose = (event) => resolve(`close ${event.code}`);
        }),
        5000,
        path,
      );
    };
    assert.equal(await outcome("/bare"), "open");
    assert.equal(await outcome("/created"), "close 1006", "RFC 8441 §5: exactly 200");
    assert.equal(await outcome("/forbidden"), "close 1006");
    assert.equal(await outcome("/protocol", ["chat"]), "close 1006");
    const request = seen[0];
    assert.equal(request[":method"], "CONNECT");
    assert.equal(request[":protocol"], "websocket");
    assert.equal(request[":scheme"], "https", "§4: :scheme is sent, unlike a plain CONNECT");
    assert.equal(request[":path"], "/bare");
    assert.equal(request["sec-websocket-version"], "13");
    assert.equal(request["sec-websocket-key"], undefined, "§5: no key over HTTP/2");
    assert.equal(new Set(seen.map((h) => h[":authority"])).size, 1);
  });

  test("GOAWAY (a server reload): the open socket goes on, the next one opens on a new session", async (t) => {
    if (cert === null) return t.skip("openssl is not installed");
    const { server, url } = await startServer(t, { http2: true, tls: cert });
    const sessions: http2.ServerHttp2Session[] = [];
    server.on("connection", (ws, request) => {
      sessions.push(
        (request as unknown as { stream: http2.ServerHttp2Stream }).stream
          .session as http2.ServerHttp2Session,
      );
      ws.onmessage = (event) => ws.send(`echo:${event.data}`);
    });
    const first = await openClient(t, `${url}/1`, undefined, { ca: cert.cert, http2: "always" });
    const session = sessions[0];
    const goaway = new Promise((resolve) => setTimeout(resolve, 100));
    session.goaway(http2.constants.NGHTTP2_NO_ERROR);
    await goaway;
    const reply = nextEvent<MessageEvent>(first, "message");
    first.send("after goaway");
    assert.equal((await reply).data, "echo:after goaway");
    await openClient(t, `${url}/2`, undefined, { ca: cert.cert, http2: "always" });
    assert.equal(sessions.length, 2);
    assert.notEqual(sessions[1], sessions[0], "a new session after GOAWAY");
  });
});
