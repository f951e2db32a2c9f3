import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { describe, test } from "node:test";
import { closeAll, connectClients, startServer, until, within } from "./helpers.js";

// Issue 22 item 5: a publish to subscribers with permessage-deflate is compressed once per compressor
// configuration (RFC 7692 §7.1.1.1: without context takeover on the server's side a compressed message does
// not depend on the connection), not once per subscriber; each subscriber only frames the shared bytes, in
// its own send order. Subscribers whose server side keeps context fall back to their own compression.

/** ~1,000 characters of chat-like JSON, different for each i. */
function chatMessage(i: number): string {
  const words = ["hello", "room", "socket", "frame", "deflate", "topic", "server", "world"];
  let text = "";
  for (let k = 0; text.length < 1000; k++) text += `${words[(i * 7 + k * 3) % words.length]}${k % 11} `;
  return JSON.stringify({ type: "message", user: `user-${i}`, text: text.slice(0, 1000), time: i });
}

describe("permessage-deflate subscribers share one compression per publish", () => {
  test("regression: 40 deflate subscribers, 25 publishes → 25 compressions (was 1,000), every message intact and in order", async (t) => {
    const started = await startServer(t, { perMessageDeflate: true });
    const clients = await connectClients(started, 40);
    t.after(() => closeAll(clients));
    for (const c of clients) {
      assert.match(c.socket.extensions, /permessage-deflate/);
      c.server.subscribe("room");
    }
    const sent = Array.from({ length: 25 }, (_, i) => chatMessage(i));
    for (const message of sent) started.server.publish("room", message);
    await until(() => clients.every((c) => c.messages.length === sent.length), 10_000, "every delivery");
    for (const c of clients) assert.deepEqual(c.messages, sent);
    assert.equal(started.server.pubsubStats.sharedCompressions, sent.length);
    assert.equal(started.server.pubsubStats.delivered, sent.length * clients.length);
    assert.deepEqual(started.errors, []);
  });

  test("large payloads (compressed on the thread pool) are shared too, and a subscriber leaving meanwhile holds up no one", async (t) => {
    const started = await startServer(t, { perMessageDeflate: true, maxPayloadBytes: 4 * 1024 * 1024 });
    const clients = await connectClients(started, 12, { maxPayloadBytes: 4 * 1024 * 1024 });
    t.after(() => closeAll(clients));
    for (const c of clients) c.server.subscribe("big");
    const block = randomBytes(30_000).toString("base64");
    const sent = Array.from({ length: 4 }, (_, i) => `${i}:${block.repeat(8)}`);
    for (const message of sent) started.server.publish("big", message);
    // The first subscriber goes away while the compressions run.
    clients[0].server.terminate();
    const rest = clients.slice(1);
    await until(() => rest.every((c) => c.messages.length === sent.length), 15_000, "every large delivery");
    for (const c of rest) assert.ok(c.messages.every((m, i) => m === sent[i]));
    assert.equal(started.server.pubsubStats.sharedCompressions, sent.length);
  });

  test("per connection, publishes keep their place among the socket's own (separately compressed) sends", async (t) => {
    const started = await startServer(t, { perMessageDeflate: { thresholdBytes: 16 } });
    const clients = await connectClients(started, 5, { perMessageDeflate: { thresholdBytes: 16 } });
    t.after(() => closeAll(clients));
    for (const c of clients) c.server.subscribe("mixed");
    const expected: string[][] = clients.map(() => []);
    for (let i = 0; i < 30; i++) {
      clients.forEach((c, k) => {
        const own = `own ${k}/${i} ${"o".repeat(50 + i)}`;
        c.server.send(own);
        expected[k].push(own);
      });
      const published = `published ${i} ${"p".repeat(40 + i)}`;
      started.server.publish("mixed", published);
      for (const list of expected) list.push(published);
    }
    await until(
      () => clients.every((c, k) => c.messages.length === expected[k].length),
      10_000,
      "every message",
    );
    for (const [k, c] of clients.entries()) assert.deepEqual(c.messages, expected[k]);
  });

  test("subscribers with different server_max_window_bits get one compression per window, each decodable", async (t) => {
    const started = await startServer(t, { perMessageDeflate: true });
    const wide = await connectClients(started, 3);
    const narrow = await connectClients(started, 3, { perMessageDeflate: { serverMaxWindowBits: 9 } });
    t.after(() => closeAll([...wide, ...narrow]));
    for (const c of narrow) assert.match(c.socket.extensions, /server_max_window_bits=9/);
    for (const c of [...wide, ...narrow]) c.server.subscribe("w");
    // A repeat 3,000 bytes back: a 32 KiB window refers to it, a 512-byte one cannot (1007 if it were sent).
    const block = randomBytes(1500).toString("hex");
    const sent = Array.from({ length: 5 }, (_, i) => `${i}${block}${block}`);
    for (const message of sent) started.server.publish("w", message);
    const all = [...wide, ...narrow];
    await until(() => all.every((c) => c.messages.length === sent.length), 10_000, "every delivery");
    for (const c of all) assert.deepEqual(c.messages, sent);
    assert.equal(started.server.pubsubStats.sharedCompressions, sent.length * 2);
  });

  test("subscribers whose server side keeps context (serverNoContextTakeover: false) are compressed each", async (t) => {
    const started = await startServer(t, { perMessageDeflate: { serverNoContextTakeover: false } });
    const clients = await connectClients(started, 4);
    t.after(() => closeAll(clients));
    for (const c of clients) {
      assert.doesNotMatch(c.socket.extensions, /server_no_context_takeover/);
      c.server.subscribe("ctx");
    }
    const sent = Array.from({ length: 10 }, (_, i) => chatMessage(i));
    for (const message of sent) started.server.publish("ctx", message);
    await until(() => clients.every((c) => c.messages.length === sent.length), 10_000, "every delivery");
    for (const c of clients) assert.deepEqual(c.messages, sent);
    assert.equal(started.server.pubsubStats.sharedCompressions, 0);
  });

  test("subscribers with and without deflate, and messages under the threshold, all arrive intact", async (t) => {
    const started = await startServer(t, { perMessageDeflate: true });
    const compressed = await connectClients(started, 3);
    const plain = await connectClients(started, 3, { perMessageDeflate: false });
    t.after(() => closeAll([...compressed, ...plain]));
    for (const c of [...compressed, ...plain]) c.server.subscribe("t");
    const sent = ["short", chatMessage(1), "", chatMessage(2), "x".repeat(1023)];
    for (const message of sent) started.server.publish("t", message);
    const all = [...compressed, ...plain];
    await until(() => all.every((c) => c.messages.length === sent.length), 10_000, "every delivery");
    for (const c of all) assert.deepEqual(c.messages, sent);
    // Two payloads reach the threshold (1024 bytes): one compression each.
    assert.equal(started.server.pubsubStats.sharedCompressions, 2);
  });

  test("a subscriber closing right after a publish gets a clean close; the server stays healthy", async (t) => {
    const started = await startServer(t, { perMessageDeflate: true });
    const clients = await connectClients(started, 3);
    for (const c of clients) c.server.subscribe("c");
    started.server.publish("c", chatMessage(0));
    const closed = once(clients[1].socket, "close");
    clients[1].server.close(1000, "bye");
    const [event] = (await within(closed, 5000, "close")) as [CloseEvent];
    assert.equal(event.code, 1000);
    await until(
      () => clients[0].messages.length === 1 && clients[2].messages.length === 1,
      5000,
      "deliveries",
    );
    await closeAll(clients);
    assert.deepEqual(started.errors, []);
  });
});
