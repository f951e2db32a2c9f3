// The resume client against a server that breaks the wire format (docs/resume.md): whatever it sends, the
// client does not throw, delivers nothing it cannot place, fires `error` saying what was wrong, drops the
// connection and resumes from the last message it placed. Each server here speaks sockjet.resume.1 by hand
// (sockjet's WebSocketServer), the client is a real ResumableWebSocket on sockjet's WebSocket.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, type TestContext, test } from "node:test";
import { ResumableWebSocket, type ResumeErrorEvent } from "../../src/resume/client.js";
import { type WebSocket, WebSocket as WebSocketClass } from "../../src/web/websocket.js";
import { handWrittenResumeServer, type RecordingClient, resumeClient, until } from "./helpers.js";

const control = (body: unknown) => `\u0002${JSON.stringify(body)}`;

/** A client that also records its `error` events' messages (the wire's: not a terminated connection's). */
function recordingErrors(client: RecordingClient): string[] {
  const errors: string[] = [];
  client.socket.addEventListener("error", (event) => {
    const message = (event as ResumeErrorEvent).message;
    if (message.startsWith("sockjet.resume:")) errors.push(message);
  });
  return errors;
}

/** A well-behaved answer to a resume hello: the session comes back, nothing to replay. */
function resumeAnswer(socket: WebSocket): void {
  socket.send(control({ type: "session", token: "t2", resumed: true, topics: ["a"] }));
  socket.send(control({ type: "resumed", replayed: 0 }));
}

describe("a server breaking the wire format after the session is up", () => {
  // Each: what the server sends after a good topic message ("a" at 5); the error it must cause.
  const cases: [string, string | Buffer, RegExp][] = [
    ["a control message that is not JSON", "\u0002{not json", /control message that is not JSON/],
    ["an empty control message", "\u0002", /control message that is not JSON/],
    ["a control message that is null", "\u0002null", /not an object with a type/],
    [
      "a control message that is an array",
      '\u0002[{"type":"reset","reason":"x"}]',
      /not an object with a type/,
    ],
    ["a control message that is a number", "\u00023", /not an object with a type/],
    ["a control message with no type", '\u0002{"id":1,"topic":"b"}', /not an object with a type/],
    [
      "a topic message with no newline",
      "\u00011 7secret-payload-without-newline",
      /no "\\n" after its header/,
    ],
    ["a binary topic message with no newline", Buffer.from("\u00011 7XYZ"), /no "\\n" after its header/],
    ["a topic message with no space", "\u000112\npayload", /malformed header "12"/],
    ["a binary topic message with no space", Buffer.from("\u000112\npayload"), /malformed header "12"/],
    ["a topic message with an empty position", "\u00011 \npayload", /malformed header/],
    ["a topic number in hexadecimal", "\u00010x1 7\npayload", /malformed header/],
    ["a topic number with an exponent", "\u00011e0 7\npayload", /malformed header/],
    ["a topic number with a sign", "\u0001+1 7\npayload", /malformed header/],
    ["a topic number after a space", "\u0001 1 7\npayload", /malformed header/],
    ["a topic number with a leading zero", "\u000101 7\npayload", /malformed header/],
    ["a position with a space", "\u00011 7 8\npayload", /malformed header/],
    ["an empty text message", "", /empty message/],
    ["an empty binary message", Buffer.alloc(0), /empty message/],
    ["a text message of an unknown type", "\u0003weird", /unknown type 3/],
    ["a binary message of an unknown type", Buffer.from([3, 1, 2]), /unknown type 3/],
    ["a binary control message", Buffer.from(control({ type: "reset", reason: "gap" })), /binary/],
    [
      "a topic number announced again for another topic",
      control({ type: "topic", id: 1, topic: "b" }),
      /another topic/,
    ],
    [
      "a topic announcement with a number as a string",
      control({ type: "topic", id: "1", topic: "b" }),
      /topic announcement/,
    ],
    [
      "a topic announcement with a negative number",
      control({ type: "topic", id: -1, topic: "b" }),
      /topic announcement/,
    ],
    ["an unsubscribed without a topic", control({ type: "unsubscribed" }), /unsubscribed without a topic/],
    ["a second session", control({ type: "session", token: "t9", resumed: false }), /second session/],
    ["a reset after the session", control({ type: "reset", reason: "gap" }), /reset that answers no resume/],
    [
      "a resumed after a fresh session",
      control({ type: "resumed", replayed: 3 }),
      /resumed that ends no replay/,
    ],
  ];
  for (const [name, bad, expected] of cases) {
    test(`regression: ${name}: error, nothing delivered from it on, the resume carries on`, async (t) => {
      const { url, hellos } = await handWrittenResumeServer(t, (hello, socket) => {
        if (hello.type !== "hello") return resumeAnswer(socket);
        socket.send(control({ type: "session", token: "t1", resumed: false }));
        socket.send(control({ type: "topic", id: 1, topic: "a" }));
        socket.send("\u00011 5\nfirst");
        socket.send(bad);
        socket.send("\u00011 6\nafter");
      });
      const client = resumeClient(t, url);
      const errors = recordingErrors(client);
      await until(() => client.sessions.length === 2, 5000, "the resumed session");
      assert.equal(errors.length, 1, `one error: ${JSON.stringify(errors)}`);
      assert.match(errors[0], expected);
      assert.match(errors[0], /^sockjet\.resume: the server sent /);
      assert.deepEqual(client.received, ["a:first"], "nothing from the malformed message on");
      // The session, its token and positions are intact: the resume presents what the client placed.
      assert.deepEqual(hellos[1], { type: "resume", token: "t1", positions: { a: "5" } });
      assert.deepEqual(client.sessions, [false, true]);
      assert.deepEqual(client.resets, []);
    });
  }
});

