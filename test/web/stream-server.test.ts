import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { createInterface } from "node:readline";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import WsWebSocket, { WebSocketServer as WsServer } from "ws";
import { WebSocket, WebSocketServer, WebSocketStream } from "../../src/index.js";
import { HANDSHAKE_GUID } from "../../src/protocol/constants.js";
import { skipUnlessAvailable } from "../support/require.js";
import { rejectionOf, within } from "./stream-helpers.js";

// Issue 16, the server side: WebSocketStream.from() makes a stream of an accepted connection, with nothing
// lost between the accept and the first read, the server still tracking it; and interop both ways with ws
// and our WebSocket.

const WAIT = 5000;
const MiB = 1024 * 1024;
/** Debian's python3-websockets (apt-get install python3-websockets): the interop tests skip without it. */
const PYTHON = "/usr/bin/python3";
const pythonSkip = skipUnlessAvailable(
  spawnSync(PYTHON, ["-c", "import websockets"], { stdio: "ignore" }).status === 0,
  "python3-websockets is missing (apt-get install -y python3-websockets)",
  "SOCKJET_REQUIRE_PYTHON_WEBSOCKETS",
);

const PYTHON_CLIENT = `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send("from python")
        text = await ws.recv()
        await ws.send(bytes([1, 2, 3]))
        data = await ws.recv()
        await ws.close(4002, "py")
        print(text, list(data), ws.close_code, flush=True)
asyncio.run(main())
`;

const PYTHON_ECHO_SERVER = `
import asyncio, websockets
async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
`;

/** A server whose every connection is a stream that echoes what it reads (readable piped to writable). */
async function streamEchoServer(t: TestContext, options: { perMessageDeflate?: boolean } = {}) {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", ...options });
  await once(server, "listening");
  t.after(() => server.close());
  const streams: WebSocketStream[] = [];
  server.on("connection", (socket) => {
    const wss = WebSocketStream.from(socket);
    streams.push(wss);
    wss.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  });
  const { port } = server.address() as { port: number };
  return { server, streams, url: `ws://127.0.0.1:${port}/` };
}

