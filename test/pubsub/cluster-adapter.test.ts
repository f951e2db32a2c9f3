// ClusterAdapter + ClusterRelay on a real node:cluster: this test process is the primary (it runs the
// relay) and forks workers (fixtures/cluster-worker.ts), each a WebSocketServer on a port of its own, so
// each client talks to a known worker. Topics cross workers, only to the workers subscribed, once, in the
// publisher's order; binary payloads survive both IPC serializations; a killed worker is forgotten; a
// primary without a relay gives a clear error.

import assert from "node:assert/strict";
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ClusterRelay, type ClusterRelayOverflow } from "../../src/cluster/relay.js";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, until, within } from "./helpers.js";

const WORKER = fileURLToPath(new URL("./fixtures/cluster-worker.ts", import.meta.url));

interface Node {
  worker: Worker;
  port: number;
  errors: string[];
}

const forked: Worker[] = [];
after(() => {
  for (const worker of forked) if (!worker.isDead()) worker.process.kill("SIGKILL");
});

async function startWorkers(count: number, serialization: "json" | "advanced"): Promise<Node[]> {
  cluster.setupPrimary({ exec: WORKER, execArgv: ["--import", "tsx"], serialization, silent: false });
  const nodes: Promise<Node>[] = [];
  for (let i = 0; i < count; i++) {
    const worker = cluster.fork();
    forked.push(worker);
    const errors: string[] = [];
    nodes.push(
      within(
        new Promise<Node>((resolve) => {
          worker.on("message", (message: { fixture?: string; port?: number; message?: string }) => {
            if (message.fixture === "listening") resolve({ worker, port: message.port ?? 0, errors });
            if (message.fixture === "error") errors.push(message.message ?? "");
          });
        }),
        20_000,
        `worker ${i} to listen`,
      ),
    );
  }
  return Promise.all(nodes);
}

async function stopWorkers(nodes: Node[]): Promise<void> {
  const exits = nodes.filter((n) => !n.worker.isDead()).map((n) => once(n.worker, "exit"));
  for (const node of nodes) if (node.worker.isConnected()) node.worker.send({ fixture: "close" });
  await within(Promise.all(exits), 10_000, "workers to exit");
}

/** A client of one worker, recording what it receives (text, or binary as Buffer). */
class Member {
  readonly messages: (string | Buffer)[] = [];
  private constructor(readonly socket: WebSocket) {
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => {
      const data = event.data as string | ArrayBuffer;
      this.messages.push(typeof data === "string" ? data : Buffer.from(data));
    });
  }

  static async connect(node: Node): Promise<Member> {
    const member = new Member(new WebSocket(`ws://${HOST}:${node.port}/`));
    await within(once(member.socket, "open"), 5000, "open");
    return member;
  }

  /** Subscribes; resolves once the worker's adapter has been answered by the relay. */
  async subscribe(topic: string): Promise<void> {
    const seen = this.messages.length;
    this.socket.send(JSON.stringify({ sub: topic }));
    await until(() => this.messages.length > seen, 5000, `ack of ${topic}`);
    this.messages.length = 0;
  }

  publish(topic: string, data: string | Buffer): void {
    this.socket.send(
      JSON.stringify(
        typeof data === "string" ? { pub: topic, data } : { pub: topic, base64: data.toString("base64") },
      ),
    );
  }

  close(): void {
    this.socket.close();
  }
}

