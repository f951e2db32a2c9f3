import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WS, { WebSocketServer as WSServer } from "ws";
import type { CloseEvent } from "../../src/web/events.js";
import {
  type Cleanup,
  defer,
  HOST,
  nextConnection,
  nextEmit,
  nextEvent,
  onMessage,
  openClient,
  portOf,
  startServer,
  within,
} from "./helpers.js";

// Interoperability with the npm `ws` package, the most used WebSocket library on Node: its client against our
// server, and our client against its server. Each peer is an independent implementation of RFC 6455, so a
// shared misreading of the RFC is the only thing these tests cannot catch.

/** A `ws` client, open; terminated after the test. */
async function openWs(
  t: Cleanup,
  url: string,
  protocols?: string[],
  options?: WS.ClientOptions,
): Promise<WS> {
  const client = new WS(url, protocols, options);
  defer(t, () => client.terminate());
  await within(
    new Promise<void>((resolve, reject) => {
      client.once("open", () => resolve());
      client.once("error", reject);
    }),
    5000,
    "the ws client to open",
  );
  return client;
}

/** A `ws` server on 127.0.0.1:0; closed after the test. */
async function startWsServer(
  t: Cleanup,
  options: WS.ServerOptions = {},
): Promise<{ server: WSServer; url: string }> {
  const server = new WSServer({ host: HOST, port: 0, ...options });
  defer(
    t,
    () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  );
  await nextEmit(server, "listening");
  return { server, url: `ws://${HOST}:${portOf(server.address())}` };
}

describe("the npm ws client ↔ our server", () => {
  test("text and binary echo, byte for byte, including a 1 MiB − 1 binary message", async (t) => {
    const { server, url } = await startServer(t);
    server.on("connection", (ws) => {
      ws.binaryType = "arraybuffer";
      onMessage(ws, (data) => ws.send(data));
    });
    const client = await openWs(t, url);
    const replies: { data: WS.RawData; isBinary: boolean }[] = [];
    client.on("message", (data, isBinary) => replies.push({ data, isBinary }));
    const big = Buffer.alloc(1024 * 1024 - 1);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    client.send("héllo ✓");
    client.send(Buffer.from([0, 1, 2, 255]));
    client.send(big);
    await within(
      (async () => {
        while (replies.length < 3) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      "three echoes",
    );
    assert.equal(replies[0].isBinary, false);
    assert.equal(replies[0].data.toString(), "héllo ✓");
    assert.equal(replies[1].isBinary, true);
    assert.deepEqual([...(replies[1].data as Buffer)], [0, 1, 2, 255]);
    assert.ok((replies[2].data as Buffer).equals(big));
  });

  test("ws's fragmented send (fin: false) is reassembled into one message", async (t) => {
    const { server, url } = await startServer(t);
    const connection = nextConnection(server);
    const client = await openWs(t, url);
    const [ws] = await connection;
    const message = nextEvent<MessageEvent>(ws, "message");
    client.send("part1-", { fin: false });
    client.send("part2-", { fin: false });
    client.send("end", { fin: true });
    assert.equal((await message).data, "part1-part2-end");
  });

  test("subprotocol: ws offers [v2, v1], the server supports v1 → both sides report v1", async (t) => {
    const { server, url } = await startServer(t, { protocols: ["v1"] });
    const connection = nextConnection(server);
    const client = await openWs(t, url, ["v2", "v1"]);
    const [ws] = await connection;
    assert.equal(client.protocol, "v1");
    assert.equal(ws.protocol, "v1");
  });

  test("ws's permessage-deflate offer is declined (no extension configured): extensions '' on both sides", async (t) => {
    const { server, url } = await startServer(t);
    const connection = nextConnection(server);
    const client = await openWs(t, url, undefined, { perMessageDeflate: true });
    const [ws] = await connection;
    assert.equal(client.extensions, "");
    assert.equal(ws.extensions, "");
  });

  test("ws's ping gets a pong with the same payload", async (t) => {
    const { url } = await startServer(t);
    const client = await openWs(t, url);
    const pong = nextEmit<[Buffer]>(client, "pong");
    client.ping(Buffer.from("are you there"));
    assert.equal((await pong)[0].toString(), "are you there");
  });

  test("ws closes with 4000 'bye': our server sees 4000 'bye' clean, ws gets the echo", async (t) => {
    const { server, url } = await startServer(t);
    const connection = nextConnection(server);
    const client = await openWs(t, url);
    const [ws] = await connection;
    const serverClose = nextEvent<CloseEvent>(ws, "close");
    const clientClose = nextEmit<[number, Buffer]>(client, "close");
    client.close(4000, "bye");
    const event = await serverClose;
    assert.deepEqual([event.code, event.reason, event.wasClean], [4000, "bye", true]);
    const [code, reason] = await clientClose;
    assert.deepEqual([code, reason.toString()], [4000, "bye"]);
  });

  test("our server closes with 1001 on shutdown: ws sees 1001", async (t) => {
    const { server, url } = await startServer(t);
    const client = await openWs(t, url);
    const clientClose = nextEmit<[number, Buffer]>(client, "close");
    await within(server.close(), 3000, "server.close()");
    assert.equal((await clientClose)[0], 1001);
  });
});

describe("our client ↔ the npm ws server", () => {
  test("text and binary echo through a ws server", async (t) => {
    const { server, url } = await startWsServer(t);
    server.on("connection", (ws) =>
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })),
    );
    const client = await openClient(t, url);
    client.binaryType = "arraybuffer";
    const text = nextEvent<MessageEvent>(client, "message");
    client.send("héllo ✓");
    assert.equal((await text).data, "héllo ✓");
    const binary = nextEvent<MessageEvent>(client, "message");
    client.send(new Uint8Array([9, 8, 7]));
    assert.deepEqual([...new Uint8Array((await binary).data)], [9, 8, 7]);
  });

  test("ws server's handleProtocols picks; our client reports it", async (t) => {
    const { url } = await startWsServer(t, { handleProtocols: (protocols) => [...protocols].pop() ?? false });
    const client = await openClient(t, url, ["a", "b"]);
    assert.equal(client.protocol, "b");
  });

  test("our client closes with 1000 'done': the ws server sees it, our client closes cleanly", async (t) => {
    const { server, url } = await startWsServer(t);
    const serverSide = nextEmit<[WS]>(server, "connection");
    const client = await openClient(t, url);
    const [ws] = await serverSide;
    const serverClose = nextEmit<[number, Buffer]>(ws, "close");
    const closed = nextEvent<CloseEvent>(client, "close");
    client.close(1000, "done");
    const [code, reason] = await serverClose;
    assert.deepEqual([code, reason.toString()], [1000, "done"]);
    const event = await closed;
    assert.deepEqual([event.code, event.reason, event.wasClean], [1000, "done", true]);
  });

  test("the ws server's 1 MiB message reaches our client whole", async (t) => {
    const { server, url } = await startWsServer(t);
    const payload = Buffer.alloc(1024 * 1024, 0x5a);
    server.on("connection", (ws) => ws.send(payload));
    const client = new (await import("../../src/web/websocket.js")).WebSocket(url);
    defer(t, () => client.terminate());
    client.binaryType = "arraybuffer";
    const message = await nextEvent<MessageEvent>(client, "message");
    assert.ok(Buffer.from(message.data as ArrayBuffer).equals(payload));
  });
});
