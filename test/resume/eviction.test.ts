// Who loses a saved session when the memory store is full (memory-resume-store.ts, session-owners.ts): the
// client with the most saved sessions. A flood of sessions from one address, each subscribed as the app
// subscribes every connection, must not push out the session of a member from another address (attack
// review: 101,000 hello-then-close in 30 s evicted it, records going oldest first).

import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { controls, rawResume, startRelay, startServer, until, within } from "./helpers.js";

/** A raw session opened at `url` and closed again: its token. */
async function openAndClose(url: string): Promise<string> {
  const raw = await rawResume(url, { type: "hello" });
  await until(() => controls(raw.messages).length === 1, 5000, "the session");
  raw.socket.close();
  await within(raw.closed, 5000, "close");
  return controls(raw.messages)[0].token as string;
}

/** `sessions` sessions opened and closed at `url`, 25 at a time: their tokens, in order. */
async function flood(url: string, sessions: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let opened = 0; opened < sessions; opened += 25)
    tokens.push(...(await Promise.all(Array.from({ length: 25 }, () => openAndClose(url)))));
  return tokens;
}

/** The first control message a resume with `token` at `url` gets (the connection is closed after it). */
async function resumeAnswer(url: string, token: string | undefined): Promise<Record<string, unknown>> {
  const raw = await rawResume(url, { type: "resume", token, positions: {} });
  await until(() => controls(raw.messages).length > 0, 5000, "the resume's answer");
  raw.socket.close();
  return controls(raw.messages)[0];
}

describe("resume sessions at the store's cap", () => {
  test("a flood of subscribed sessions from one address evicts its own, not a member's from another", async (t) => {
    const store = new MemoryResumeStore({ maxSessions: 50 });
    const started = await startServer(t, { resume: { store } });
    // The app subscribes every connection, as the chat does (and the README's pattern).
    started.server.on("connection", (socket) => socket.subscribe("chat"));
    const member = await openAndClose(started.url);
    await until(() => store.sessionCount === 1, 5000, "the member's record");

    // 150 sessions from 127.0.0.2, 25 at a time: three times the cap.
    const relay = await startRelay(t, started.url, { localAddress: "127.0.0.2" });
    const floodTokens = await flood(relay.url, 150);
    await until(() => started.server.clients.size === 0, 5000, "the flood's connections to close");
    assert.equal(store.sessionCount, 50, "the cap holds");

    const answer = await resumeAnswer(started.url, member);
    assert.equal(answer.type, "session", `the member got ${JSON.stringify(answer)}`);
    assert.equal(answer.resumed, true, "the member's session is kept");
    assert.deepEqual(answer.topics, ["chat"]);

    // The flood lost its oldest sessions, not its newest.
    assert.deepEqual(await resumeAnswer(relay.url, floodTokens[0]), { type: "reset", reason: "unknown" });
    assert.equal((await resumeAnswer(relay.url, floodTokens.at(-1))).resumed, true);
  });

  test("a flood of sessions that subscribe to nothing, from the member's own address, evicts its own (review)", async (t) => {
    const store = new MemoryResumeStore({ maxSessions: 50 });
    const started = await startServer(t, { resume: { store } });
    // Only those who join subscribe: the flood's sessions say hello and leave.
    started.server.on("connection", (socket, request) => {
      if (request.url?.includes("join") === true) socket.subscribe("chat");
    });
    const member = await openAndClose(`${started.url}/?join`);
    await until(() => store.sessionCount === 1, 5000, "the member's record");
    await flood(started.url, 150);
    assert.equal(store.sessionCount, 50);
    const answer = await resumeAnswer(started.url, member);
    assert.equal(answer.resumed, true, JSON.stringify(answer));
  });

  test("a member with no topic is not pushed out by a subscribed flood from one address (review)", async (t) => {
    const store = new MemoryResumeStore({ maxSessions: 50 });
    const started = await startServer(t, { resume: { store } });
    // Everyone subscribes but the member, who follows nothing.
    started.server.on("connection", (socket, request) => {
      if (request.url?.includes("quiet") !== true) socket.subscribe("chat");
    });
    const member = await openAndClose(`${started.url}/?quiet`);
    await until(() => store.sessionCount === 1, 5000, "the member's record");
    const relay = await startRelay(t, started.url, { localAddress: "127.0.0.2" });
    await flood(relay.url, 150);
    await until(() => started.server.clients.size === 0, 5000, "the flood's connections to close");
    assert.equal(store.sessionCount, 50);
    const answer = await resumeAnswer(started.url, member);
    assert.equal(answer.resumed, true, JSON.stringify(answer));
  });

  test("with identify, sessions are counted per identity, whatever their address", async (t) => {
    const store = new MemoryResumeStore({ maxSessions: 20 });
    const started = await startServer(t, {
      resume: {
        store,
        identify: (request) => new URL(request.url ?? "/", "ws://x").searchParams.get("user") ?? "",
      },
    });
    started.server.on("connection", (socket) => socket.subscribe("chat"));
    const alice = await openAndClose(`${started.url}/?user=alice`);
    for (let batch = 0; batch < 3; batch++)
      await Promise.all(Array.from({ length: 20 }, () => openAndClose(`${started.url}/?user=mallory`)));
    assert.equal(store.sessionCount, 20);
    const answer = await resumeAnswer(`${started.url}/?user=alice`, alice);
    assert.equal(answer.resumed, true, JSON.stringify(answer));
  });

  test("a session's record carries its owner: the client address, an IPv6 one by its /48", async (t) => {
    const store = new MemoryResumeStore();
    const seen: string[] = [];
    const save = store.saveSession.bind(store);
    store.saveSession = (id, record, ttlMs) => {
      seen.push(record.owner ?? "none");
      return save(id, record, ttlMs);
    };
    const v4 = await startServer(t, { resume: { store } });
    await openAndClose(v4.url);
    const v6 = new WebSocketServer({ port: 0, host: "::1", resume: { store }, pingIntervalMs: 0 });
    t.after(() => v6.close());
    await within(once(v6, "listening"), 5000, "listening on ::1");
    await openAndClose(`ws://[::1]:${(v6.address() as AddressInfo).port}`);
    await until(() => seen.length >= 2, 5000, "the saves");
    assert.deepEqual([...new Set(seen)], ["ip:127.0.0.1", "ip:0:0:0::/48"]);
  });
});
