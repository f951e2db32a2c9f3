import assert from "node:assert/strict";
import type { Worker } from "node:cluster";
import { EventEmitter, once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { ConnectionDealer } from "../../src/cli/serve-handover.js";

// The primary's side of serve --workers' hand-over (src/cli/serve-handover.ts), with stand-in workers that
// record what they are sent: each real connection to the dealer's port is dealt to one worker; one the
// worker did not take goes to another when the worker is gone; one it took never does (a second worker
// would read a stream the first had started on).

const TAG = "sockjet-handover";

class StandInWorker extends EventEmitter {
  readonly sent: { message: Record<string, unknown>; socket: unknown }[] = [];
  connected = true;
  readonly process = { pid: 0 };
  isConnected(): boolean {
    return this.connected;
  }
  send(
    message: Record<string, unknown>,
    socket: unknown,
    _options: unknown,
    callback: (e: Error | null) => void,
  ) {
    this.sent.push({ message, socket });
    setImmediate(() => callback(this.connected ? null : new Error("channel closed")));
    return true;
  }
  say(message: Record<string, unknown>): void {
    this.emit("message", { [TAG]: message.type, ...message, type: undefined });
  }
  /** The ids of the connections this worker was handed. */
  handed(): number[] {
    return this.sent.filter((s) => s.message[TAG] === "connection").map((s) => Number(s.message.id));
  }
}

async function dealerWith(workers: StandInWorker[]): Promise<{ dealer: ConnectionDealer; port: number }> {
  const dealer = new ConnectionDealer(() => {});
  const { port } = await dealer.listen(0, "127.0.0.1");
  for (const worker of workers) {
    dealer.add(worker as unknown as Worker);
    worker.say({ type: "ready" });
  }
  return { dealer, port };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), "timed out");
}

describe("serve --workers: the primary's hand-over", () => {
  test("connections are dealt round-robin, one worker each", async () => {
    const workers = [new StandInWorker(), new StandInWorker()];
    const { dealer, port } = await dealerWith(workers);
    const clients = Array.from({ length: 4 }, () => net.connect(port, "127.0.0.1"));
    try {
      await until(() => workers.every((w) => w.handed().length === 2));
      const ids = workers.flatMap((w) => w.handed());
      assert.equal(new Set(ids).size, 4);
    } finally {
      for (const client of clients) client.destroy();
      dealer.close();
    }
  });

  test("a worker gone before it took a connection: that connection goes to another worker", async () => {
    const [a, b] = [new StandInWorker(), new StandInWorker()];
    const { dealer, port } = await dealerWith([a, b]);
    const client = net.connect(port, "127.0.0.1");
    try {
      await until(() => a.handed().length === 1);
      a.connected = false;
      dealer.gone(a as unknown as Worker);
      await until(() => b.handed().length === 1);
      // b takes it: it is told to serve, and the primary's copy is closed (the worker has its own).
      b.say({ type: "taken", id: b.handed()[0] });
      await until(() => b.sent.some((s) => s.message[TAG] === "serve"));
      const primaryCopy = b.sent[0].socket as net.Socket;
      await until(() => primaryCopy.destroyed);
    } finally {
      client.destroy();
      dealer.close();
    }
  });

  test("a worker gone after it took a connection: never dealt again, and it is not told to serve it", async () => {
    const [a, b] = [new StandInWorker(), new StandInWorker()];
    const { dealer, port } = await dealerWith([a, b]);
    const client = net.connect(port, "127.0.0.1");
    try {
      await until(() => a.handed().length === 1);
      a.say({ type: "taken", id: a.handed()[0] });
      a.connected = false;
      dealer.gone(a as unknown as Worker);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(b.handed(), []);
      // The next connection goes to b alone.
      const next = net.connect(port, "127.0.0.1");
      await until(() => b.handed().length === 1);
      next.destroy();
    } finally {
      client.destroy();
      dealer.close();
    }
  });

  test("no worker ready: connections wait, and go out when one is", async () => {
    const dealer = new ConnectionDealer(() => {});
    const { port } = await dealer.listen(0, "127.0.0.1");
    const worker = new StandInWorker();
    dealer.add(worker as unknown as Worker);
    const client = net.connect(port, "127.0.0.1");
    try {
      await once(client, "connect");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(worker.handed(), []);
      worker.say({ type: "ready" });
      await until(() => worker.handed().length === 1);
    } finally {
      client.destroy();
      dealer.close();
    }
  });

  test("a taken for a connection handed to another worker is ignored", async () => {
    const [a, b] = [new StandInWorker(), new StandInWorker()];
    const { dealer, port } = await dealerWith([a, b]);
    const client = net.connect(port, "127.0.0.1");
    try {
      await until(() => a.handed().length === 1);
      b.say({ type: "taken", id: a.handed()[0] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(!b.sent.some((s) => s.message[TAG] === "serve"));
      // Still a's to take: gone(a) deals it to b.
      dealer.gone(a as unknown as Worker);
      await until(() => b.handed().length === 1);
    } finally {
      client.destroy();
      dealer.close();
    }
  });
});