describe("WebSocketStream.from(): a server connection as a stream", () => {
  for (const perMessageDeflate of [false, true]) {
    it(`a client stream and a server stream echo text and binary in order (deflate ${perMessageDeflate})`, async (t) => {
      const { url } = await streamEchoServer(t, { perMessageDeflate });
      const wss = new WebSocketStream(url, { perMessageDeflate });
      const { readable, writable, extensions } = await within(wss.opened, WAIT, "opened");
      assert.equal(extensions.includes("permessage-deflate"), perMessageDeflate);
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const sent = ["a", new Uint8Array([1, 2, 3]), "x".repeat(100_000), new Uint8Array(300_000).fill(9)];
      for (const message of sent) writer.write(message);
      for (const message of sent) {
        const { value } = await within(reader.read(), WAIT, "echo");
        assert.deepEqual(value, message);
      }
      wss.close({ closeCode: 4000, reason: "done" });
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 4000, reason: "done" });
    });
  }

  it("frames that arrive with the handshake reach the server stream (nothing lost before the first read)", async (t) => {
    const { url } = await streamEchoServer(t);
    const { port } = new URL(url);
    const socket = net.connect(Number(port), "127.0.0.1");
    t.after(() => socket.destroy());
    await once(socket, "connect");
    const key = randomBytes(16).toString("base64");
    // The upgrade request and a masked text frame "early" (zero mask) in one write.
    const frame = Buffer.concat([Buffer.from([0x81, 0x85, 0, 0, 0, 0]), Buffer.from("early")]);
    socket.write(
      Buffer.concat([
        Buffer.from(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
        frame,
      ]),
    );
    let received = Buffer.alloc(0);
    const accept = createHash("sha1")
      .update(key + HANDSHAKE_GUID)
      .digest("base64");
    const deadline = Date.now() + WAIT;
    while (!received.includes("early") && Date.now() < deadline) {
      const [chunk] = (await within(once(socket, "data"), WAIT, "the echo")) as [Buffer];
      received = Buffer.concat([received, chunk]);
    }
    assert.ok(received.includes(accept), "the handshake was answered");
    const echo = received.subarray(received.indexOf("\r\n\r\n") + 4);
    assert.deepEqual([...echo], [0x81, 5, ...Buffer.from("early")]);
  });

  it("from() throws InvalidStateError for a socket that has had a message, has a stream, or is closed", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    t.after(() => server.close());
    const errors: string[] = [];
    const done = new Promise<void>((resolve) => {
      server.on("connection", (socket) => {
        WebSocketStream.from(socket);
        try {
          WebSocketStream.from(socket);
        } catch (error) {
          errors.push((error as Error).name);
        }
        resolve();
      });
    });
    const { port } = server.address() as { port: number };
    const client = new WebSocket(`ws://127.0.0.1:${port}/`);
    t.after(() => client.close());
    await within(done, WAIT, "connection");
    assert.deepEqual(errors, ["InvalidStateError"]);
    // A client socket that has received a message (a stream would have missed it).
    const echo = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(echo, "listening");
    t.after(() => echo.close());
    echo.on("connection", (socket) => socket.send("hello"));
    const other = new WebSocket(`ws://127.0.0.1:${(echo.address() as { port: number }).port}/`);
    await within(once(other, "message"), WAIT, "hello");
    assert.throws(() => WebSocketStream.from(other), { name: "InvalidStateError" });
    other.close();
    await within(once(other, "close"), WAIT, "close");
    assert.throws(() => WebSocketStream.from(other), { name: "InvalidStateError" });
    // @ts-expect-error: not a WebSocket
    assert.throws(() => WebSocketStream.from({}), TypeError);
  });

  it("server.close() closes a server stream with 1001, and the socket's close event still fires", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    let serverStream: WebSocketStream | null = null;
    const closeEvent = new Promise<number>((resolve) => {
      server.on("connection", (socket) => {
        serverStream = WebSocketStream.from(socket);
        socket.addEventListener("close", (event) => resolve(event.code));
      });
    });
    const { port } = server.address() as { port: number };
    const client = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    await within(client.opened, WAIT, "opened");
    t.after(() => client.close());
    await server.close();
    assert.equal((await within(client.closed, WAIT, "client closed")).closeCode, 1001);
    assert.equal((await within(serverStream!.closed, WAIT, "server closed")).closeCode, 1001);
    assert.equal(await within(closeEvent, WAIT, "close event"), 1001);
  });

  it("a 1 GiB flood into a server stream nobody reads: the flooder is blocked, the server's RSS grows < 16 MiB, keepalive spares it", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", pingIntervalMs: 200 });
    await once(server, "listening");
    t.after(() => server.close());
    let serverStream: WebSocketStream | null = null;
    server.on("connection", (socket) => {
      serverStream = WebSocketStream.from(socket);
    });
    const { port } = server.address() as { port: number };
    const peer = spawn(
      process.execPath,
      [
        fileURLToPath(new URL("./stream-flood-peer.mjs", import.meta.url)),
        "flood-client",
        String(port),
        String(1024 * MiB),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    t.after(() => {
      peer.stdin?.end();
      peer.kill();
    });
    let sent = 0;
    createInterface({ input: peer.stdout! }).on("line", (line) => {
      const report = JSON.parse(line) as { bytes?: number };
      if (report.bytes !== undefined) sent = report.bytes;
    });
    const before = process.memoryUsage.rss();
    // Wait until the flooder has not moved for 500 ms (bounded: 20 s).
    let seen = -1;
    let since = Date.now();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(seen > 0 && Date.now() - since >= 500)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (sent !== seen) {
        seen = sent;
        since = Date.now();
      }
    }
    const growth = process.memoryUsage.rss() - before;
    console.log(
      `server receive flood: flooder blocked after ${(seen / MiB).toFixed(1)} MiB; RSS +${(growth / MiB).toFixed(1)} MiB`,
    );
    assert.ok(seen > 0 && seen < 64 * MiB, `the flooder was not blocked: ${seen} bytes`);
    assert.ok(growth < 16 * MiB, `RSS grew by ${growth} bytes`);
    // Several keepalive sweeps have run while we held the input: the connection is still open.
    const stream = serverStream as WebSocketStream | null;
    assert.ok(stream !== null);
    const { readable } = await within(stream.opened, WAIT, "opened");
    const reader = readable.getReader();
    for (let i = 0; i < 100; i++) {
      const { done } = await within(reader.read(), WAIT, `message ${i}`);
      assert.equal(done, false);
    }
    reader.releaseLock();
    stream.close();
    peer.kill();
    await within(
      stream.closed.catch(() => {}),
      15_000,
      "closed",
    );
  });
});

