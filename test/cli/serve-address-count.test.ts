import assert from "node:assert/strict";
import type { Cluster, Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { AddressCountHost } from "../../src/cli/serve-address-count.js";

// The primary's AddressCountHost (src/cli/serve-address-count.ts) on its own, with a stand-in cluster: a
// holder is counted under several keys at once (a chat member under its IPv6 /64 and its /48), all or none.
// The workers' side over real IPC: serve-workers-per-ip.test.ts, serve-workers-redis-members.test.ts.

const TAG = "address-count";

function worker(replies: Record<string, unknown>[]): Worker {
  return { isConnected: () => true, send: (reply: Record<string, unknown>) => replies.push(reply) } as never;
}

test("a holder counted under several keys: all or none, the index of the full one, released by id or by exit", () => {
  const cluster = new EventEmitter();
  const host = new AddressCountHost(cluster as unknown as Cluster);
  const replies: Record<string, unknown>[] = [];
  const one = worker(replies);
  const two = worker(replies);
  const admit = (from: Worker, id: number, own: string) =>
    cluster.emit("message", from, {
      sockjet: TAG,
      op: "admit",
      id,
      counts: [
        { key: `chat-members ${own}`, limit: 2 },
        { key: "chat-members net", limit: 3 },
      ],
    });
  const full = () => replies.at(-1)?.full;
  try {
    admit(one, 1, "a");
    admit(two, 1, "a");
    assert.equal(full(), -1);
    admit(one, 2, "a");
    assert.equal(full(), 0, "its own key is full");
    admit(one, 3, "b");
    assert.equal(full(), -1);
    admit(two, 2, "c");
    assert.equal(full(), 1, "the shared key is full");
    assert.deepEqual(
      ["a", "b", "c", "net"].map((key) => host.count(`chat-members ${key}`)),
      [2, 1, 0, 3],
      "a refused holder took nothing",
    );

    // Released by the worker that counted it: its id, not another worker's same id.
    cluster.emit("message", two, { sockjet: TAG, op: "release", id: 3 });
    assert.equal(host.count("chat-members net"), 3);
    cluster.emit("message", one, { sockjet: TAG, op: "release", id: 1 });
    cluster.emit("message", one, { sockjet: TAG, op: "release", id: 1 });
    assert.deepEqual([host.count("chat-members a"), host.count("chat-members net")], [1, 2]);

    // A worker's exit drops all it held.
    cluster.emit("exit", one);
    assert.deepEqual(
      ["a", "b", "net"].map((key) => host.count(`chat-members ${key}`)),
      [1, 0, 1],
    );
    // Not a request: ignored.
    cluster.emit("message", two, { sockjet: TAG, op: "admit", id: 9, counts: [{ key: 1 }] });
    assert.equal(replies.length, 5);
  } finally {
    host.close();
  }
});
