import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// WHATWG send(): the data sent is the bytes as they were at the call, even though sockjet frames the
// caller's memory without an intermediate copy. And the Node-only binaryType "nodebuffer".

async function echoServer(binaryType: "arraybuffer" | "nodebuffer" = "arraybuffer") {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  server.on("connection", (socket) => {
    socket.binaryType = binaryType;
    socket.onmessage = (event) => socket.send(event.data as ArrayBuffer);
  });
  const { port } = server.address() as { port: number };
  return { server, url: `ws://127.0.0.1:${port}/` };
}

function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, [], { perMessageDeflate: false });
  socket.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("connection failed"));
  });
}

function nextMessages(socket: WebSocket, count: number): Promise<ArrayBuffer[]> {
  const got: ArrayBuffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages`)), 5000);
    socket.onmessage = (event) => {
      got.push(event.data as ArrayBuffer);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    };
  });
}

describe("WHATWG send(): bytes as they were at the call", () => {
  for (const size of [16, 1024, 4096, 200_000]) {
    it(`server send() of a ${size}-byte ArrayBuffer changed right after the call → the peer gets the old bytes`, async (t) => {
      const { server } = await echoServer();
      t.after(() => server.close());
      const { port } = server.address() as { port: number };
      // Server → client: the server sends a buffer and scribbles over it at once.
      server.removeAllListeners("connection");
      server.on("connection", (socket) => {
        const bytes = new Uint8Array(size).fill(7);
        socket.send(bytes.buffer);
        bytes.fill(9);
        socket.send(bytes);
        bytes.fill(1);
      });
      const client = await open(`ws://127.0.0.1:${port}/`);
      t.after(() => client.close());
      const [first, second] = await nextMessages(client, 2);
      assert.equal(first.byteLength, size);
      assert.ok(
        new Uint8Array(first).every((b) => b === 7),
        "first message has the bytes at the first call",
      );
      assert.ok(
        new Uint8Array(second).every((b) => b === 9),
        "second message has the bytes at the second call",
      );
    });
  }

  it("client send() of a view changed right after the call → the server gets the old bytes", async (t) => {
    const { server, url } = await echoServer();
    t.after(() => server.close());
    const client = await open(url);
    t.after(() => client.close());
    const bytes = new Uint8Array(100_000).fill(3);
    const replies = nextMessages(client, 1);
    client.send(bytes.subarray(10, 90_010));
    bytes.fill(4);
    const [echo] = await replies;
    assert.equal(echo.byteLength, 90_000);
    assert.ok(new Uint8Array(echo).every((b) => b === 3));
  });

  it("a send queued behind a Blob is not affected by later changes to its buffer", async (t) => {
    const { server, url } = await echoServer();
    t.after(() => server.close());
    const client = await open(url);
    t.after(() => client.close());
    const bytes = new Uint8Array(5000).fill(5);
    const replies = nextMessages(client, 2);
    client.send(new Blob([new Uint8Array(10).fill(1)]));
    client.send(bytes);
    bytes.fill(6);
    const [blob, queued] = await replies;
    assert.ok(new Uint8Array(blob).every((b) => b === 1));
    assert.ok(new Uint8Array(queued).every((b) => b === 5));
  });
});

describe('Node-only binaryType "nodebuffer"', () => {
  it("binary messages arrive as Buffers with the right bytes; text stays a string", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    t.after(() => server.close());
    const received: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      server.on("connection", (socket) => {
        socket.binaryType = "nodebuffer";
        assert.equal(socket.binaryType, "nodebuffer");
        socket.onmessage = (event) => {
          received.push(event.data);
          if (received.length === 2) resolve();
        };
      });
    });
    const { port } = server.address() as { port: number };
    const client = await open(`ws://127.0.0.1:${port}/`);
    t.after(() => client.close());
    client.send(new Uint8Array([1, 2, 3]));
    client.send("text");
    await done;
    assert.ok(Buffer.isBuffer(received[0]));
    assert.deepEqual([...(received[0] as Buffer)], [1, 2, 3]);
    assert.equal(received[1], "text");
  });

  it("an unknown binaryType is still ignored", () => {
    const socket = new WebSocket("ws://127.0.0.1:2/", [], { perMessageDeflate: false });
    socket.onerror = () => {};
    socket.binaryType = "arraybuffer";
    socket.binaryType = "uint8array" as "arraybuffer";
    assert.equal(socket.binaryType, "arraybuffer");
    socket.close();
  });
});
