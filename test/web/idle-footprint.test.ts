import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";
import { Opcode } from "../../src/protocol/constants.js";
import { connectionOf } from "../../src/web/websocket.js";
import { StreamPeer } from "../conformance/stream-peer.js";

// What an idle socket does not keep (issue 17) must not change what it does once used: its frame parser is
// made on the first bytes, a client's MessageEvent.origin on the first message. Listeners and on* handlers
// stay per socket.

async function echoServer() {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  server.on("connection", (socket) => {
    socket.onmessage = (event) => socket.send(event.data as string);
  });
  const { port } = server.address() as { port: number };
  return { server, port };
}

function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("connection failed"));
  });
}

describe("idle footprint", () => {
  it("keeps listeners, on* handlers and the message origin per socket", async () => {
    const { server, port } = await echoServer();
    try {
      const a = await open(`ws://127.0.0.1:${port}/a`);
      const b = await open(`ws://localhost:${port}/b`);
      const gotA: string[] = [];
      const gotB: string[] = [];
      const listened: string[] = [];
      a.onmessage = (event) => gotA.push(`${event.data} from ${event.origin}`);
      a.addEventListener("message", (event) => listened.push(String(event.data)));
      b.onmessage = (event) => gotB.push(`${event.data} from ${event.origin}`);
      const bothAnswered = new Promise<void>((resolve) => {
        const check = () => gotA.length === 2 && gotB.length === 1 && resolve();
        a.addEventListener("message", check);
        b.addEventListener("message", check);
      });
      a.send("one");
      a.send("two");
      b.send("three");
      await bothAnswered;
      assert.deepEqual(gotA, [`one from ws://127.0.0.1:${port}`, `two from ws://127.0.0.1:${port}`]);
      assert.deepEqual(gotB, [`three from ws://localhost:${port}`]);
      assert.deepEqual(listened, ["one", "two"]);
      a.onmessage = null;
      assert.equal(a.onmessage, null);
      assert.equal(typeof b.onmessage, "function");
      a.close();
      b.close();
    } finally {
      await server.close();
    }
  });

  it("shares one options object among a server's connections, with or without an extension", async () => {
    // Connection and Protocol keep the options they are given (issue 17): a server that copied them per
    // connection would pay a field per setting per connection again. The extension is each one's own.
    const optionsOf = (socket: WebSocket) => {
      const connection = connectionOf(socket) as unknown as {
        options?: object;
        protocol: { options?: object; extension: object | null };
      };
      return {
        connection: connection.options,
        protocol: connection.protocol.options,
        extension: connection.protocol.extension,
      };
    };
    for (const perMessageDeflate of [false, true]) {
      const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate });
      await new Promise<void>((resolve) => server.once("listening", resolve));
      const accepted: WebSocket[] = [];
      const twoAccepted = new Promise<void>((resolve) =>
        server.on("connection", (socket) => accepted.push(socket) === 2 && resolve()),
      );
      const { port } = server.address() as { port: number };
      try {
        const clients = [await open(`ws://127.0.0.1:${port}/a`), await open(`ws://127.0.0.1:${port}/b`)];
        await twoAccepted;
        const [a, b] = accepted.map(optionsOf);
        assert.ok(a!.connection !== undefined, "the connection keeps its options");
        assert.equal(a!.protocol, a!.connection, "the protocol reads the connection's options");
        assert.equal(a!.connection, b!.connection);
        if (perMessageDeflate) {
          assert.ok(a!.extension !== null && b!.extension !== null);
          assert.notEqual(a!.extension, b!.extension);
        } else {
          assert.equal(a!.extension, null);
        }
        assert.equal(accepted[0]!.extensions.startsWith("permessage-deflate"), perMessageDeflate);
        for (const client of clients) client.close();
      } finally {
        await server.close();
      }
    }
  });

  it("keeps what accepted sockets rarely use working: binaryType, sends after close, close hooks", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    const accepted = new Promise<WebSocket>((resolve) => server.once("connection", resolve));
    const { port } = server.address() as { port: number };
    try {
      const client = await open(`ws://127.0.0.1:${port}/`);
      const socket = await accepted;
      assert.equal(socket.binaryType, "blob");
      for (const type of ["arraybuffer", "nodebuffer", "blob"] as const) {
        socket.binaryType = type;
        assert.equal(socket.binaryType, type);
      }
      socket.binaryType = "nonsense" as BinaryType;
      assert.equal(socket.binaryType, "blob", "an unknown value is ignored (WebIDL enumeration)");
      assert.equal(socket.readyState, WebSocket.OPEN);
      assert.equal(server.clients.has(socket), true);
      const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
      client.close(4000, "bye");
      const event = await closed;
      assert.equal(event.code, 4000);
      assert.equal(socket.readyState, WebSocket.CLOSED);
      assert.equal(server.clients.has(socket), false, "the server's close hook ran");
      // WHATWG send(): data sent after closing is discarded but counted in bufferedAmount.
      socket.send("12345");
      socket.send(new Uint8Array(3));
      assert.equal(socket.bufferedAmount, 8);
    } finally {
      await server.close();
    }
  });

  it("makes the receive state with the first bytes, and then assembles fragmented messages as before", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    const accepted = new Promise<WebSocket>((resolve) => server.once("connection", resolve));
    const { port } = server.address() as { port: number };
    const peer = await StreamPeer.open(port);
    try {
      const socket = await accepted;
      const protocol = () =>
        (connectionOf(socket) as unknown as { protocol: { frameParser: unknown } }).protocol;
      assert.equal(protocol().frameParser, null, "a connection that has heard nothing keeps no parser state");
      const got: string[] = [];
      const three = new Promise<void>((resolve) => {
        socket.onmessage = (event) => got.push(String(event.data)) === 3 && resolve();
      });
      // A text message in fragments with a ping between them, then two whole ones (RFC 6455 §5.4, §5.5).
      peer.sendFrame(Opcode.Text, Buffer.from("héllo "), false);
      peer.sendFrame(Opcode.Ping, Buffer.from("p"));
      peer.sendFrame(Opcode.Continuation, Buffer.from("wörld"), true);
      peer.sendMessage(Opcode.Text, Buffer.from("two"));
      peer.sendMessage(Opcode.Text, Buffer.from("three in pieces"), 4);
      await three;
      assert.deepEqual(got, ["héllo wörld", "two", "three in pieces"]);
      assert.notEqual(protocol().frameParser, null);
    } finally {
      peer.destroy();
      await server.close();
    }
  });
});
