// Resumable sessions' tokens and refusals, docs/resume.md, on the wire: a token is single-use, expires
// maxDisconnectionMs after the disconnection, and a forged, replayed, expired or malformed one gets a
// `reset` with its reason and a fresh session, never an error close; a topic whose ring overflowed while
// the client was away gets a `reset` "gap"; a first message that is no hello closes with 1002, and no hello
// within handshakeTimeoutMs with 1013 (a slow hello is no refusal: the client keeps its session).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/web/websocket.js";
import { controls, rawResume, resumeClient, startRelay, startServer, until, within } from "./helpers.js";

/** Opens a raw session, subscribes it to `topic` on the server side, and closes it: its token and topics. */
async function endedSession(
  started: Awaited<ReturnType<typeof startServer>>,
  topic = "t",
): Promise<{ token: string; lastPosition: string }> {
  const raw = await rawResume(started.url, { type: "hello" });
  await until(() => controls(raw.messages).length === 1, 5000, "the session");
  const session = controls(raw.messages)[0];
  assert.equal(session.type, "session");
  assert.equal(session.resumed, false);
  const [serverSide] = [...started.server.clients].filter((c) => c.topics.length === 0 && !c.resumed);
  serverSide.subscribe(topic);
  started.server.publish(topic, "seen");
  const isTopicMessage = (m: string | Buffer): m is string => typeof m === "string" && m.charCodeAt(0) === 1;
  await until(() => raw.messages.some(isTopicMessage), 5000, "the first topic message");
  const message = raw.messages.find(isTopicMessage)!;
  // 0x01 "<topic number> <position>\n"
  const header = message.slice(1, message.indexOf("\n"));
  raw.socket.close();
  await within(raw.closed, 5000, "close");
  await until(() => started.server.clients.size === 0, 5000, "the server side to close");
  return { token: session.token as string, lastPosition: header.split(" ")[1] };
}

