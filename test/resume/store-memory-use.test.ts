// What the memory store keeps of a message: its bytes, not the memory around them. A published payload is
// usually a slice of something larger (Node's shared 8 KiB Buffer pool, or the socket's read chunk the message
// arrived in); kept for maxMessagesPerTopic publishes, such a slice would keep all of that memory alive.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WS from "ws";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import { startServer, until } from "./helpers.js";

/** The bytes of memory a kept payload holds on to (its ArrayBuffer's). */
async function keptBytes(store: MemoryResumeStore, topic: string): Promise<number[]> {
  const kept = (await store.readAfter(topic, "", 10_000)) ?? [];
  return kept.map((m) => m.payload.buffer.byteLength);
}

describe("the memory store's kept payloads", () => {
  test("a slice of a large buffer is kept as a copy of its own bytes; a payload that owns its memory as it is", async () => {
    const store = new MemoryResumeStore();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const own = Buffer.allocUnsafeSlow(4096).fill(0x62);
    store.append("t", chunk.subarray(100, 132), false);
    store.append("t", own, false);
    const kept = (await store.readAfter("t", "", 10))!;
    assert.deepEqual(
      kept.map((m) => m.payload.toString("latin1")),
      ["a".repeat(32), "b".repeat(4096)],
    );
    assert.ok(kept[0].payload.buffer.byteLength < 1024, `kept ${kept[0].payload.buffer.byteLength} bytes`);
    assert.equal(kept[1].payload, own);
  });

  test("a Uint8Array that is not a Buffer (a JavaScript caller's) is kept too", async () => {
    const store = new MemoryResumeStore();
    const view = new Uint8Array(1000).fill(7).subarray(10, 20);
    store.append("t", view as Buffer, false);
    assert.deepEqual(
      (await store.readAfter("t", "", 10))!.map((m) => [...m.payload]),
      [Array(10).fill(7)],
    );
  });

  test("server.publish of small messages (pool slices) and a client's messages published by the app keep only their bytes", async (t) => {
    const store = new MemoryResumeStore();
    const started = await startServer(t, { resume: { store } });
    let published = 0;
    started.server.on("connection", (socket) => {
      socket.binaryType = "nodebuffer";
      socket.onmessage = (event) => {
        socket.publish("chat", event.data as Buffer);
        published++;
      };
    });
    for (let i = 0; i < 200; i++) {
      started.server.publish("news", Buffer.from(`news ${i}`.padEnd(32, ".")));
      // Other users of Node's pool between publishes (as the server's own writes are).
      Buffer.from("x".repeat(3000));
    }
    const client = new WS(started.url);
    await new Promise((resolve, reject) => client.once("open", resolve).once("error", reject));
    // Sent together, several messages arrive in one read chunk.
    for (let i = 0; i < 100; i++) client.send(Buffer.from(`chat ${i}`.padEnd(32, ".")));
    await until(() => published === 100, 5000, "the app to publish 100 chat messages");
    assert.equal((await keptBytes(store, "chat")).length, 100);
    client.close();
    for (const topic of ["news", "chat"]) {
      const bytes = await keptBytes(store, topic);
      const total = bytes.reduce((a, b) => a + b, 0);
      // 32 bytes each: a few KiB in all, not one 8 KiB pool (or 64 KiB chunk) each.
      assert.ok(total < 100 * bytes.length, `${topic}: ${bytes.length} payloads hold ${total} bytes`);
    }
  });
});
