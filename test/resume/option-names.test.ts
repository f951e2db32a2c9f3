// The server's `resume` option names (docs/resume.md): Socket.IO's names are TypeErrors that name sockjet's
// instead of being ignored without a word, and maxMessagesPerTopic (the default memory store's ring) given
// together with a store of one's own is a TypeError: the store has its own bound.

import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";

test("resume.maxDisconnectionDuration (Socket.IO's name) is a TypeError pointing to maxDisconnectionMs", () => {
  assert.throws(
    () => new WebSocketServer({ noServer: true, resume: { maxDisconnectionDuration: 60_000 } as never }),
    {
      name: "TypeError",
      message: /maxDisconnectionDuration .*maxDisconnectionMs/,
    },
  );
  assert.throws(() => new WebSocketServer({ noServer: true, resume: { skipMiddlewares: true } as never }), {
    name: "TypeError",
    message: /skipMiddlewares/,
  });
});

test("resume.maxMessagesPerTopic together with a store is a TypeError; each alone is accepted", async () => {
  const store = new MemoryResumeStore({ maxMessagesPerTopic: 5 });
  assert.throws(() => new WebSocketServer({ noServer: true, resume: { store, maxMessagesPerTopic: 10 } }), {
    name: "TypeError",
    message: /maxMessagesPerTopic .*store/,
  });
  for (const resume of [{ store }, { maxMessagesPerTopic: 10 }]) {
    const server = new WebSocketServer({ noServer: true, resume });
    await server.close();
  }
});