describe("resume tokens", () => {
  test("a token resumes once; its second use gets reset 'unknown' and a fresh session", async (t) => {
    const started = await startServer(t, { resume: {} });
    const { token, lastPosition } = await endedSession(started);
    const first = await rawResume(started.url, { type: "resume", token, positions: { t: lastPosition } });
    await until(() => controls(first.messages).some((c) => c.type === "resumed"), 5000, "the resume");
    const [session, resumed] = controls(first.messages);
    assert.equal(session.type, "session");
    assert.equal(session.resumed, true);
    assert.notEqual(session.token, token, "a fresh token after each resume");
    assert.deepEqual(session.topics, ["t"], "the session's topics (the client keeps positions for these)");
    assert.deepEqual(resumed, { type: "resumed", replayed: 0 });

    const second = await rawResume(started.url, { type: "resume", token, positions: {} });
    await until(() => controls(second.messages).length === 2, 5000, "the refusal");
    const [reset, fresh] = controls(second.messages);
    assert.deepEqual(reset, { type: "reset", reason: "unknown" });
    assert.equal(fresh.type, "session");
    assert.equal(fresh.resumed, false);
    assert.equal(second.socket.readyState, WebSocket.OPEN);
    first.socket.close();
    second.socket.close();
  });

  test("a token whose secret was changed gets reset 'forged' and a fresh session, not an error close", async (t) => {
    const started = await startServer(t, { resume: {} });
    const { token } = await endedSession(started);
    const forged = `${token.slice(0, -4)}${token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const raw = await rawResume(started.url, { type: "resume", token: forged, positions: {} });
    await until(() => controls(raw.messages).length === 2, 5000, "the refusal");
    assert.deepEqual(controls(raw.messages)[0], { type: "reset", reason: "forged" });
    assert.equal(controls(raw.messages)[1].resumed, false);
    assert.equal(raw.socket.readyState, WebSocket.OPEN);
    raw.socket.close();
    // The forgery left the session as it was: its owner still resumes it.
    const owner = await rawResume(started.url, { type: "resume", token, positions: {} });
    await until(() => controls(owner.messages).some((c) => c.type === "session"), 5000, "the owner's resume");
    assert.equal(controls(owner.messages).find((c) => c.type === "session")!.resumed, true);
    owner.socket.close();
  });

  test("tokens are unguessable: 32 random bytes of secret each, all distinct, the id bound to the secret", async (t) => {
    const started = await startServer(t, { resume: {} });
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) {
      const raw = await rawResume(started.url, { type: "hello" });
      await until(() => controls(raw.messages).length === 1, 5000, "the session");
      tokens.push(controls(raw.messages)[0].token as string);
      raw.socket.close();
    }
    const secrets = tokens.map((token) => token.split(".")[1]);
    assert.equal(new Set(tokens).size, tokens.length);
    for (const secret of secrets) assert.equal(Buffer.from(secret, "base64url").length, 32);
    // Each byte position varies across the tokens (no constant or counter-like secret).
    const bytes = secrets.map((secret) => Buffer.from(secret, "base64url"));
    for (let at = 0; at < 32; at++) assert.ok(new Set(bytes.map((b) => b[at])).size > 1, `byte ${at} varies`);
    // Another secret under a real id is refused as forged.
    const [id] = tokens[0].split(".");
    const raw = await rawResume(started.url, { type: "resume", token: `${id}.${secrets[1]}`, positions: {} });
    await until(() => controls(raw.messages).length === 2, 5000, "the refusal");
    assert.deepEqual(controls(raw.messages)[0], { type: "reset", reason: "forged" });
    raw.socket.close();
  });

  test("a token that is not one the server issues gets reset 'invalid'", async (t) => {
    const started = await startServer(t, { resume: {} });
    for (const token of ["", "x.y", 42, null, "A".repeat(66)]) {
      const raw = await rawResume(started.url, { type: "resume", token, positions: {} });
      await until(() => controls(raw.messages).length === 2, 5000, "the refusal");
      assert.deepEqual(controls(raw.messages)[0], { type: "reset", reason: "invalid" }, String(token));
      raw.socket.close();
    }
  });

  test("a session resumed after maxDisconnectionMs gets reset 'expired'", async (t) => {
    const started = await startServer(t, { resume: { maxDisconnectionMs: 50 } });
    const { token } = await endedSession(started);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const raw = await rawResume(started.url, { type: "resume", token, positions: {} });
    await until(() => controls(raw.messages).length === 2, 5000, "the refusal");
    assert.deepEqual(controls(raw.messages)[0], { type: "reset", reason: "expired" });
    raw.socket.close();
  });

  test("a forged token does not take a session that is still open", async (t) => {
    const started = await startServer(t, { resume: {} });
    const owner = await rawResume(started.url, { type: "hello" });
    await until(() => controls(owner.messages).length === 1, 5000, "the session");
    const token = controls(owner.messages)[0].token as string;
    const forged = `${token.slice(0, -4)}${token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const thief = await rawResume(started.url, { type: "resume", token: forged, positions: {} });
    await until(() => controls(thief.messages).length === 2, 5000, "the refusal");
    assert.deepEqual(controls(thief.messages)[0], { type: "reset", reason: "forged" });
    assert.equal(owner.socket.readyState, WebSocket.OPEN);
    owner.socket.close();
    thief.socket.close();
  });
});

describe("a cut during the resume hello", () => {
  for (const [name, cut] of [
    ["right after the hello is sent (the client never gets the new token)", "relay"],
    ["with the hello (the server sees the connection gone)", "terminate"],
  ] as const) {
    test(`${name}: the old token resumes again, until the new one has arrived`, async (t) => {
      const started = await startServer(t, { resume: {} });
      const { token, lastPosition } = await endedSession(started);
      started.server.publish("t", "missed");
      const relay = await startRelay(t, started.url);
      const first = new WebSocket(relay.url, ["sockjet.resume.1"]);
      let replies = 0;
      first.onmessage = () => replies++;
      await within(new Promise((resolve) => first.addEventListener("open", resolve)), 5000, "open");
      // The server's replies wait in the relay, unread: the client will never see its new token.
      relay.pauseReading();
      first.send(JSON.stringify({ type: "resume", token, positions: { t: lastPosition } }));
      if (cut === "relay") {
        await until(() => started.server.subscriberCount("t") === 1, 5000, "the session resumed");
        relay.cutClients();
      } else first.terminate();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(replies, 0);

      const second = await rawResume(started.url, { type: "resume", token, positions: { t: lastPosition } });
      await until(() => controls(second.messages).some((c) => c.type === "resumed"), 5000, "the resume");
      const [session, resumed] = controls(second.messages);
      assert.equal(session.resumed, true);
      assert.deepEqual(resumed, { type: "resumed", replayed: 1 });
      // Its new token has arrived (the pong of the server's ping): the old one is used up now.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const third = await rawResume(started.url, { type: "resume", token, positions: {} });
      await until(() => controls(third.messages).length === 2, 5000, "the refusal");
      assert.deepEqual(controls(third.messages)[0], { type: "reset", reason: "unknown" });
      second.socket.close();
      third.socket.close();
    });
  }
});

describe("resume refusals", () => {
  test("a topic whose ring overflowed while the client was away gets reset 'gap' and no subscription", async (t) => {
    const started = await startServer(t, { resume: { maxMessagesPerTopic: 10 } });
    const { token, lastPosition } = await endedSession(started, "busy");
    for (let i = 0; i < 11; i++) started.server.publish("busy", `m${i}`);
    const raw = await rawResume(started.url, { type: "resume", token, positions: { busy: lastPosition } });
    await until(() => controls(raw.messages).length === 2, 5000, "the refusal");
    assert.deepEqual(controls(raw.messages)[0], { type: "reset", reason: "gap" });
    assert.equal(controls(raw.messages)[1].resumed, false);
    assert.equal(started.server.subscriberCount("busy"), 0);
    raw.socket.close();
  });

  test("exactly maxMessagesPerTopic missed messages still resume", async (t) => {
    const started = await startServer(t, { resume: { maxMessagesPerTopic: 10 } });
    const { token, lastPosition } = await endedSession(started, "busy");
    for (let i = 0; i < 10; i++) started.server.publish("busy", `m${i}`);
    const raw = await rawResume(started.url, { type: "resume", token, positions: { busy: lastPosition } });
    await until(() => controls(raw.messages).some((c) => c.type === "resumed"), 5000, "the resume");
    assert.deepEqual(controls(raw.messages)[1], { type: "resumed", replayed: 10 });
    const payloads = raw.messages.filter((m) => typeof m === "string" && m.charCodeAt(0) === 1);
    assert.deepEqual(
      payloads.map((m) => (m as string).slice((m as string).indexOf("\n") + 1)),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    raw.socket.close();
  });

  test("a store whose ring is larger than 16 replay pages (of the default maxMessagesPerTopic) replays all it holds", async (t) => {
    const { MemoryResumeStore } = await import("../../src/server/memory-resume-store.js");
    // With a store of one's own, maxMessagesPerTopic is the store's (resume.maxMessagesPerTopic is then a
    // TypeError): the server reads replays in pages of its default, 1000; 17,000 is past 16 of them.
    const store = new MemoryResumeStore({ maxMessagesPerTopic: 20_000 });
    const started = await startServer(t, { resume: { store } });
    const { token, lastPosition } = await endedSession(started, "busy");
    for (let i = 0; i < 17_000; i++) started.server.publish("busy", `m${i}`);
    const raw = await rawResume(started.url, { type: "resume", token, positions: { busy: lastPosition } });
    await until(
      () => controls(raw.messages).some((c) => c.type === "resumed" || c.type === "reset"),
      5000,
      "the resume",
    );
    assert.deepEqual(controls(raw.messages)[1], { type: "resumed", replayed: 17_000 });
    raw.socket.close();
  });

  for (const [name, hello, reason] of [
    ["not JSON", "hello?", "the hello is not JSON"],
    ["an unknown type", { type: "bonjour" }, "unknown hello type"],
  ] as const) {
    test(`a first message that is ${name} closes the connection with 1002`, async (t) => {
      const started = await startServer(t, { resume: {} });
      let announced = 0;
      started.server.on("connection", () => announced++);
      const raw = await rawResume(started.url, hello);
      const event = await within(raw.closed, 5000, "the close");
      assert.equal(event.code, 1002);
      assert.equal(event.reason, `sockjet.resume: ${reason}`);
      assert.equal(announced, 0);
    });
  }

  test("messages sent right behind the hello reach the app after 'connection', in order", async (t) => {
    const started = await startServer(t, { resume: {} });
    const got: string[] = [];
    started.server.on("connection", (socket) => {
      socket.onmessage = (event) => got.push(event.data as string);
    });
    const socket = new WebSocket(started.url, ["sockjet.resume.1"]);
    t.after(() => socket.close());
    await within(new Promise((resolve) => socket.addEventListener("open", resolve)), 5000, "open");
    socket.send(JSON.stringify({ type: "hello" }));
    for (let i = 0; i < 5; i++) socket.send(`app${i}`);
    await until(() => got.length === 5, 5000, "the app messages");
    assert.deepEqual(got, ["app0", "app1", "app2", "app3", "app4"]);
  });
});

describe("messages behind a resume hello", () => {
  test("reach the app after 'connection' (socket.resumed), in order, while the session is taken and replayed", async (t) => {
    const started = await startServer(t, { resume: {} });
    const { token, lastPosition } = await endedSession(started);
    for (let i = 0; i < 3; i++) started.server.publish("t", `missed${i}`);
    const got: string[] = [];
    let resumed: boolean | undefined;
    started.server.on("connection", (socket) => {
      resumed = socket.resumed;
      socket.onmessage = (event) => got.push(event.data as string);
    });
    const socket = new WebSocket(started.url, ["sockjet.resume.1"]);
    t.after(() => socket.close());
    await within(new Promise((resolve) => socket.addEventListener("open", resolve)), 5000, "open");
    socket.send(JSON.stringify({ type: "resume", token, positions: { t: lastPosition } }));
    for (let i = 0; i < 5; i++) socket.send(`app${i}`);
    await until(() => got.length === 5, 5000, "the app messages");
    assert.deepEqual(got, ["app0", "app1", "app2", "app3", "app4"]);
    assert.equal(resumed, true);
  });
});

describe("resume option", () => {
  test("invalid options are TypeErrors", async () => {
    const { WebSocketServer } = await import("../../src/server/websocket-server.js");
    for (const resume of [
      { maxDisconnectionMs: 0 },
      { maxDisconnectionMs: "1" },
      { maxMessagesPerTopic: 1.5 },
      { store: {} },
      "yes",
    ]) {
      assert.throws(() => new WebSocketServer({ noServer: true, resume: resume as never }), TypeError);
    }
  });

  test("a client helper against a server without resume speaks the app protocol it offered after it", async (t) => {
    const started = await startServer(t, { protocols: ["chat"] });
    started.server.on("connection", (socket) => socket.send("plain"));
    const client = resumeClient(t, started.url, undefined, ["chat"]);
    await until(() => client.received.length === 1, 5000, "the message");
    assert.deepEqual(client.received, ["plain"]);
  });
});

describe("no hello in time", () => {
  test("closes with 1013 (try again later), and the client resumes its session on the next connection", async (t) => {
    const started = await startServer(t, { resume: {}, handshakeTimeoutMs: 300 });
    const silent = new WebSocket(started.url, ["sockjet.resume.1"]);
    const closed = new Promise<CloseEvent>((resolve) => silent.addEventListener("close", resolve));
    const event = await within(closed, 5000, "the close");
    assert.equal(event.code, 1013);
    assert.equal(event.reason, "sockjet.resume: no hello in time");

    // A client whose resume hello is held up on its way past the timeout keeps its session.
    started.server.on("connection", (socket) => {
      if (!socket.resumed) socket.subscribe("t");
    });
    const relay = await startRelay(t, started.url);
    const client = resumeClient(t, relay.url);
    await until(() => started.server.subscriberCount("t") === 1, 5000, "the subscription");
    started.server.publish("t", "one");
    await until(() => client.received.length === 1, 5000, "one");
    relay.holdClientData();
    relay.cutBoth();
    await until(() => relay.connections() === 1, 5000, "the client back");
    // Its hello (and its answer to the server's Close) wait past handshakeTimeoutMs, then arrive.
    await new Promise((resolve) => setTimeout(resolve, 600));
    relay.releaseClientData();
    await until(
      () => client.events.filter((e) => e === "disconnect").length === 2,
      5000,
      "the timeout's close",
    );
    started.server.publish("t", "two");
    await until(() => client.received.length === 2, 5000, "two, replayed");
    assert.deepEqual(client.resets, []);
    assert.deepEqual(client.received, ["t:one", "t:two"]);
  });
});

describe("resume.identify: sessions bound to who the connection belongs to", () => {
  const identify = (request: import("node:http").IncomingMessage) =>
    new URL(request.url ?? "/", "ws://x").searchParams.get("user") ?? "";

  test("a token presented by another identity is forged (stored or live), and its owner still resumes", async (t) => {
    const started = await startServer(t, { resume: { identify } });
    const alice = await rawResume(`${started.url}/?user=alice`, { type: "hello" });
    await until(() => controls(alice.messages).length === 1, 5000, "alice's session");
    const token = controls(alice.messages)[0].token as string;

    // Live: bob presents alice's token while she is connected. Refused; her connection stays.
    const bobLive = await rawResume(`${started.url}/?user=bob`, { type: "resume", token, positions: {} });
    await until(() => controls(bobLive.messages).length === 2, 5000, "bob's refusal");
    assert.deepEqual(controls(bobLive.messages)[0], { type: "reset", reason: "forged" });
    assert.equal(alice.socket.readyState, WebSocket.OPEN);
    bobLive.socket.close();

    // Stored: alice's connection ends; bob tries again, then alice resumes.
    alice.socket.close();
    await within(alice.closed, 5000, "alice's close");
    await until(() => started.server.clients.size === 0, 5000, "the server side closed");
    const bobStored = await rawResume(`${started.url}/?user=bob`, { type: "resume", token, positions: {} });
    await until(() => controls(bobStored.messages).length === 2, 5000, "bob's second refusal");
    assert.deepEqual(controls(bobStored.messages)[0], { type: "reset", reason: "forged" });
    bobStored.socket.close();
    const back = await rawResume(`${started.url}/?user=alice`, { type: "resume", token, positions: {} });
    await until(() => controls(back.messages).some((c) => c.type === "session"), 5000, "alice's resume");
    assert.equal(controls(back.messages).find((c) => c.type === "session")!.resumed, true);
    back.socket.close();
  });

  test("identify that throws or returns no string: the connection closes 1011, the server's 'error' says why", async (t) => {
    for (const [bad, message] of [
      [
        () => {
          throw new Error("no user");
        },
        /resume\.identify threw: no user/,
      ],
      [() => 42 as unknown as string, /resume\.identify must return a string, not number/],
    ] as const) {
      const started = await startServer(t, { resume: { identify: bad } });
      const socket = new WebSocket(started.url, ["sockjet.resume.1"]);
      const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
      const event = await within(closed, 5000, "the close");
      assert.equal(event.code, 1011);
      assert.match(event.reason, /could not identify the connection/);
      await until(() => started.errors.length === 1, 5000, "the error");
      assert.match(started.errors[0].message, message);
      assert.equal((started.errors[0] as Error & { code?: string }).code, "SJ_ERR_RESUME_IDENTIFY");
    }
  });

  test("identify must be a function", async (t) => {
    await assert.rejects(
      () => startServer(t, { resume: { identify: "user" as never } }),
      /options\.resume\.identify must be a function/,
    );
  });
});
