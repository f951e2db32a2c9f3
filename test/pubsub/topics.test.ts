// In-process topics: subscribe/unsubscribe bookkeeping, publish with and without `except`, conversions,
// auto-unsubscribe on close, and the frame built once for all subscribers.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Connection } from "../../src/connection/connection.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { closeAll, connectClients, startServer, until, within } from "./helpers.js";

describe("topics: subscribe and unsubscribe", () => {
  test("server socket subscribes, lists its topics in order, and unsubscribes", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    const socket = client.server;
    assert.deepEqual(socket.topics, []);
    assert.equal(socket.subscribe("b"), true);
    assert.equal(socket.subscribe("a"), true);
    assert.equal(socket.subscribe("b"), false, "subscribing twice is a no-op");
    assert.deepEqual(socket.topics, ["b", "a"]);
    assert.equal(socket.isSubscribed("a"), true);
    assert.equal(started.server.subscriberCount("a"), 1);
    assert.equal(socket.unsubscribe("b"), true);
    assert.equal(socket.unsubscribe("b"), false, "unsubscribing twice is a no-op");
    assert.equal(socket.isSubscribed("b"), false);
    assert.deepEqual(socket.topics, ["a"]);
    assert.equal(started.server.subscriberCount("b"), 0);
    await closeAll([client]);
  });

  test("socket.topics is a frozen snapshot that later subscriptions do not change", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    client.server.subscribe("x");
    const snapshot = client.server.topics;
    assert.ok(Object.isFrozen(snapshot));
    client.server.subscribe("y");
    assert.deepEqual(snapshot, ["x"]);
    await closeAll([client]);
  });

  test("topic names that are not non-empty well-formed strings are a TypeError", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    for (const bad of ["", 42, null, undefined, {}, Symbol("s"), "a\uD800b"]) {
      assert.throws(() => client.server.subscribe(bad as string), TypeError, `subscribe(${String(bad)})`);
      assert.throws(() => client.server.unsubscribe(bad as string), TypeError);
      assert.throws(() => started.server.publish(bad as string, "x"), TypeError);
      assert.throws(() => started.server.subscriberCount(bad as string), TypeError);
    }
    assert.throws(() => (client.server.subscribe as () => boolean)(), TypeError, "missing argument");
    assert.deepEqual(client.server.topics, []);
    await closeAll([client]);
  });

  test("a client-side socket has no topics: subscribe and publish throw NotSupportedError", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    assert.throws(() => client.socket.subscribe("a"), { name: "NotSupportedError" });
    assert.throws(() => client.socket.publish("a", "x"), { name: "NotSupportedError" });
    assert.deepEqual(client.socket.topics, []);
    assert.equal(client.socket.isSubscribed("a"), false);
    await closeAll([client]);
  });

  test("a socket that closes leaves all its topics; subscribing after close is a no-op", async (t) => {
    const started = await startServer(t);
    const clients = await connectClients(started, 3);
    for (const c of clients) {
      c.server.subscribe("room");
      c.server.subscribe(`own-${clients.indexOf(c)}`);
    }
    assert.equal(started.server.subscriberCount("room"), 3);
    const gone = clients[0];
    const serverClosed = new Promise((resolve) => gone.server.addEventListener("close", resolve));
    gone.socket.close();
    await within(serverClosed, 5000, "server-side close");
    assert.equal(started.server.subscriberCount("room"), 2);
    assert.equal(started.server.subscriberCount("own-0"), 0);
    assert.deepEqual(gone.server.topics, []);
    assert.equal(gone.server.subscribe("room"), false);
    assert.equal(started.server.subscriberCount("room"), 2);
    assert.equal(started.server.publish("room", "after"), 2);
    await until(() => clients[1].messages.length === 1 && clients[2].messages.length === 1, 5000, "delivery");
    await closeAll(clients.slice(1));
  });
});

