import assert from "node:assert/strict";
import type { Worker } from "node:cluster";
import { EventEmitter, once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { ConnectionDealer } from "../../src/cli/serve-handover.js";

// The primary's side of serve --workers' hand-over (src/cli/serve-handover.ts), with stand-in workers that
// record what they are sent: each real connection to the dealer's port is dealt to one worker, never to a
// second one once sent (that worker may have started on its stream); one whose worker died before taking
// it is closed, so its client sees it end instead of hanging; one whose send failed goes to another.

const TAG = "sockjet-handover";

class StandInWorker extends EventEmitter {
  readonly sent: { message: Record<string, unknown>; socket: unknown }[] = [];
  connected = true;
  /** Sends fail as on a channel closed under the write. */
  failSends = false;
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
    setImmediate(() => callback(this.failSends ? new Error("write EPIPE") : null));
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

/** A dealer with ready workers a and b, and one client connected to it; both closed after `body`. */
async function withOneClient(
  body: (t: {
    dealer: ConnectionDealer;
    port: number;
    client: net.Socket;
    a: StandInWorker;
    b: StandInWorker;
  }) => Promise<void>,
  setUp: (a: StandInWorker, b: StandInWorker) => void = () => {},
): Promise<void> {
  const [a, b] = [new StandInWorker(), new StandInWorker()];
  setUp(a, b);
  const { dealer, port } = await dealerWith([a, b]);
  const client = net.connect(port, "127.0.0.1");
  try {
    await body({ dealer, port, client, a, b });
  } finally {
    client.destroy();
    dealer.close();
  }
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

  test("taken: the primary closes its copy (the worker has its own)", async () => {
    await withOneClient(async ({ a }) => {
      await until(() => a.handed().length === 1);
      const primaryCopy = a.sent[0].socket as net.Socket;
      assert.equal(primaryCopy.destroyed, false);
      a.say({ type: "taken", id: a.handed()[0] });
      await until(() => primaryCopy.destroyed);
    });
  });

  test("a worker gone before its taken was heard: the connection is closed, never dealt to another", async () => {
    await withOneClient(async ({ dealer, port, client, a, b }) => {
      const ended = once(client, "close");
      await until(() => a.handed().length === 1);
      a.connected = false;
      dealer.gone(a as unknown as Worker);
      // Its client sees the end at once (here the primary's copy was the only one).
      await ended;
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(b.handed(), []);
      // The next connection goes to b.
      const next = net.connect(port, "127.0.0.1");
      await until(() => b.handed().length === 1);
      next.destroy();
    });
  });

  test("a send that fails (the channel closed under it): that connection goes to another worker", async () => {
    await withOneClient(
      async ({ a, b }) => {
        await until(() => b.handed().length === 1);
        assert.equal(a.handed().length, 1);
        assert.equal(b.sent[0].socket, a.sent[0].socket, "the same connection");
        assert.equal((b.sent[0].socket as net.Socket).destroyed, false);
      },
      (a) => {
        a.failSends = true;
      },
    );
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
    await withOneClient(async ({ a, b }) => {
      await until(() => a.handed().length === 1);
      const primaryCopy = a.sent[0].socket as net.Socket;
      b.say({ type: "taken", id: a.handed()[0] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(primaryCopy.destroyed, false);
      a.say({ type: "taken", id: a.handed()[0] });
      await until(() => primaryCopy.destroyed);
    });
  });
});
