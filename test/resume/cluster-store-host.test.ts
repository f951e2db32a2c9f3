// ClusterResumeHost on its own, with a stand-in cluster (an EventEmitter) and stand-in workers that record
// what the host sends them: malformed requests get a clear refusal, other IPC messages are left alone,
// namespaces keep topics and sessions apart, the publisher's reply comes before the messages, and a worker
// that disconnects is forgotten. The real node:cluster runs are in cluster-store.test.ts.

import assert from "node:assert/strict";
import type { Cluster, Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import { ClusterRelay } from "../../src/cluster/relay.js";
import { ClusterResumeHost } from "../../src/cluster/resume-host.js";

class FakeWorker {
  readonly sent: Record<string, unknown>[] = [];
  connected = true;
  isConnected(): boolean {
    return this.connected;
  }
  send(message: Record<string, unknown>, _handle: unknown, callback: () => void): boolean {
    this.sent.push(message);
    callback();
    return true;
  }
}

function setup(serialization: "json" | "advanced" = "json") {
  const cluster = Object.assign(new EventEmitter(), { isPrimary: true, settings: { serialization } });
  const host = new ClusterResumeHost({ cluster: cluster as unknown as Cluster, maxMessagesPerTopic: 3 });
  let id = 1;
  const request = (worker: FakeWorker, body: Record<string, unknown>, ns = "default") => {
    const sent = { sockjet: "resume", ns, id: id++, ...body };
    cluster.emit("message", worker as unknown as Worker, sent);
    return sent.id;
  };
  const reply = (worker: FakeWorker, requestId: number) =>
    worker.sent.find((m) => m.op === "reply" && m.id === requestId);
  return { cluster, host, request, reply };
}

describe("ClusterResumeHost", () => {
  test("malformed requests are refused with a reason; other IPC messages get no answer", async () => {
    const { host, request, reply, cluster } = setup();
    const worker = new FakeWorker();
    for (const body of [
      { op: "append", items: [["t", 5, true]] },
      { op: "append", items: "nope" },
      { op: "sub" },
      { op: "read", topic: "t", after: 0, limit: 10 },
      { op: "save", session: "s", record: { secretHash: "h", topics: { t: 1 }, expiresAt: 1 }, ttlMs: 1 },
      { op: "take" },
      { op: "drop-everything", topic: "t" },
    ]) {
      const id = request(worker, body);
      await Promise.resolve();
      const answer = reply(worker, id);
      assert.equal(answer?.ok, false, JSON.stringify(body));
      assert.match(String(answer?.error), new RegExp(`malformed '${body.op}' request`));
    }
    const before = worker.sent.length;
    cluster.emit("message", worker, { sockjet: "pubsub", op: "sub", ns: "default", topic: "t", id: 99 });
    cluster.emit("message", worker, { app: "mine" });
    cluster.emit("message", worker, { sockjet: "resume", ns: "default", op: "sub", topic: "t" });
    assert.equal(worker.sent.length, before, "nothing answered");
    assert.equal(host.stats.appended, 0);
    host.close();
  });

  test("the publisher's reply comes before its messages; positions per topic; gaps; sessions single use", async () => {
    const { host, request, reply } = setup();
    const a = new FakeWorker();
    const b = new FakeWorker();
    request(a, { op: "sub", topic: "t" });
    request(b, { op: "sub", topic: "t" });
    assert.equal(host.subscribers("t"), 2);
    const appendId = request(a, {
      op: "append",
      items: [
        ["t", "x", true],
        ["u", "AAE=", false],
        ["t", "y", true],
      ],
    });
    const replyAt = a.sent.findIndex((m) => m.id === appendId);
    assert.deepEqual(a.sent[replyAt].value, ["1", "1", "2"]);
    assert.deepEqual(a.sent[replyAt + 1], {
      sockjet: "resume",
      ns: "default",
      op: "msgs",
      items: [
        ["t", "x", true, "1"],
        ["t", "y", true, "2"],
      ],
    });
    assert.deepEqual(b.sent.at(-1)?.items, a.sent[replyAt + 1].items);
    // Binary goes back as base64 on a JSON channel.
    const readU = request(b, { op: "read", topic: "u", after: "", limit: 10 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(reply(b, readU)?.value, [["1", "AAE=", false]]);
    // maxMessagesPerTopic 3: after 5 appends, reading from the start is a gap (null).
    request(a, {
      op: "append",
      items: [
        ["t", "3", true],
        ["t", "4", true],
        ["t", "5", true],
      ],
    });
    const gap = request(b, { op: "read", topic: "t", after: "", limit: 10 });
    const fromTwo = request(b, { op: "read", topic: "t", after: "2", limit: 2 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reply(b, gap)?.value, null);
    assert.deepEqual(reply(b, fromTwo)?.value, [
      ["3", "3", true],
      ["4", "4", true],
    ]);
    const last = request(b, { op: "last", topic: "t" });
    assert.equal(reply(b, last)?.value, "5");

    const record = { secretHash: "h", topics: { t: "5" }, expiresAt: Date.now() + 60_000 };
    request(a, { op: "save", session: "s1", record, ttlMs: 60_000 });
    await Promise.resolve();
    const take1 = request(b, { op: "take", session: "s1" });
    const take2 = request(a, { op: "take", session: "s1" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(reply(b, take1)?.value, record);
    assert.equal(reply(a, take2)?.value, null, "single use, whichever worker asks");
    // A late save of the taken id (a stale connection) does not bring it back.
    request(a, { op: "save", session: "s1", record, ttlMs: 60_000 });
    await new Promise((resolve) => setImmediate(resolve));
    const take3 = request(b, { op: "take", session: "s1" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reply(b, take3)?.value, null);
    host.close();
  });

  test("namespaces keep topics and sessions apart; a worker that disconnects is forgotten", async () => {
    const { host, request, reply, cluster } = setup();
    const a = new FakeWorker();
    const b = new FakeWorker();
    request(a, { op: "sub", topic: "t" }, "one");
    request(b, { op: "sub", topic: "t" }, "two");
    request(a, { op: "append", items: [["t", "x", true]] }, "one");
    assert.equal(b.sent.filter((m) => m.op === "msgs").length, 0, "namespace two hears nothing of one");
    const lastTwo = request(b, { op: "last", topic: "t" }, "two");
    assert.equal(reply(b, lastTwo)?.value, "");
    request(
      a,
      {
        op: "save",
        session: "s",
        record: { secretHash: "h", topics: {}, expiresAt: Date.now() + 9e4 },
        ttlMs: 9e4,
      },
      "one",
    );
    await Promise.resolve();
    const takeTwo = request(b, { op: "take", session: "s" }, "two");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reply(b, takeTwo)?.value, null);
    assert.equal(host.store("one").sessionCount, 1);

    assert.equal(host.subscribers("t", "one"), 1);
    a.connected = false;
    cluster.emit("disconnect", a);
    assert.equal(host.subscribers("t", "one"), 0);
    const sentBefore = a.sent.length;
    host.publish("t", "after", "one");
    assert.equal(a.sent.length, sentBefore);
    assert.equal(host.stats.delivered, 1, "only the first message was delivered (to a)");
    // Its session stays in the primary.
    assert.equal(host.store("one").sessionCount, 1);
    host.close();
  });

  test("publish() keeps the bytes as they were at the call: a Buffer the app changes afterwards is not replayed changed", async () => {
    const { host } = setup();
    const small = Buffer.from("small");
    const owned = Buffer.alloc(100, 0x11);
    host.publish("t", small);
    host.publish("t", owned);
    small.fill(0xee);
    owned.fill(0xee);
    const kept = (await host.store().readAfter("t", "", 10))!;
    assert.deepEqual(
      kept.map((m) => m.payload),
      [Buffer.from("small"), Buffer.alloc(100, 0x11)],
    );
    host.close();
  });
});

describe("one host and one relay per primary", () => {
  test("a second ClusterResumeHost or ClusterRelay on the same cluster is refused (each message would go twice); after close() one may come", () => {
    const cluster = Object.assign(new EventEmitter(), {
      isPrimary: true,
      settings: {},
    }) as unknown as Cluster;
    for (const make of [() => new ClusterResumeHost({ cluster }), () => new ClusterRelay({ cluster })]) {
      const first = make();
      assert.throws(make, /this primary already has a Cluster(ResumeHost|Relay): .*close the other first/);
      first.close();
      make().close();
    }
    // Another cluster (another primary's stand-in) is another matter.
    const other = Object.assign(new EventEmitter(), { isPrimary: true, settings: {} }) as unknown as Cluster;
    const hosts = [new ClusterResumeHost({ cluster }), new ClusterResumeHost({ cluster: other })];
    for (const host of hosts) host.close();
  });
});