describe("WebSocketStream interop", () => {
  it("a ws client talks to a server stream", async (t) => {
    const { url } = await streamEchoServer(t);
    const client = new WsWebSocket(url);
    t.after(() => client.terminate());
    await within(once(client, "open"), WAIT, "open");
    client.send("from ws");
    const [text] = (await within(once(client, "message"), WAIT, "echo")) as [Buffer];
    assert.equal(text.toString(), "from ws");
    client.send(Buffer.from([1, 2, 3]), { binary: true });
    const [bytes, isBinary] = (await within(once(client, "message"), WAIT, "echo")) as [Buffer, boolean];
    assert.equal(isBinary, true);
    assert.deepEqual([...bytes], [1, 2, 3]);
    client.close(4001, "bye");
    const [code] = await within(once(client, "close"), WAIT, "close");
    assert.equal(code, 4001);
  });

  it("a client stream talks to a ws server", async (t) => {
    const server = new WsServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    t.after(() => server.close());
    server.on("connection", (socket) => {
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const { port } = server.address() as net.AddressInfo;
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { readable, writable } = await within(wss.opened, WAIT, "opened");
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("to ws");
    assert.equal((await within(reader.read(), WAIT, "echo")).value, "to ws");
    await writer.write(new Uint8Array([4, 5]));
    assert.deepEqual((await within(reader.read(), WAIT, "echo")).value, new Uint8Array([4, 5]));
    // A detached buffer is written as an empty binary message (WebIDL BufferSource; as Chromium).
    const detached = new Uint8Array(4);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await writer.write(detached);
    assert.deepEqual((await within(reader.read(), WAIT, "echo")).value, new Uint8Array(0));
    wss.close({ closeCode: 3001 });
    assert.equal((await within(wss.closed, WAIT, "closed")).closeCode, 3001);
  });

  it("our WebSocket talks to a server stream", async (t) => {
    const { url } = await streamEchoServer(t);
    const client = new WebSocket(url);
    client.binaryType = "arraybuffer";
    t.after(() => client.close());
    await within(once(client, "open"), WAIT, "open");
    client.send("from WebSocket");
    const [event] = (await within(once(client, "message"), WAIT, "echo")) as [MessageEvent];
    assert.equal(event.data, "from WebSocket");
  });

  it("a python websockets client talks to a server stream", { skip: pythonSkip }, async (t) => {
    const { url } = await streamEchoServer(t);
    const child = spawn(PYTHON, ["-c", PYTHON_CLIENT, url], { stdio: ["ignore", "pipe", "inherit"] });
    t.after(() => child.kill());
    const [line] = (await within(
      once(createInterface({ input: child.stdout! }), "line"),
      WAIT,
      "python",
    )) as [string];
    assert.equal(line, "from python [1, 2, 3] 4002");
  });

  it("a client stream talks to a python websockets server", { skip: pythonSkip }, async (t) => {
    const child = spawn(PYTHON, ["-c", PYTHON_ECHO_SERVER], { stdio: ["ignore", "pipe", "inherit"] });
    t.after(() => child.kill());
    const [port] = (await within(
      once(createInterface({ input: child.stdout! }), "line"),
      WAIT,
      "python",
    )) as [string];
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { readable, writable } = await within(wss.opened, WAIT, "opened");
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("to python");
    assert.equal((await within(reader.read(), WAIT, "echo")).value, "to python");
    await writer.write(new Uint8Array([7, 8]));
    assert.deepEqual((await within(reader.read(), WAIT, "echo")).value, new Uint8Array([7, 8]));
    wss.close({ closeCode: 3002, reason: "bye" });
    assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 3002, reason: "bye" });
  });

  it("a write to a stream whose peer vanished rejects, and closed rejects with a WebSocketError", async (t) => {
    const server = new WsServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    t.after(() => server.close());
    server.on("connection", (socket) => setTimeout(() => socket.terminate(), 50));
    const { port } = server.address() as net.AddressInfo;
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const { writable } = await within(wss.opened, WAIT, "opened");
    const error = (await within(rejectionOf(wss.closed), WAIT, "closed")) as {
      name: string;
      closeCode: number;
    };
    assert.equal(error.name, "WebSocketError");
    assert.equal(error.closeCode, 1006);
    await assert.rejects(writable.getWriter().write("late"));
  });
});