describe("topics: publish", () => {
  test("server.publish reaches every subscriber of the topic and nobody else", async (t) => {
    const started = await startServer(t);
    const clients = await connectClients(started, 4);
    clients[0].server.subscribe("news");
    clients[1].server.subscribe("news");
    clients[2].server.subscribe("sport");
    assert.equal(started.server.publish("news", "hello"), 2);
    assert.equal(started.server.publish("nobody", "void"), 0);
    await until(() => clients[0].messages.length === 1 && clients[1].messages.length === 1, 5000, "news");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(clients[0].messages, ["hello"]);
    assert.deepEqual(clients[1].messages, ["hello"]);
    assert.deepEqual(clients[2].messages, []);
    assert.deepEqual(clients[3].messages, []);
    await closeAll(clients);
  });

  test("except skips one subscriber; socket.publish skips the publisher", async (t) => {
    const started = await startServer(t);
    const clients = await connectClients(started, 3);
    for (const c of clients) c.server.subscribe("chat");
    assert.equal(started.server.publish("chat", "from server", { except: clients[0].server }), 2);
    assert.equal(clients[1].server.publish("chat", "from client 1"), 2);
    await until(() => clients.reduce((n, c) => n + c.messages.length, 0) === 4, 5000, "four deliveries");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(clients[0].messages, ["from client 1"]);
    assert.deepEqual(clients[1].messages, ["from server"]);
    assert.deepEqual(clients[2].messages, ["from server", "from client 1"]);
    assert.throws(() => started.server.publish("chat", "x", { except: {} as WebSocket }), TypeError);
    await closeAll(clients);
  });

  test("data converts like send(): strings are text, buffers and views binary, binary option overrides", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    client.server.subscribe("t");
    const { server } = started;
    server.publish("t", "text é");
    server.publish("t", new Uint8Array([1, 2, 3]));
    server.publish("t", new Uint16Array([0x0201]).buffer);
    server.publish("t", new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2));
    server.publish("t", "as bytes", { binary: true });
    server.publish("t", Buffer.from("bytes as text"), { binary: false });
    server.publish("t", 12 as unknown as string);
    assert.throws(() => server.publish("t", Buffer.from([0xff, 0xfe]), { binary: false }), TypeError);
    await until(() => client.messages.length === 7, 5000, "seven messages");
    assert.deepEqual(client.messages, [
      "text é",
      Buffer.from([1, 2, 3]),
      Buffer.from([1, 2]),
      Buffer.from([8, 7]),
      Buffer.from("as bytes"),
      "bytes as text",
      "12",
    ]);
    await closeAll([client]);
  });

  test("published bytes are copied at the time of the call, like send()", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    client.server.subscribe("t");
    const bytes = new Uint8Array([1, 1, 1]);
    started.server.publish("t", bytes);
    bytes.fill(2);
    await until(() => client.messages.length === 1, 5000, "message");
    assert.deepEqual(client.messages[0], Buffer.from([1, 1, 1]));
    await closeAll([client]);
  });

  test("a publish is framed once: every subscriber's connection gets the same Buffer", async (t) => {
    const started = await startServer(t);
    const clients = await connectClients(started, 50);
    for (const c of clients) c.server.subscribe("wide");
    const frames: Buffer[] = [];
    const original = Connection.prototype.writeFrame;
    Connection.prototype.writeFrame = function (this: Connection, frame: Buffer, appBytes: number) {
      frames.push(frame);
      return original.call(this, frame, appBytes);
    };
    t.after(() => {
      Connection.prototype.writeFrame = original;
    });
    const before = started.server.pubsubStats.framesEncoded;
    started.server.publish("wide", "x".repeat(2000));
    started.server.publish("wide", "small");
    Connection.prototype.writeFrame = original;
    assert.equal(frames.length, 100);
    assert.equal(new Set(frames.slice(0, 50)).size, 1, "one Buffer instance for the first publish");
    assert.equal(new Set(frames.slice(50)).size, 1, "one Buffer instance for the second publish");
    assert.notEqual(frames[0], frames[50]);
    assert.equal(started.server.pubsubStats.framesEncoded - before, 2, "one encodeFrame per publish");
    // The shared bytes are a valid unmasked text frame: FIN, opcode 1, 16-bit length 2000.
    assert.deepEqual([...frames[0].subarray(0, 4)], [0x81, 126, 2000 >> 8, 2000 & 0xff]);
    await until(() => clients.every((c) => c.messages.length === 2), 5000, "all deliveries");
    for (const c of clients) assert.deepEqual(c.messages, ["x".repeat(2000), "small"]);
    await closeAll(clients);
  });

  test("a publish to a topic without subscribers builds no frame", async (t) => {
    const started = await startServer(t);
    const before = started.server.pubsubStats;
    assert.equal(started.server.publish("empty", "x"), 0);
    const after = started.server.pubsubStats;
    assert.equal(after.framesEncoded, before.framesEncoded);
    assert.equal(after.published, before.published + 1);
  });

  test("publishes and sends to one socket keep their call order on the wire", async (t) => {
    const started = await startServer(t);
    const [client] = await connectClients(started, 1);
    client.server.subscribe("t");
    for (let i = 0; i < 100; i++) {
      if (i % 3 === 0) client.server.send(`s${i}`);
      else started.server.publish("t", `p${i}`);
    }
    await until(() => client.messages.length === 100, 5000, "100 messages");
    assert.deepEqual(
      client.messages,
      Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? `s${i}` : `p${i}`)),
    );
    await closeAll([client]);
  });

  test("a closing subscriber is skipped: nothing is written after its Close frame", async (t) => {
    const started = await startServer(t);
    const clients = await connectClients(started, 2);
    for (const c of clients) c.server.subscribe("t");
    const closed = new Promise((resolve) => clients[0].socket.addEventListener("close", resolve));
    clients[0].server.close(1000, "bye");
    assert.equal(started.server.publish("t", "after close"), 1);
    assert.equal(started.server.pubsubStats.dropped, 1);
    await until(() => clients[1].messages.length === 1, 5000, "delivery");
    await within(closed, 5000, "close");
    assert.deepEqual(clients[0].messages, []);
    await closeAll(clients);
  });
});
