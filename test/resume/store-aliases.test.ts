// A resume takes its session's record (single use) and gives the client a new token. Cut before that token
// arrives, the client can only present the old one again, and with a store shared by processes it may reach
// another one: the store keeps an alias of the successor under the old id (putBackSession) until the new
// token is known to have arrived, so that it resumes there, with nothing missed, rather than `unknown`
// (docs/resume.md). Two servers in this process share one store, as processes share Redis; real sockets.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import WS from "ws";
import type { SessionRecord, StoredMessage } from "../../src/server/resume-store.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { controls, rawResume, startRelay, startServer, until, within } from "./helpers.js";
import { SharedStore, SharedStoreView } from "./shared-store.js";

/** A server's view of the store that can stall its reads, and die (no call of it reaches the store any more). */
class StallingView extends SharedStoreView {
  reads = 0;
  stalled = false;
  dead = false;

  override async readAfter(topic: string, after: string, limit: number): Promise<StoredMessage[] | null> {
    this.reads++;
    if (this.deadFromRead) this.dead = true;
    if (this.stalled) await new Promise(() => {});
    // No longer held (a gap).
    if (this.failReads) return null;
    return super.readAfter(topic, after, limit);
  }

  override async saveSession(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    if (!this.dead) await super.saveSession(id, record, ttlMs);
  }

  override async takeSession(id: string): Promise<SessionRecord | undefined> {
    return this.dead ? undefined : super.takeSession(id);
  }

  failReads = false;
  /** Dies at its first read (its take has landed: the saves after it do not). */
  deadFromRead = false;
}

/** The topic messages among raw messages: their payloads. */
function topicPayloads(messages: (string | Buffer)[]): string[] {
  return messages
    .map((message) => (typeof message === "string" ? message : message.toString("utf8")))
    .filter((text) => text.charCodeAt(0) === 1)
    .map((text) => text.slice(text.indexOf("\n") + 1));
}

async function twoServers(t: Parameters<typeof startServer>[0]) {
  const shared = new SharedStore();
  const viewA = new StallingView(shared);
  const a = await startServer(t, { resume: { store: viewA } });
  const viewB = new StallingView(shared);
  const b = await startServer(t, { resume: { store: viewB } });
  const socketsOnA: WebSocket[] = [];
  a.server.on("connection", (socket) => socketsOnA.push(socket));
  for (const started of [a, b])
    started.server.on("connection", (socket) => {
      if (!socket.resumed) socket.subscribe("feed");
    });
  // A session on A that got "one", cut (its server side closed): its token.
  const first = await rawResume(a.url, { type: "hello" });
  await until(() => viewA.topics.has("feed"), 5000, "A's subscription in the store");
  await until(() => controls(first.messages).some((c) => c.type === "session"), 5000, "the session");
  a.server.publish("feed", "one");
  await until(() => topicPayloads(first.messages).length === 1, 5000, "the first message");
  const token = controls(first.messages).find((c) => c.type === "session")!.token as string;
  socketsOnA[0].terminate();
  await within(first.closed, 5000, "the close");
  await until(() => a.server.clients.size === 0, 5000, "A's side to close");
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (let i = 0; i < 10; i++) b.server.publish("feed", `m${i}`);
  await until(() => shared.memory.lastPosition("feed") === "11", 5000, "the appends");
  return { a, b, viewA, viewB, token };
}

/**
 * Resumes with `token` on `url` with a client that never answers pings (`ws`, autoPong off: the server never
 * learns that the new token arrived), until its replay is out; then cuts it. Its new token.
 */
async function resumeWithoutPong(url: string, token: string): Promise<string> {
  const client = new WS(url, ["sockjet.resume.1"], { autoPong: false });
  const messages: string[] = [];
  client.on("message", (data) => messages.push(String(data)));
  await within(new Promise((resolve) => client.once("open", resolve)), 5000, "the open");
  client.send(JSON.stringify({ type: "resume", token, positions: { feed: "1" } }));
  await until(() => controls(messages).some((c) => c.type === "resumed"), 5000, "the resume");
  client.terminate();
  return controls(messages).find((c) => c.type === "session")!.token as string;
}

