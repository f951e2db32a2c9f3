import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
import type { PerMessageDeflateOption } from "../../src/protocol/permessage-deflate/index.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  HOST,
  jsonMessage,
  parseFrames,
  RawPeer,
  ReferenceInflater,
  referenceCompress,
  referenceDecompress,
  until,
  type WireFrame,
  wireFrame,
} from "./helpers.js";

// Exact bytes over real sockets: a raw client against the sockjet server, and a raw server against the
// sockjet client, so that compressed frames can be malformed on purpose and the Close frame read back.

const OFFER = "permessage-deflate; client_max_window_bits";

async function echoServer(
  t: TestContext,
  options: { maxPayloadBytes?: number; perMessageDeflate?: PerMessageDeflateOption } = {},
) {
  const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: true, ...options });
  await once(server, "listening");
  // Raw peers first: they do not answer the closing handshake, so close() would wait its timeout for them.
  t.after(() => {
    for (const peer of openPeers.splice(0)) peer.destroy();
    return server.close();
  });
  server.on("connection", (socket) => {
    socket.onmessage = (event: MessageEvent) => socket.send(event.data as string);
  });
  return (server.address() as AddressInfo).port;
}

const openPeers: RawPeer[] = [];

async function rawClient(port: number, offer: string | null): Promise<RawPeer> {
  const peer = await RawPeer.connect(port, offer);
  openPeers.push(peer);
  return peer;
}

describe("sockjet server on the wire (raw client)", () => {
  test(`perMessageDeflate: true, offer ${JSON.stringify(OFFER)} → 101 accepting it without context takeover either way`, async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    assert.match(peer.responseHead, /^HTTP\/1\.1 101 /);
    assert.equal(
      peer.header("sec-websocket-extensions"),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
  });

  test("perMessageDeflate: true: each compressed echo inflates alone, with a fresh window", async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    const messages = [jsonMessage(1, 2048), jsonMessage(1, 2048), jsonMessage(2, 2048)];
    for (const m of messages) peer.send({ opcode: 1, rsv1: true, payload: referenceCompress(m) });
    await until(() => peer.frames.length === 3, 5000, "three echoes");
    for (let i = 0; i < 3; i++) {
      assert.equal(peer.frames[i].rsv1, true);
      assert.ok(referenceDecompress(peer.frames[i].payload).equals(messages[i]), `echo ${i}`);
    }
    assert.ok(peer.frames[1].payload.equals(peer.frames[0].payload), "the same message compresses the same");
  });

  test("context takeover allowed: RSV1 echoes inflate with the shared window to the same JSON", async (t) => {
    const takeover = { serverNoContextTakeover: false, clientNoContextTakeover: false };
    const peer = await rawClient(await echoServer(t, { perMessageDeflate: takeover }), OFFER);
    assert.equal(peer.header("sec-websocket-extensions"), "permessage-deflate");
    const inflater = new ReferenceInflater();
    t.after(() => inflater.close());
    const messages = [jsonMessage(1, 2048), jsonMessage(2, 2048), jsonMessage(3, 2048)];
    for (const m of messages) peer.send({ opcode: 1, rsv1: true, payload: referenceCompress(m) });
    await until(() => peer.frames.length === 3, 5000, "three echoes");
    for (let i = 0; i < 3; i++) {
      const f = peer.frames[i];
      assert.deepEqual([f.opcode, f.fin, f.rsv1], [1, true, true]);
      assert.ok((await inflater.inflate(f.payload)).equals(messages[i]), `echo ${i}`);
    }
    // The window is shared across messages: later echoes are much smaller than the first.
    assert.ok(peer.frames[2].payload.length < peer.frames[0].payload.length);
  });

  test("a short message is echoed uncompressed (RSV1 clear, below the 1 KiB threshold)", async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    peer.send({ opcode: 1, rsv1: true, payload: referenceCompress(Buffer.from("Hello")) });
    await until(() => peer.frames.length === 1, 5000, "the echo");
    assert.deepEqual(peer.frames[0], { fin: true, rsv1: false, opcode: 1, payload: Buffer.from("Hello") });
  });

  test("ping → pong with RSV1 clear (RFC 7692 §6: control frames are never compressed)", async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    peer.send({ opcode: 9, payload: Buffer.from("x".repeat(125)) });
    await until(() => peer.frames.length === 1, 5000, "the pong");
    assert.deepEqual(peer.frames[0], {
      fin: true,
      rsv1: false,
      opcode: 10,
      payload: Buffer.from("x".repeat(125)),
    });
  });

  test("a 64 KiB message inflating to 64 MiB, maxPayloadBytes 1 MiB → Close 1009, then the server ends the TCP connection", async (t) => {
    const peer = await rawClient(await echoServer(t, { maxPayloadBytes: 1 << 20 }), OFFER);
    const bomb = referenceCompress(Buffer.alloc(64 << 20));
    assert.ok(bomb.length < 70_000);
    peer.send({ opcode: 2, rsv1: true, payload: bomb });
    assert.equal(await peer.closeCode(), 1009);
    await until(() => peer.ended, 5000, "the server to close the TCP connection");
  });

  test("invalid compressed data (ff ff ff ff) → Close 1007", async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    peer.send({ opcode: 1, rsv1: true, payload: Buffer.from("ffffffff", "hex") });
    assert.equal(await peer.closeCode(), 1007);
  });

  test("RSV1 on a continuation frame → Close 1002", async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    const compressed = referenceCompress(Buffer.from("Hello, fragments"));
    peer.send({ opcode: 1, fin: false, rsv1: true, payload: compressed.subarray(0, 4) });
    peer.send({ opcode: 0, rsv1: true, payload: compressed.subarray(4) });
    assert.equal(await peer.closeCode(), 1002);
  });

  test("RSV1 on a ping → Close 1002", async (t) => {
    const peer = await rawClient(await echoServer(t), OFFER);
    peer.send({ opcode: 9, rsv1: true, payload: Buffer.alloc(0) });
    assert.equal(await peer.closeCode(), 1002);
  });

  test("no offer, then RSV1 → Close 1002 (RFC 6455 §5.2: no extension negotiated)", async (t) => {
    const peer = await rawClient(await echoServer(t), null);
    assert.equal(peer.header("sec-websocket-extensions"), undefined);
    peer.send({ opcode: 1, rsv1: true, payload: referenceCompress(Buffer.from("Hello")) });
    assert.equal(await peer.closeCode(), 1002);
  });

  test("only malformed offers (duplicate parameter) → 101 without the extension, then RSV1 → Close 1002", async (t) => {
    const peer = await rawClient(
      await echoServer(t),
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    );
    assert.match(peer.responseHead, /^HTTP\/1\.1 101 /);
    assert.equal(peer.header("sec-websocket-extensions"), undefined);
    peer.send({ opcode: 1, rsv1: true, payload: referenceCompress(Buffer.from("Hello")) });
    assert.equal(await peer.closeCode(), 1002);
  });

  test("perMessageDeflate: false → the offer is ignored", async (t) => {
    const peer = await rawClient(await echoServer(t, { perMessageDeflate: false }), OFFER);
    assert.equal(peer.header("sec-websocket-extensions"), undefined);
  });

  test("no perMessageDeflate option (server default: off) → the offer is ignored", async (t) => {
    const server = new WebSocketServer({ host: HOST, port: 0 });
    await once(server, "listening");
    t.after(() => {
      for (const peer of openPeers.splice(0)) peer.destroy();
      return server.close();
    });
    const peer = await rawClient((server.address() as AddressInfo).port, OFFER);
    assert.match(peer.responseHead, /^HTTP\/1\.1 101 /);
    assert.equal(peer.header("sec-websocket-extensions"), undefined);
  });
});