for (const serialization of ["json", "advanced"] as const) {
  describe(`ClusterAdapter over node:cluster IPC (serialization ${serialization})`, () => {
    test("publishes reach the subscribed workers once, in order, never back to the publisher's worker", async () => {
      const relay = new ClusterRelay();
      const nodes = await startWorkers(3, serialization);
      try {
        const [a, b, c] = await Promise.all(nodes.map((node) => Member.connect(node)));
        const a2 = await Member.connect(nodes[0]);
        await a.subscribe("room");
        await a2.subscribe("room");
        await b.subscribe("room");
        // c's worker is not subscribed to "room": the relay sends it nothing.
        await c.subscribe("other");
        assert.equal(relay.subscribers("room"), 2);

        const count = 300;
        for (let i = 0; i < count; i++) a.publish("room", `a${i}`);
        for (let i = 0; i < count; i++) b.publish("room", `b${i}`);
        const expectedA = Array.from({ length: count }, (_, i) => `a${i}`);
        const expectedB = Array.from({ length: count }, (_, i) => `b${i}`);
        await until(() => a2.messages.length === 2 * count && b.messages.length === count, 10_000, "fan-out");
        // Let any duplicate arrive before counting.
        await new Promise((resolve) => setTimeout(resolve, 200));
        // a's sibling on the same worker gets a's publishes once (locally), and b's once (through the relay).
        assert.deepEqual(
          a2.messages.filter((m) => String(m).startsWith("a")),
          expectedA,
        );
        assert.deepEqual(
          a2.messages.filter((m) => String(m).startsWith("b")),
          expectedB,
        );
        assert.deepEqual(a.messages, expectedB, "a gets b's publishes, not its own");
        assert.deepEqual(b.messages, expectedA, "b gets a's publishes, in a's order, not its own");
        assert.deepEqual(c.messages, []);
        // Only what crossed workers went through the relay: a's 300 to b's worker, b's 300 to a's.
        assert.deepEqual(relay.stats, {
          published: 2 * count,
          delivered: 2 * count,
          dropped: 0,
          pendingBytes: 0,
        });
        for (const node of nodes) assert.deepEqual(node.errors, []);
        for (const m of [a, a2, b, c]) m.close();
      } finally {
        await stopWorkers(nodes);
        relay.close();
      }
    });

    test("binary payloads arrive byte for byte (every byte value, empty, 1 MiB) and stay binary", async () => {
      const relay = new ClusterRelay();
      const nodes = await startWorkers(2, serialization);
      try {
        const [a, b] = await Promise.all(nodes.map((node) => Member.connect(node)));
        await b.subscribe("bin");
        const payloads = [
          Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
          Buffer.alloc(0),
          randomBytes(1024 * 1024),
          Buffer.from("looks like text", "utf8"),
        ];
        for (const payload of payloads) a.publish("bin", payload);
        a.publish("bin", "text stays text: é ✓ 🎉");
        await until(() => b.messages.length === payloads.length + 1, 10_000, "binary messages");
        for (const [i, payload] of payloads.entries()) {
          assert.ok(Buffer.isBuffer(b.messages[i]), `message ${i} is binary`);
          assert.ok(payload.equals(b.messages[i] as Buffer), `message ${i} is intact`);
        }
        assert.equal(b.messages[payloads.length], "text stays text: é ✓ 🎉");
        // The primary publishes too (serve announces a dead worker's members this way).
        assert.equal(relay.publish("bin", Buffer.from([0, 255, 1])), 1);
        assert.equal(relay.publish("bin", "from the primary"), 1);
        assert.equal(relay.publish("nobody-here", "x"), 0);
        await until(() => b.messages.length === payloads.length + 3, 5000, "the primary's publishes");
        assert.deepEqual(b.messages.slice(-2), [Buffer.from([0, 255, 1]), "from the primary"]);
        a.close();
        b.close();
      } finally {
        await stopWorkers(nodes);
        relay.close();
      }
    });
  });
}