/** The first control message (without topic announcements) a resume with `token` on `url` gets. */
async function outcome(url: string, token: string): Promise<Record<string, unknown>> {
  const raw = await resumeOn(url, token);
  raw.socket.close();
  await within(raw.closed, 5000, "the close");
  return controls(raw.messages)[0];
}

/** That a resume connection got a resumed session and its replay's end, and no other control. */
function assertResumed(raw: { messages: (string | Buffer)[] }): void {
  assert.deepEqual(
    controls(raw.messages).map((c) => [c.type, c.resumed ?? c.reason]),
    [
      ["session", true],
      ["resumed", undefined],
    ],
  );
}

/** Resumes with `token` on `url` (claiming position 1 of "feed"), until its replay is out. */
async function resumeOn(url: string, token: string) {
  const raw = await rawResume(url, { type: "resume", token, positions: { feed: "1" } });
  await until(
    () => controls(raw.messages).some((c) => c.type === "resumed" || c.type === "reset"),
    5000,
    "the resume's outcome",
  );
  return raw;
}

describe("a used token's alias in a store shared by processes", () => {
  test("a client cut during its resume on A presents the old token to B: resumed there, every message replayed", async (t) => {
    const { a, b, viewA, token } = await twoServers(t);
    viewA.stalled = true;
    const cut = await rawResume(a.url, { type: "resume", token, positions: { feed: "1" } });
    await until(() => viewA.reads === 1, 5000, "A reading the replay");
    // The new token has not come (the replay is read first): the client has only the old one.
    assert.deepEqual(controls(cut.messages), []);
    cut.socket.close();
    await within(cut.closed, 5000, "the close");
    await until(() => a.server.clients.size === 0, 5000, "A's side to close");

    const onB = await resumeOn(b.url, token);
    assertResumed(onB);
    assert.deepEqual(
      topicPayloads(onB.messages),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    onB.socket.close();
    await within(onB.closed, 5000, "the close");
  });

  test("if A dies during that resume (never saving the successor), B resumes the session as A took it", async (t) => {
    const { a, b, viewA, token } = await twoServers(t);
    viewA.stalled = true;
    const cut = await rawResume(a.url, { type: "resume", token, positions: { feed: "1" } });
    await until(() => viewA.reads === 1, 5000, "A reading the replay");
    viewA.dead = true;
    cut.socket.close();
    await within(cut.closed, 5000, "the close");
    await until(() => a.server.clients.size === 0, 5000, "A's side to close");

    const onB = await resumeOn(b.url, token);
    assert.deepEqual(controls(onB.messages)[0], {
      type: "session",
      token: controls(onB.messages)[0].token,
      resumed: true,
      topics: ["feed"],
    });
    assert.deepEqual(
      topicPayloads(onB.messages),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    onB.socket.close();
    await within(onB.closed, 5000, "the close");
  });

  test("if A dies once the new token is out (before saving the session itself), that token resumes on B", async (t) => {
    const { a, b, viewA, token } = await twoServers(t);
    viewA.deadFromRead = true;
    const onA = await resumeOn(a.url, token);
    const next = controls(onA.messages)[0].token as string;
    onA.socket.close();
    await within(onA.closed, 5000, "the close");
    const onB = await resumeOn(b.url, next);
    assertResumed(onB);
    onB.socket.close();
    await within(onB.closed, 5000, "the close");
  });

  test("cut during resumes on A, then on B, then back on A with the same old token: it follows B's alias", async (t) => {
    const { a, b, viewA, viewB, token } = await twoServers(t);
    for (const [server, view] of [
      [a, viewA],
      [b, viewB],
    ] as const) {
      view.stalled = true;
      const cut = await rawResume(server.url, { type: "resume", token, positions: { feed: "1" } });
      await until(() => view.reads === 1, 5000, "the replay being read");
      cut.socket.close();
      await within(cut.closed, 5000, "the close");
      view.stalled = false;
    }
    const again = await resumeOn(a.url, token);
    assertResumed(again);
    assert.deepEqual(
      topicPayloads(again.messages),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    again.socket.close();
    await within(again.closed, 5000, "the close");
  });

  test("cut again before a resume's token arrived, back where its old connection still looks open: it follows the alias there", async (t) => {
    const { a, b, viewA, token } = await twoServers(t);
    // Resumed on B through a relay, then cut on the client's side only: B still has the session open.
    const relay = await startRelay(t, b.url);
    const onB = await resumeOn(relay.url, token);
    const current = controls(onB.messages)[0].token as string;
    await new Promise((resolve) => setTimeout(resolve, 100));
    relay.cutClients();
    await within(onB.closed, 5000, "the cut");
    assert.equal(b.server.clients.size, 1, "B's side still open");
    // It resumes on A, and is cut before that resume's token arrives.
    viewA.stalled = true;
    const cut = await rawResume(a.url, { type: "resume", token: current, positions: { feed: "1" } });
    await until(() => viewA.reads === 1, 5000, "A reading the replay");
    cut.socket.close();
    await within(cut.closed, 5000, "the close");
    b.server.publish("feed", "after");
    // Back on B with the token it has: B's open connection of that session goes, the alias is followed.
    const again = await resumeOn(b.url, current);
    assertResumed(again);
    assert.deepEqual(topicPayloads(again.messages), [
      ...Array.from({ length: 10 }, (_, i) => `m${i}`),
      "after",
    ]);
    again.socket.close();
    await within(again.closed, 5000, "the close");
  });

  test("a used token whose successor was resumed since (its token did arrive) takes nothing: no second session", async (t) => {
    const { a, b, token } = await twoServers(t);
    const next = await resumeWithoutPong(a.url, token);
    await until(() => a.server.clients.size === 0, 5000, "A's side to close");
    // The client resumes with its new token on B, normally, and stays.
    const current = await resumeOn(b.url, next);
    assert.equal(controls(current.messages)[0].resumed, true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A stale copy of the old token, on either server: nothing.
    assert.deepEqual(await outcome(b.url, token), { type: "reset", reason: "unknown" });
    assert.deepEqual(await outcome(a.url, token), { type: "reset", reason: "unknown" });
    assert.equal(current.socket.readyState, 1);
    current.socket.close();
    await within(current.closed, 5000, "the close");
  });

  test("the same old token on two servers at once: the session line goes on in one place only", async (t) => {
    const { a, b, token } = await twoServers(t);
    const next = await resumeWithoutPong(a.url, token);
    assert.notEqual(next, token);
    await until(() => a.server.clients.size === 0, 5000, "A's side to close");
    // Two holders of one token (a stolen copy): both may get a session while the first one's connection is
    // open (docs/resume.md, "Known limits"), but the store has the line once: afterwards, of their new tokens
    // only one resumes, and the old token takes nothing.
    const [onA, onB] = await Promise.all([resumeOn(a.url, token), resumeOn(b.url, token)]);
    const tokens = [onA, onB]
      .map((raw) => controls(raw.messages)[0])
      .filter((c) => c.type === "session" && c.resumed === true)
      .map((c) => c.token as string);
    assert.ok(tokens.length >= 1, "one of them resumed");
    for (const raw of [onA, onB]) {
      raw.socket.close();
      await within(raw.closed, 5000, "the close");
    }
    await until(() => a.server.clients.size + b.server.clients.size === 0, 5000, "the closes");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const later = [];
    for (const newer of tokens) later.push((await outcome(b.url, newer)).resumed === true);
    assert.equal(later.filter(Boolean).length, 1, JSON.stringify(later));
    assert.deepEqual(await outcome(b.url, token), { type: "reset", reason: "unknown" });
  });

  test("a resume that ends in a gap uses the old token up: it does not take the session elsewhere", async (t) => {
    const { a, b, viewA, token } = await twoServers(t);
    viewA.failReads = true;
    assert.deepEqual(await outcome(a.url, token), { type: "reset", reason: "gap" });
    assert.deepEqual(await outcome(b.url, token), { type: "reset", reason: "unknown" });
  });

  test("once the new token has arrived, the old one is used up everywhere", async (t) => {
    const { a, b, token } = await twoServers(t);
    const onA = await resumeOn(a.url, token);
    assert.equal(controls(onA.messages)[0].resumed, true);
    // The pong of the ping behind the new token (RFC 6455 §5.5.3) tells A it arrived: A drops the alias.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await resumeOn(b.url, token);
    assert.deepEqual(controls(again.messages)[0], { type: "reset", reason: "unknown" });
    for (const raw of [onA, again]) {
      raw.socket.close();
      await within(raw.closed, 5000, "the close");
    }
  });
});