// ---- the sockjet client against a raw server -----------------------------------------------------------

interface RawServer {
  url: string;
  /** Frames the client sent (unmasked). */
  frames: WireFrame[];
  /** The request's Sec-WebSocket-Extensions. */
  offer: () => string | undefined;
  send(frame: Buffer): void;
}

/** Accepts one connection and answers 101 with `extensions` (or none). */
async function rawServer(t: TestContext, extensions: string | null): Promise<RawServer> {
  const frames: WireFrame[] = [];
  let socket: net.Socket | null = null;
  let offer: string | undefined;
  const server = net.createServer((s) => {
    socket = s;
    s.on("error", () => {});
    let buffer: Buffer = Buffer.alloc(0);
    let upgraded = false;
    s.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString("latin1");
        buffer = buffer.subarray(end + 4);
        upgraded = true;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
        offer = /sec-websocket-extensions:\s*([^\r\n]+)/i.exec(head)?.[1];
        const accept = createHash("sha1")
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        s.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
            (extensions === null ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
            "\r\n",
        );
      }
      const parsed = parseFrames(buffer);
      frames.push(...parsed.frames);
      buffer = parsed.rest;
    });
  });
  server.listen(0, HOST);
  await once(server, "listening");
  t.after(() => {
    (socket as net.Socket | null)?.destroy();
    server.close();
  });
  return {
    url: `ws://${HOST}:${(server.address() as AddressInfo).port}`,
    frames,
    offer: () => offer,
    send: (frame) => (socket as net.Socket | null)?.write(frame),
  };
}

/** A sockjet client whose events are recorded. */
function recordedClient(url: string, maxPayloadBytes?: number) {
  const ws = new WebSocket(url, [], { maxPayloadBytes });
  const log: string[] = [];
  let closeCode = 0;
  ws.onopen = () => log.push("open");
  ws.onerror = () => log.push("error");
  ws.onmessage = (event: MessageEvent) => log.push(`message:${event.data}`);
  ws.onclose = (event: CloseEvent) => {
    closeCode = event.code;
    log.push(`close:${event.code}:${event.wasClean}`);
  };
  return { ws, log, closeCode: () => closeCode };
}

const serverFrame = (f: { opcode: number; payload: Buffer; fin?: boolean; rsv1?: boolean }) =>
  wireFrame({ ...f, masked: false });