describe("ClusterAdapter: failures", () => {
  test("a killed worker is forgotten by the relay; the others go on", async () => {
    const relay = new ClusterRelay();
    const nodes = await startWorkers(3, "advanced");
    try {
      const [a, b, c] = await Promise.all(nodes.map((node) => Member.connect(node)));
      await a.subscribe("t");
      await b.subscribe("t");
      await c.subscribe("t");
      assert.equal(relay.subscribers("t"), 3);
      const exited = once(nodes[1].worker, "exit");
      nodes[1].worker.process.kill("SIGKILL");
      await within(exited, 5000, "the killed worker to exit");
      assert.equal(relay.subscribers("t"), 2);
      a.publish("t", "after");
      await until(() => c.messages.length === 1, 5000, "c to get a's publish");
      assert.deepEqual(c.messages, ["after"]);
      assert.equal(relay.stats.delivered, 1, "nothing was sent to the dead worker");
      for (const node of [nodes[0], nodes[2]]) assert.deepEqual(node.errors, []);
      a.close();
      c.close();
    } finally {
      await stopWorkers(nodes);
      relay.close();
    }
  });

  test("a stuck worker (SIGSTOP): its publishes are dropped past maxPendingBytes, counted; the others get all; it recovers", async () => {
    const maxPendingBytes = 512 * 1024;
    const events: ClusterRelayOverflow[] = [];
    const relay = new ClusterRelay({ maxPendingBytes, onOverflow: (event) => events.push(event) });
    const nodes = await startWorkers(3, "json");
    const stuck = nodes[1].worker;
    try {
      const [a, b, c] = await Promise.all(nodes.map((node) => Member.connect(node)));
      await b.subscribe("t");
      await c.subscribe("t");
      stuck.process.kill("SIGSTOP");
      // 4 MiB for a worker that reads nothing: 8 times the limit. In rounds of 100 KiB that the healthy
      // worker takes before the next: its own backlog stays well under the limit.
      const count = 400;
      const round = 10;
      const filler = "x".repeat(10 * 1024);
      let peak = 0;
      for (let i = 0; i < count; i += round) {
        for (let j = i; j < i + round; j++) a.publish("t", `${j} ${filler}`);
        await until(
          () => {
            peak = Math.max(peak, relay.stats.pendingBytes);
            return c.messages.length === i + round;
          },
          10_000,
          "the healthy worker to get every publish",
        );
      }
      assert.equal(relay.stats.published, count);
      assert.ok(relay.stats.dropped > 0, "publishes for the stuck worker were dropped");
      assert.equal(relay.stats.delivered + relay.stats.dropped, 2 * count);
      // Bounded: the limit plus at most one round.
      assert.ok(peak <= maxPendingBytes + 150 * 1024, `pending bytes peaked at ${peak}`);
      assert.deepEqual(
        events.map((e) => [e.worker, e.state]),
        [[stuck, "dropping"]],
      );
      stuck.process.kill("SIGCONT");
      await until(() => relay.stats.pendingBytes === 0, 10_000, "the stuck worker's channel to drain");
      assert.deepEqual(
        events.map((e) => e.state),
        ["dropping", "recovered"],
      );
      assert.equal(events[1].dropped, relay.stats.dropped);
      a.publish("t", "after");
      await until(() => b.messages.at(-1) === "after", 10_000, "the recovered worker to get a new publish");
      // What it got before is in order, without the dropped ones.
      const numbers = b.messages.slice(0, -1).map((m) => Number(String(m).split(" ")[0]));
      assert.equal(numbers.length, count - relay.stats.dropped);
      assert.deepEqual(
        numbers,
        [...numbers].sort((x, y) => x - y),
      );
      for (const m of [a, b, c]) m.close();
    } finally {
      if (!stuck.isDead()) stuck.process.kill("SIGCONT");
      await stopWorkers(nodes);
      relay.close();
    }
  });

  test("a primary without a ClusterRelay: the subscribe fails with a clear error", async () => {
    const nodes = await startWorkers(1, "json");
    try {
      const a = await Member.connect(nodes[0]);
      a.socket.send(JSON.stringify({ sub: "t" }));
      await until(() => nodes[0].errors.length > 0, 10_000, "the adapter error");
      assert.match(
        nodes[0].errors[0],
        /did not answer a subscribe within 2000 ms \(does it run a ClusterRelay\?\)/,
      );
      a.close();
    } finally {
      await stopWorkers(nodes);
    }
  });

  test("two adapters with one namespace in one process: the second is refused with a clear error", async () => {
    cluster.setupPrimary({
      exec: fileURLToPath(new URL("./fixtures/cluster-two-adapters.ts", import.meta.url)),
      execArgv: ["--import", "tsx"],
      serialization: "json",
      silent: false,
    });
    const worker = cluster.fork();
    forked.push(worker);
    const [message] = (await within(once(worker, "message"), 20_000, "the worker's results")) as [
      { results: string[] },
    ];
    const [first, second, otherNamespace, afterClose] = message.results;
    assert.equal(first, "ok");
    assert.match(
      second,
      /this process already has a ClusterAdapter with namespace "default": give each server's adapter a namespace of its own/,
    );
    assert.equal(otherNamespace, "ok", "another namespace is another server's");
    assert.equal(afterClose, "ok", "a closed adapter's namespace is free again");
    await within(once(worker, "exit"), 10_000, "the worker to exit");
  });

  test("the relay runs in the primary only; the adapter in a process with an IPC channel only", async () => {
    const { ClusterAdapter } = await import("../../src/cluster/adapter.js");
    // This test file's process is a node:test child: it may have an IPC channel; without one, it throws.
    if (typeof process.send !== "function")
      assert.throws(() => new ClusterAdapter(), /runs in a node:cluster worker/);
    const fakeWorkerCluster = { isPrimary: false } as unknown as typeof cluster;
    assert.throws(() => new ClusterRelay({ cluster: fakeWorkerCluster }), /runs in the cluster's primary/);
  });
});