describe("a server answering the hello out of order", () => {
  // Each: the messages answering a first hello; the error. The client then says hello again.
  const cases: [string, string[], RegExp][] = [
    [
      "resumed before any session",
      [control({ type: "resumed", replayed: 3 }), control({ type: "session", token: "t0", resumed: false })],
      /resumed that ends no replay/,
    ],
    ["a session without a token", [control({ type: "session", resumed: false })], /session without a token/],
    [
      "a session with an empty token",
      [control({ type: "session", token: "", resumed: false })],
      /session without a token/,
    ],
    [
      "a session whose resumed is not a boolean",
      [control({ type: "session", token: "t0", resumed: "yes" })],
      /without resumed: true or false/,
    ],
    [
      "a resumed session answering a plain hello",
      [control({ type: "session", token: "t0", resumed: true }), control({ type: "resumed", replayed: 0 })],
      /resumed session, but no resume was presented/,
    ],
    [
      "a reset answering a plain hello",
      [control({ type: "reset", reason: "gap" }), control({ type: "session", token: "t0", resumed: false })],
      /reset that answers no resume/,
    ],
    [
      "a session whose topics are not a list of names",
      [control({ type: "session", token: "t0", resumed: false, topics: "a" })],
      /topics are not a list of names/,
    ],
  ];
  for (const [name, answer, expected] of cases) {
    test(`regression: ${name}: error, no session on that connection, a fresh hello next`, async (t) => {
      const { url, hellos } = await handWrittenResumeServer(t, (_hello, socket) => {
        if (hellos.length === 1) for (const message of answer) socket.send(message);
        else socket.send(control({ type: "session", token: "t1", resumed: false }));
      });
      const client = resumeClient(t, url);
      const errors = recordingErrors(client);
      await until(
        () => client.sessions.length === 1 && hellos.length === 2,
        5000,
        "the second hello's session",
      );
      assert.equal(errors.length, 1, `one error: ${JSON.stringify(errors)}`);
      assert.match(errors[0], expected);
      assert.deepEqual(hellos, [{ type: "hello" }, { type: "hello" }]);
      assert.deepEqual(client.sessions, [false]);
      assert.deepEqual(
        client.events.filter((type) => type !== "disconnect"),
        ["session"],
        "no session, reset or resumed from the bad answer",
      );
    });
  }
});

test("regression: a resumed with no count after a resumed session: error, dropped, resumed again", async (t) => {
  const { server, url, hellos } = await handWrittenResumeServer(t, (hello, socket) => {
    if (hello.type === "hello") socket.send(control({ type: "session", token: "t1", resumed: false }));
    else {
      socket.send(control({ type: "session", token: `t${hellos.length}`, resumed: true }));
      // The first resume's count is a string: malformed.
      socket.send(control({ type: "resumed", replayed: hellos.length === 2 ? "0" : 0 }));
    }
  });
  const client = resumeClient(t, url);
  const errors = recordingErrors(client);
  await until(() => client.sessions.length === 1, 5000, "the first session");
  for (const socket of server.clients) socket.terminate();
  await until(() => client.events.includes("resumed"), 5000, "a resume with a count");
  assert.equal(errors.length, 1);
  assert.match(errors[0], /resumed without a count/);
  assert.deepEqual(
    hellos.map((hello) => hello.token),
    [undefined, "t1", "t2"],
  );
  assert.deepEqual(client.sessions, [false, true, true]);
});

