// Control messages keep send order with the topic messages they follow (docs/resume.md, "send order = wire
// order"): topic messages wait behind a Blob the app is sending (the WebSocket's send queue), and so must an
// `unsubscribed`, a topic's new number, or `resumed`, which used to go out at once and overtake them. Found by
// review 13 with real sockets; both tests fail without the fix (controls written at once).

import assert from "node:assert/strict";
import { mkdtempSync, openAsBlob, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import type { ResumeErrorEvent } from "../../src/resume/client.js";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { WebSocketServer } from "../../src/server/websocket-server.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { allControls, rawResume, resumeClient, startServer, until } from "./helpers.js";

test("unsubscribe and subscribe again while a topic message waits behind a Blob: delivered once, no error", async (t) => {
  const started = await startServer(t, { resume: {} });
  started.server.on("connection", (socket) => {
    socket.subscribe("a");
    socket.addEventListener("message", (event) => {
      if (event.data !== "go") return;
      socket.send(new Blob(["direct"]));
      started.server.publish("a", "m1");
      socket.unsubscribe("a");
      socket.subscribe("a");
      started.server.publish("a", "m2");
    });
  });
  const client = resumeClient(t, started.url);
  const errors: string[] = [];
  client.socket.addEventListener("error", (event) => errors.push((event as ResumeErrorEvent).message));
  await until(() => client.sessions.length === 1, 5000, "the session");
  client.socket.send("go");
  await until(() => client.received.length === 3, 5000, "the Blob and both topic messages");
  assert.deepEqual(errors, []);
  assert.deepEqual(client.received, [Buffer.from("direct").toString("hex"), "a:m1", "a:m2"]);
  assert.deepEqual(client.events, ["session"], "no drop, no reconnect");
});

/** Has `onRead` run (once) when the replay's read is done: the app acts while the resume is handled. */
class SendingDuringReadStore extends MemoryResumeStore {
  onRead: (() => void) | null = null;
  override async readAfter(...args: Parameters<MemoryResumeStore["readAfter"]>) {
    const read = await super.readAfter(...args);
    this.onRead?.();
    this.onRead = null;
    return read;
  }
}

/**
 * A session that got p1 on "news", cut; p2 and p3 published meanwhile; then resumed by a raw client while
 * `duringRead` runs (with the resuming connection's server side) as the replay is read. Returns what that
 * connection received, by kind, once `resumed` has come.
 */
async function resumeWhile(t: TestContext, duringRead: (side: WebSocket, server: WebSocketServer) => void) {
  const store = new SendingDuringReadStore();
  const started = await startServer(t, { resume: { store } });
  const sockets: WebSocket[] = [];
  started.server.on("connection", (socket) => {
    sockets.push(socket);
    if (!socket.resumed) socket.subscribe("news");
  });
  const first = await rawResume(started.url, { type: "hello" });
  t.after(() => first.socket.close());
  await until(() => started.server.subscriberCount("news") === 1, 5000, "the subscription");
  started.server.publish("news", "p1");
  await until(() => first.messages.some((m) => typeof m === "string" && m.endsWith("p1")), 5000, "p1");
  const token = allControls(first.messages).find((c) => c.type === "session")!.token;
  sockets[0].terminate();
  await first.closed;
  await until(() => started.server.clients.size === 0, 5000, "the first connection gone");
  started.server.publish("news", "p2");
  started.server.publish("news", "p3");
  store.onRead = () => duringRead([...started.server.clients][0], started.server);
  const second = await rawResume(started.url, { type: "resume", token, positions: { news: "1" } });
  t.after(() => second.socket.close());
  await until(
    () => allControls(second.messages).some((c) => c.type === "resumed"),
    10_000,
    "the resumed control",
  );
  return second.messages.map((m) => {
    if (typeof m !== "string") return `direct ${m.length - 1} B`;
    if (m.charCodeAt(0) === 2) return `control ${JSON.parse(m.slice(1)).type}`;
    if (m.charCodeAt(0) === 0) return `direct ${m.slice(1)}`;
    return `topic ${m.slice(m.indexOf("\n") + 1)}`;
  });
}

test("a resume whose replay waits behind a file Blob the app sent: 'resumed' comes after the replayed messages", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sockjet-order-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "big.bin");
  writeFileSync(file, Buffer.alloc(2_000_000, "Z"));
  const blob = await openAsBlob(file);
  const kinds = await resumeWhile(t, (side) => {
    side.send(blob);
    side.send("tx");
  });
  assert.deepEqual(kinds, [
    "control topic",
    "control session",
    "direct 2000000 B",
    "direct tx",
    "topic p2",
    "topic p3",
    "control resumed",
  ]);
});

test("what the app sends while a resume is handled comes right after the session, before the replay and later publishes", async (t) => {
  const kinds = await resumeWhile(t, (side, server) => {
    side.send("tx");
    server.publish("news", "live");
  });
  assert.deepEqual(kinds, [
    "control topic",
    "control session",
    "direct tx",
    "topic p2",
    "topic p3",
    "topic live",
    "control resumed",
  ]);
});
