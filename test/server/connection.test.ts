import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import { CloseEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  clientClose,
  clientFrame,
  hex,
  nextConnection,
  nextEvent,
  OP,
  onMessage,
  openClient,
  RawClient,
  startServer,
  upgradeRequest,
  waitFor,
} from "./helpers.js";

// What the `connection` listener gets: the same WHATWG WebSocket class as the client, already OPEN, with the
// URL as the server saw it, the negotiated protocol and extensions, the upgrade request and the peer address.

describe("the server-side WebSocket handed to the `connection` listener", () => {
  test("is a WebSocket, readyState OPEN, with url/protocol/extensions/remoteAddress, and gets the request", async (t) => {
    const { server, port } = await startServer(t, { protocols: ["chat"] });
    let seen: Record<string, unknown> | null = null;
    server.on("connection", (ws, request: IncomingMessage) => {
      seen = {
        isWebSocket: ws instanceof WebSocket,
        readyState: ws.readyState,
        url: ws.url,
        protocol: ws.protocol,
        extensions: ws.extensions,
        remoteAddress: ws.remoteAddress,
        requestUrl: request.url,
        cookie: request.headers.cookie,
        method: request.method,
      };
    });
    const raw = await RawClient.connect(t, port);
    await raw.handshake("/chat/room?id=7&x=%20y", {
      Host: "chat.example.com:9000",
      "Sec-WebSocket-Protocol": "chat",
      Cookie: "sid=abc",
    });
    await waitFor(() => seen !== null, 2000, "the connection listener");
    assert.deepEqual(seen, {
      isWebSocket: true,
      readyState: WebSocket.OPEN,
      // The URL as the server sees it: the Host header, the path and the query.
      url: "ws://chat.example.com:9000/chat/room?id=7&x=%20y",
      protocol: "chat",
      extensions: "",
      remoteAddress: "127.0.0.1",
      requestUrl: "/chat/room?id=7&x=%20y",
      cookie: "sid=abc",
      method: "GET",
    });
  });

  test("our client's URL and the server's view of it agree on host, port, path and query", async (t) => {
    const { server, url } = await startServer(t);
    const connection = nextConnection(server);
    const client = await openClient(t, `${url}/a/b?c=d`);
    const [ws] = await connection;
    assert.equal(ws.url, `${url}/a/b?c=d`);
    assert.equal(client.url, `${url}/a/b?c=d`);
  });

  test("the server-side WebSocket's MessageEvent.origin is the serialized origin of its URL", async (t) => {
    const { server, url } = await startServer(t);
    const connection = nextConnection(server);
    const client = await openClient(t, `${url}/x`);
    const [ws] = await connection;
    const message = nextEvent<MessageEvent>(ws, "message");
    client.send("hi");
    const event = await message;
    assert.equal(event.data, "hi");
    assert.equal(event.origin, url);
  });

  test("a frame sent in the same packet as the handshake is delivered after the `connection` listener ran", async (t) => {
    const { server, port } = await startServer(t);
    const received: string[] = [];
    server.on("connection", (ws) => {
      onMessage(ws, (data) => received.push(data));
    });
    const raw = await RawClient.connect(t, port);
    raw.write(Buffer.concat([Buffer.from(upgradeRequest(), "latin1"), clientFrame(OP.text, "early")]));
    assert.equal((await raw.readHead()).status, 101);
    await waitFor(() => received.length === 1, 2000, "the early message");
    assert.deepEqual(received, ["early"]);
  });

  test("send/close from the server side: text, binary, and close(4000, 'done') reach the raw peer as exact frames", async (t) => {
    const { server, port } = await startServer(t);
    server.on("connection", (ws) => {
      ws.send("hi");
      ws.send(new Uint8Array([1, 2, 3]));
      ws.close(4000, "done");
    });
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    assert.equal(hex((await raw.readFrame()).bytes), "81 02 68 69");
    assert.equal(hex((await raw.readFrame()).bytes), "82 03 01 02 03");
    assert.equal(hex((await raw.readFrame()).bytes), "88 06 0f a0 64 6f 6e 65");
    raw.write(clientClose(4000, "done"));
    await raw.finish();
  });

  test("clients holds open connections and loses them on close", async (t) => {
    const { server, url } = await startServer(t);
    const a = await openClient(t, url);
    const b = await openClient(t, url);
    await waitFor(() => server.clients.size === 2, 2000, "two clients");
    a.close();
    await nextEvent(a, "close");
    await waitFor(() => server.clients.size === 1, 2000, "one client");
    b.close();
    await nextEvent(b, "close");
    await waitFor(() => server.clients.size === 0, 2000, "no client");
  });
});

describe("node:diagnostics_channel", () => {
  test("sockjet:server:open and sockjet:server:close see each connection, with the request and the CloseEvent", async (t) => {
    const opened: { webSocket: WebSocket; request: IncomingMessage }[] = [];
    const closed: { webSocket: WebSocket; event: CloseEvent }[] = [];
    const rejected: { status: number; reason: string }[] = [];
    const onOpen = (message: unknown) => opened.push(message as (typeof opened)[number]);
    const onClose = (message: unknown) => closed.push(message as (typeof closed)[number]);
    const onRejected = (message: unknown) => rejected.push(message as (typeof rejected)[number]);
    diagnosticsChannel.subscribe("sockjet:server:open", onOpen);
    diagnosticsChannel.subscribe("sockjet:server:close", onClose);
    diagnosticsChannel.subscribe("sockjet:server:handshake-rejected", onRejected);
    t.after(() => {
      diagnosticsChannel.unsubscribe("sockjet:server:open", onOpen);
      diagnosticsChannel.unsubscribe("sockjet:server:close", onClose);
      diagnosticsChannel.unsubscribe("sockjet:server:handshake-rejected", onRejected);
    });

    const { server, url, port } = await startServer(t);
    const connection = nextConnection(server);
    const client = await openClient(t, `${url}/diag`);
    const [ws] = await connection;
    assert.equal(opened.length, 1);
    assert.equal(opened[0].webSocket, ws);
    assert.equal(opened[0].request.url, "/diag");

    client.close(4001, "bye");
    await nextEvent(client, "close");
    await waitFor(() => closed.length === 1, 2000, "the close diagnostic");
    assert.equal(closed[0].webSocket, ws);
    assert.ok(closed[0].event instanceof CloseEvent);
    assert.equal(closed[0].event.code, 4001);
    assert.equal(closed[0].event.reason, "bye");

    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest({ headers: { "Sec-WebSocket-Version": "7" } }));
    assert.equal((await raw.readHead()).status, 426);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0].status, 426);
  });
});