describe("a fresh session after the client had one", () => {
  test("regression: a fresh session answering a resume with no reset first: the client dispatches reset 'unknown'", async (t) => {
    const { server, url, hellos } = await handWrittenResumeServer(t, (hello, socket) => {
      if (hello.type === "hello") {
        socket.send(control({ type: "session", token: "t1", resumed: false }));
        socket.send(control({ type: "topic", id: 1, topic: "a" }));
        socket.send("\u00011 5\nfirst");
      } else socket.send(control({ type: "session", token: "t2", resumed: false }));
    });
    const client = resumeClient(t, url);
    await until(() => client.received.length === 1, 5000, "the first message");
    for (const socket of server.clients) socket.terminate();
    await until(() => client.sessions.length === 2, 5000, "the second session");
    assert.deepEqual(hellos[1], { type: "resume", token: "t1", positions: { a: "5" } });
    assert.deepEqual(
      client.events.filter((type) => type !== "disconnect"),
      ["session", "reset", "session"],
    );
    assert.deepEqual(client.resets, ["unknown"]);
    assert.deepEqual(client.socket.positions, {});
  });

  test("a reset then a fresh session answering a resume: one reset, the server's reason", async (t) => {
    const { server, url } = await handWrittenResumeServer(t, (hello, socket) => {
      if (hello.type === "resume") socket.send(control({ type: "reset", reason: "expired" }));
      socket.send(control({ type: "session", token: "t1", resumed: false }));
    });
    const client = resumeClient(t, url);
    await until(() => client.sessions.length === 1, 5000, "the first session");
    for (const socket of server.clients) socket.terminate();
    await until(() => client.sessions.length === 2, 5000, "the second session");
    assert.deepEqual(client.resets, ["expired"]);
  });

  test("regression: a resumed session without a token is dropped; the next resume presents the old token, and a fresh answer is a reset", async (t) => {
    // The review's case (session-no-token): before, the client lost its token to the tokenless session and
    // the fresh session that followed came with no reset: the app never knew to refetch.
    const { server, url, hellos } = await handWrittenResumeServer(t, (_hello, socket) => {
      if (hellos.length === 1) {
        socket.send(control({ type: "session", token: "t1", resumed: false }));
        socket.send(control({ type: "topic", id: 1, topic: "a" }));
        socket.send("\u00011 5\nfirst");
      } else if (hellos.length === 2) {
        socket.send(control({ type: "topic", id: 1, topic: "a" }));
        socket.send(control({ type: "session", resumed: true, topics: ["a"] }));
        socket.send(control({ type: "resumed", replayed: 0 }));
        socket.send("\u00011 6\nunplaced");
      } else socket.send(control({ type: "session", token: "t3", resumed: false }));
    });
    const client = resumeClient(t, url);
    const errors = recordingErrors(client);
    await until(() => client.received.length === 1, 5000, "the first message");
    for (const socket of server.clients) socket.terminate();
    await until(() => client.sessions.length === 2, 5000, "the fresh session");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /session without a token/);
    assert.deepEqual(hellos.slice(1), [
      { type: "resume", token: "t1", positions: { a: "5" } },
      { type: "resume", token: "t1", positions: { a: "5" } },
    ]);
    assert.deepEqual(client.received, ["a:first"]);
    assert.deepEqual(client.resets, ["unknown"]);
    assert.deepEqual(client.sessions, [false, false]);
  });
});

/** A client that gives each attempt 150 ms and retries soon, with the messages of its `error` events. */
function impatientClient(t: TestContext, url: string): { socket: ResumableWebSocket; errors: string[] } {
  const socket = new ResumableWebSocket(url, {
    WebSocket: WebSocketClass as never,
    sessionTimeoutMs: 150,
    initialDelayMs: 20,
    maxDelayMs: 50,
  });
  t.after(() => socket.close());
  const errors: string[] = [];
  socket.addEventListener("error", (event) => errors.push((event as ResumeErrorEvent).message));
  return { socket, errors };
}

describe("a server that accepts the connection and never answers the hello", () => {
  test("the client drops it after sessionTimeoutMs (an error saying so) and tries again, with backoff", async (t) => {
    const { url, hellos } = await handWrittenResumeServer(t, () => {});
    const { socket, errors } = impatientClient(t, url);
    await until(() => hellos.length >= 3, 5000, "three attempts");
    assert.equal(socket.readyState, ResumableWebSocket.CONNECTING);
    assert.ok(
      errors.filter((m) => m.includes("sessionTimeoutMs")).length >= 2,
      `errors: ${JSON.stringify(errors)}`,
    );
  });

  test("an opening handshake never answered counts too: dropped after sessionTimeoutMs, then the next attempt", async (t) => {
    // A TCP server that accepts and says nothing (as node:cluster's primary does with a connection it handed
    // to a worker that had just died): without a bound the client would wait in CONNECTING for ever.
    const accepted: net.Socket[] = [];
    const server = net.createServer((connection) => accepted.push(connection));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => {
      for (const connection of accepted) connection.destroy();
      server.close();
    });
    const { port } = server.address() as net.AddressInfo;
    const { socket, errors } = impatientClient(t, `ws://127.0.0.1:${port}/`);
    await until(() => accepted.length >= 3, 5000, "three attempts");
    assert.equal(socket.readyState, ResumableWebSocket.CONNECTING);
    const timedOut = errors.filter((m) =>
      m.includes(
        "The opening handshake did not complete within 150 ms of the connection attempt (sessionTimeoutMs)",
      ),
    );
    assert.ok(timedOut.length >= 2, `errors: ${JSON.stringify(errors)}`);
    // One error per dropped attempt: the WebSocket's own error for the close is not passed on as well.
    assert.equal(errors.length, timedOut.length, `errors: ${JSON.stringify(errors)}`);
  });

  test("sessionTimeoutMs must be a number ≥ 0 (0: no limit)", () => {
    assert.throws(
      () =>
        new ResumableWebSocket("ws://127.0.0.1:1", {
          WebSocket: WebSocketClass as never,
          sessionTimeoutMs: -1,
        }),
      TypeError,
    );
  });
});
