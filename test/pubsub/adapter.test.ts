// The server's side of the scale-out adapter, with a recording in-memory adapter: when it is told about
// topics, what a publish hands it, what comes back from it, and how its failures are reported.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AdapterMessage, type PubSubAdapter, PubSubError } from "../../src/server/adapter.js";
import { closeAll, connectClients, startServer, until, within } from "./helpers.js";

class RecordingAdapter implements PubSubAdapter {
  calls: string[] = [];
  published: AdapterMessage[] = [];
  failPublishes = false;
  failSubscribes = false;
  closed = false;
  handler: ((message: AdapterMessage) => void) | null = null;
  errorHandler: ((error: Error) => void) | null = null;

  async publish(message: AdapterMessage): Promise<void> {
    await Promise.resolve();
    if (this.failPublishes) throw new Error("broker unreachable");
    this.published.push(message);
  }
  async subscribe(topic: string): Promise<void> {
    this.calls.push(`subscribe ${topic}`);
    if (this.failSubscribes) throw new Error("broker unreachable");
  }
  async unsubscribe(topic: string): Promise<void> {
    this.calls.push(`unsubscribe ${topic}`);
  }
  onMessage(handler: (message: AdapterMessage) => void): void {
    this.handler = handler;
  }
  onError(handler: (error: Error) => void): void {
    this.errorHandler = handler;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe("server ↔ adapter", () => {
  test("the adapter hears of a topic's first subscriber and of its last unsubscribe only", async (t) => {
    const adapter = new RecordingAdapter();
    const started = await startServer(t, { adapter });
    const clients = await connectClients(started, 3);
    clients[0].server.subscribe("a");
    clients[1].server.subscribe("a");
    clients[2].server.subscribe("b");
    clients[0].server.unsubscribe("a");
    assert.deepEqual(adapter.calls, ["subscribe a", "subscribe b"]);
    clients[1].server.unsubscribe("a");
    assert.deepEqual(adapter.calls, ["subscribe a", "subscribe b", "unsubscribe a"]);
    const closed = new Promise((resolve) => clients[2].server.addEventListener("close", resolve));
    clients[2].socket.close();
    await within(closed, 5000, "close");
    assert.deepEqual(adapter.calls, ["subscribe a", "subscribe b", "unsubscribe a", "unsubscribe b"]);
    await closeAll(clients);
  });

  test("every publish goes to the adapter as payload + type, in order, even with no local subscriber", async (t) => {
    const adapter = new RecordingAdapter();
    const started = await startServer(t, { adapter });
    const [client] = await connectClients(started, 1);
    client.server.subscribe("room");
    started.server.publish("nobody-here", "one");
    client.server.publish("room", new Uint8Array([1, 2]));
    started.server.publish("room", "three", { binary: true });
    await started.server.adapterSettled();
    assert.deepEqual(
      adapter.published.map((m) => [m.topic, m.payload, m.isText]),
      [
        ["nobody-here", Buffer.from("one"), true],
        ["room", Buffer.from([1, 2]), false],
        ["room", Buffer.from("three"), false],
      ],
    );
    assert.equal(started.server.pubsubStats.adapterPublished, 3);
    await closeAll([client]);
  });

  test("the adapter gets the bytes as they were at the time of publish, not the caller's memory", async (t) => {
    const adapter = new RecordingAdapter();
    const started = await startServer(t, { adapter });
    const bytes = new Uint8Array([1, 2, 3]);
    started.server.publish("t", bytes);
    bytes.fill(9);
    await started.server.adapterSettled();
    assert.deepEqual(adapter.published[0].payload, Buffer.from([1, 2, 3]));
  });

  test("a message from another process is fanned out to every local subscriber, framed once", async (t) => {
    const adapter = new RecordingAdapter();
    const started = await startServer(t, { adapter });
    const clients = await connectClients(started, 3);
    for (const c of clients) c.server.subscribe("remote");
    const before = started.server.pubsubStats;
    adapter.handler!({ topic: "remote", payload: Buffer.from("from afar"), isText: true });
    adapter.handler!({ topic: "remote", payload: Buffer.from([7]), isText: false });
    adapter.handler!({ topic: "elsewhere", payload: Buffer.from("nobody"), isText: true });
    await until(() => clients.every((c) => c.messages.length === 2), 5000, "deliveries");
    for (const c of clients) assert.deepEqual(c.messages, ["from afar", Buffer.from([7])]);
    const after = started.server.pubsubStats;
    assert.equal(after.received - before.received, 3);
    assert.equal(after.framesEncoded - before.framesEncoded, 2);
    assert.equal(adapter.published.length, 0, "a message from elsewhere is not published again");
    await closeAll(clients);
  });

  test("a publish the adapter rejects is an 'error' with code and topic, and is counted; locals still get it", async (t) => {
    const adapter = new RecordingAdapter();
    adapter.failPublishes = true;
    const started = await startServer(t, { adapter });
    const [client] = await connectClients(started, 1);
    client.server.subscribe("room");
    assert.equal(started.server.publish("room", "lost elsewhere"), 1);
    await started.server.adapterSettled();
    assert.equal(started.errors.length, 1);
    const error = started.errors[0] as PubSubError;
    assert.ok(error instanceof PubSubError);
    assert.equal(error.code, "SJ_ERR_ADAPTER_PUBLISH");
    assert.equal(error.topic, "room");
    assert.equal((error.cause as Error).message, "broker unreachable");
    assert.equal(started.server.pubsubStats.adapterFailed, 1);
    assert.equal(started.server.pubsubStats.adapterPublished, 0);
    await until(() => client.messages.length === 1, 5000, "local delivery");
    await closeAll([client]);
  });

  test("subscribe failures and adapter errors are reported as 'error'", async (t) => {
    const adapter = new RecordingAdapter();
    adapter.failSubscribes = true;
    const started = await startServer(t, { adapter });
    const [client] = await connectClients(started, 1);
    client.server.subscribe("room");
    await started.server.adapterSettled();
    adapter.errorHandler!(new Error("connection lost"));
    assert.deepEqual(
      started.errors.map((e) => (e as PubSubError).code),
      ["SJ_ERR_ADAPTER_SUBSCRIBE", "SJ_ERR_ADAPTER"],
    );
    assert.equal(client.server.isSubscribed("room"), true, "the local subscription stands");
    await closeAll([client]);
  });

  test("server.close() closes the adapter", async (t) => {
    const adapter = new RecordingAdapter();
    const started = await startServer(t, { adapter });
    await started.server.close();
    assert.equal(adapter.closed, true);
  });
});