describe("sockjet client on the wire (raw server)", () => {
  for (const [response, why] of [
    ["permessage-deflate; client_max_window_bits", "client_max_window_bits without a value"],
    ["permessage-deflate; x_unknown=1", "an unknown parameter"],
    ["permessage-deflate; server_max_window_bits=16", "server_max_window_bits out of range"],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", "a duplicate parameter"],
  ] as const) {
    test(`a 101 accepting permessage-deflate with ${why} → the client fails the connection: error, close 1006`, async (t) => {
      const server = await rawServer(t, response);
      const client = recordedClient(server.url);
      await until(() => client.ws.readyState === WebSocket.CLOSED, 5000, "the client to close");
      assert.deepEqual(client.log, ["error", "close:1006:false"]);
      assert.equal(server.offer(), "permessage-deflate; client_max_window_bits");
    });
  }

  test("server sends §7.2.3.1 compressed 'Hello' → message 'Hello'", async (t) => {
    const server = await rawServer(t, "permessage-deflate");
    const client = recordedClient(server.url);
    await until(() => client.log.includes("open"), 5000, "open");
    server.send(serverFrame({ opcode: 1, rsv1: true, payload: Buffer.from("f248cdc9c90700", "hex") }));
    await until(() => client.log.length === 2, 5000, "the message");
    assert.deepEqual(client.log, ["open", "message:Hello"]);
    assert.equal(client.ws.extensions, "permessage-deflate");
    client.ws.close();
  });

  test("client sends a 3 KiB message → masked frame with RSV1 whose payload inflates to it", async (t) => {
    const server = await rawServer(t, "permessage-deflate; server_no_context_takeover");
    const client = recordedClient(server.url);
    await until(() => client.log.includes("open"), 5000, "open");
    const message = jsonMessage(4, 3000).toString();
    client.ws.send(message);
    client.ws.send("tiny");
    await until(() => server.frames.length === 2, 5000, "two frames");
    const inflater = new ReferenceInflater();
    t.after(() => inflater.close());
    assert.equal(server.frames[0].rsv1, true);
    assert.equal((await inflater.inflate(server.frames[0].payload)).toString(), message);
    assert.deepEqual(server.frames[1], { fin: true, rsv1: false, opcode: 1, payload: Buffer.from("tiny") });
    client.ws.close();
  });

  test("server sends invalid compressed data → the client sends Close 1007 and reports error, close 1006", async (t) => {
    const server = await rawServer(t, "permessage-deflate");
    const client = recordedClient(server.url);
    await until(() => client.log.includes("open"), 5000, "open");
    server.send(serverFrame({ opcode: 1, rsv1: true, payload: Buffer.from("ffffffff", "hex") }));
    await until(() => server.frames.some((f) => f.opcode === 8), 5000, "the client's Close");
    assert.equal(server.frames.find((f) => f.opcode === 8)!.payload.readUInt16BE(0), 1007);
    await until(() => client.ws.readyState === WebSocket.CLOSED, 5000, "closed");
    assert.deepEqual(client.log, ["open", "error", "close:1006:false"]);
  });

  test("server sends 40 KiB that inflate to 40 MiB, client maxPayloadBytes 1 MiB → the client sends Close 1009", async (t) => {
    const server = await rawServer(t, "permessage-deflate");
    const client = recordedClient(server.url, 1 << 20);
    await until(() => client.log.includes("open"), 5000, "open");
    server.send(serverFrame({ opcode: 2, rsv1: true, payload: referenceCompress(Buffer.alloc(40 << 20)) }));
    await until(() => server.frames.some((f) => f.opcode === 8), 5000, "the client's Close");
    assert.equal(server.frames.find((f) => f.opcode === 8)!.payload.readUInt16BE(0), 1009);
    await until(() => client.ws.readyState === WebSocket.CLOSED, 5000, "closed");
    assert.deepEqual(client.log, ["open", "error", "close:1006:false"]);
  });

  test("server sends RSV1 on a continuation frame → the client sends Close 1002", async (t) => {
    const server = await rawServer(t, "permessage-deflate");
    const client = recordedClient(server.url);
    await until(() => client.log.includes("open"), 5000, "open");
    server.send(serverFrame({ opcode: 1, fin: false, rsv1: true, payload: Buffer.from("f248cd", "hex") }));
    server.send(serverFrame({ opcode: 0, rsv1: true, payload: Buffer.from("c9c90700", "hex") }));
    await until(() => server.frames.some((f) => f.opcode === 8), 5000, "the client's Close");
    assert.equal(server.frames.find((f) => f.opcode === 8)!.payload.readUInt16BE(0), 1002);
  });

  test("server without the extension sends RSV1 → the client sends Close 1002", async (t) => {
    const server = await rawServer(t, null);
    const client = recordedClient(server.url);
    await until(() => client.log.includes("open"), 5000, "open");
    assert.equal(client.ws.extensions, "");
    server.send(serverFrame({ opcode: 1, rsv1: true, payload: Buffer.from("f248cdc9c90700", "hex") }));
    await until(() => server.frames.some((f) => f.opcode === 8), 5000, "the client's Close");
    assert.equal(server.frames.find((f) => f.opcode === 8)!.payload.readUInt16BE(0), 1002);
  });
});
