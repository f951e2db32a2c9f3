// server.close() closes the resume store (docs/resume.md) only once the records of the sessions it closed
// have been saved: with a store whose saves take a while (IPC to a cluster primary, Redis), a shutdown's
// own closes were refused by the already closed store ("Could not save resumable session: … closed").

import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { SessionRecord } from "../../src/server/resume-store.js";
import { resumeClient, startServer, until } from "./helpers.js";

class SlowSavingStore extends MemoryResumeStore {
  closed = false;
  saved: string[] = [];

  override async saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (this.closed) throw new Error("the store is closed");
    this.saved.push(id);
    return super.saveSession(id, record, ttlMs);
  }

  override async close(): Promise<void> {
    this.closed = true;
  }
}

test("server.close() waits for the closed sessions' records before it closes the store", async (t) => {
  const store = new SlowSavingStore();
  const started = await startServer(t, { resume: { store } });
  const errors: Error[] = [];
  started.server.on("error", (error) => errors.push(error));
  started.server.on("connection", (socket) => socket.subscribe("news"));
  const clients = [resumeClient(t, started.url), resumeClient(t, started.url)];
  await until(() => started.server.subscriberCount("news") === 2, 5000, "the subscriptions");
  await until(() => clients.every((c) => c.sessions.length === 1), 5000, "the sessions");
  const savedBefore = store.saved.length;
  await started.server.close();
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
  );
  assert.equal(store.saved.length - savedBefore, 2, "both sessions' records saved on the way out");
});
