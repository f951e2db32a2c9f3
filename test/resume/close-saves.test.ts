// server.close() closes the resume store (docs/resume.md) only once the records of the sessions it closed
// have been saved: with a store whose saves take a while (IPC to a cluster primary, Redis), a shutdown's
// own closes were refused by the already closed store ("Could not save resumable session: … closed"). The
// same for a resume under way: it takes its session's record and saves it back if its connection closed
// meanwhile, so server.close() waits for it too.

import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { SessionRecord } from "../../src/server/resume-store.js";
import { resumeClient, startRelay, startServer, until } from "./helpers.js";

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

/** Saves at once (refused once closed); takes a record in `takeMs` once `slowTakes` is set. */
class SlowTakingStore extends MemoryResumeStore {
  closed = false;
  slowTakes = false;
  taking = false;
  saved: string[] = [];

  constructor(private readonly takeMs: number) {
    super();
  }

  override async saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    if (this.closed) throw new Error("the store is closed");
    this.saved.push(id);
    return super.saveSession(id, record, ttlMs);
  }

  override async takeSession(id: string): Promise<SessionRecord | undefined> {
    if (this.slowTakes) {
      this.taking = true;
      await new Promise((resolve) => setTimeout(resolve, this.takeMs));
    }
    return super.takeSession(id);
  }

  override async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * A server whose client's resume is taking its record (`takeMs`) when server.close() is called. The resuming
 * connection still reads (its Close is answered at once); close() then waits for the resume and the store
 * at most shutdownTimeoutMs (`shutdownMs`).
 */
async function closeDuringResume(t: TestContext, takeMs: number, shutdownMs: number) {
  const store = new SlowTakingStore(takeMs);
  const started = await startServer(t, { resume: { store }, shutdownTimeoutMs: shutdownMs });
  const errors: Error[] = [];
  started.server.on("error", (error) => errors.push(error));
  started.server.on("connection", (socket) => socket.subscribe("news"));
  const relay = await startRelay(t, started.url);
  const client = resumeClient(t, relay.url);
  await until(() => started.server.subscriberCount("news") === 1, 5000, "the subscription");
  // The token must have reached the client before the cut, or it reconnects as a new session (no take).
  await until(() => client.sessions.length === 1, 5000, "the session's token at the client");
  store.slowTakes = true;
  relay.cutBoth();
  await until(() => store.saved.length === 1, 5000, "the dropped session's record saved");
  await until(() => store.taking, 5000, "the resume taking the record");
  await started.server.close();
  return { store, errors, client };
}

test("server.close() during a resume waits for it (within shutdownTimeoutMs): the record it took is saved back", async (t) => {
  // The closing handshakes end at once, the take at 200 ms: close() waits for the resume, not only for saves.
  const { store, errors, client } = await closeDuringResume(t, 200, 300);
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
  );
  // Taken while the server closed its connection: kept for the client under its successor's id.
  assert.equal(store.saved.length, 2, "the taken record saved back before the store closed");
  assert.equal(client.sessions.length, 1, "no second session: the server closed first");
});

test("a resume that outlives server.close() (a store stalled past its wait) is a process warning, not an 'error'", async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  const { store, errors } = await closeDuringResume(t, 700, 150);
  assert.equal(store.closed, true);
  await until(() => warnings.length > 0, 5000, "the warning");
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
    "no 'error' after close",
  );
  assert.match(
    warnings[0].message,
    /^After the WebSocketServer closed: Could not save resumable session: the store is closed/,
  );
  assert.equal((warnings[0] as Error & { code?: string }).code, "SJ_ERR_RESUME_STORE");
});
