import assert from "node:assert/strict";
import http, { type IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import type { Rejection } from "../../src/server/options.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import {
  type Cleanup,
  defer,
  HOST,
  portOf,
  RawClient,
  type ResponseHead,
  sleep,
  startServer,
  upgradeRequest,
  waitFor,
} from "./helpers.js";

// What the server answers when a verify hook refuses, is slow, or is cut short by close(), and which answers
// accept (an outside review of the handshake hooks: framing headers, status semantics, event order).

/** Sends an upgrade request for `path` on a fresh connection; the response head and body, after EOF. */
async function answerTo(t: Cleanup, port: number, path = "/"): Promise<{ head: ResponseHead; body: string }> {
  const client = await RawClient.connect(t, port);
  client.write(upgradeRequest({ path }));
  const head = await client.readHead();
  const body = await client.readBody(head);
  await client.expectEof();
  client.destroy();
  return { head, body };
}

/** The names of the head's fields, lowercased, in wire order. */
const names = (head: ResponseHead) => head.fields.map(([name]) => name);

describe("a rejection's headers cannot frame the answer (RFC 9112 §6.3)", () => {
  test("regression: verify's Content-Length, Transfer-Encoding, Connection and Upgrade are dropped; one of each framing field", async (t) => {
    const { port } = await startServer(t, {
      verify: () => ({
        status: 401,
        message: "who are you?",
        headers: {
          "WWW-Authenticate": 'Bearer realm="ws"',
          "content-length": "0",
          "Transfer-Encoding": "chunked",
          Connection: "keep-alive",
          Upgrade: "websocket",
        },
      }),
    });
    const { head, body } = await answerTo(t, port);
    assert.equal(head.statusLine, "HTTP/1.1 401 Unauthorized");
    assert.equal(head.header("www-authenticate"), 'Bearer realm="ws"');
    assert.equal(names(head).filter((name) => name === "content-length").length, 1);
    assert.equal(head.header("content-length"), String(Buffer.byteLength("who are you?")));
    assert.equal(head.header("connection"), "close");
    assert.equal(head.header("transfer-encoding"), undefined);
    assert.equal(head.header("upgrade"), undefined);
    assert.equal(body, "who are you?");
  });

  test("a rejection's Content-Type replaces the default; a 426's Upgrade is kept with 'Connection: Upgrade, close'", async (t) => {
    const { port } = await startServer(t, {
      verify: ({ url }): Rejection =>
        url.pathname === "/html"
          ? { status: 403, message: "<p>no</p>", headers: { "Content-Type": "text/html" } }
          : { status: 426, headers: { Upgrade: "websocket" } },
    });
    const html = await answerTo(t, port, "/html");
    assert.deepEqual(
      html.head.fields.filter(([name]) => name === "content-type"),
      [["content-type", "text/html"]],
    );
    const upgrade = await answerTo(t, port, "/426");
    assert.equal(upgrade.head.status, 426);
    assert.equal(upgrade.head.header("upgrade"), "websocket");
    assert.equal(upgrade.head.header("connection"), "Upgrade, close");
  });
});

describe("status semantics of verify's answers (RFC 9110 §15.5.2, §15.5.9, §15.6.4)", () => {
  test("regression: verify → false answers 403 Forbidden (no WWW-Authenticate, so not 401); a 401 with a challenge stays 401", async (t) => {
    const { port } = await startServer(t, {
      verify: ({ url }) =>
        url.pathname === "/challenge" ? { status: 401, headers: { "WWW-Authenticate": "Basic" } } : false,
    });
    const refused = await answerTo(t, port);
    assert.equal(refused.head.statusLine, "HTTP/1.1 403 Forbidden");
    assert.equal(refused.head.header("www-authenticate"), undefined);
    const challenged = await answerTo(t, port, "/challenge");
    assert.equal(challenged.head.status, 401);
    assert.equal(challenged.head.header("www-authenticate"), "Basic");
  });

  test("regression: a verify slower than handshakeTimeoutMs answers 503 with Retry-After, not 408 (the request was complete)", async (t) => {
    const { server, port } = await startServer(t, {
      handshakeTimeoutMs: 200,
      verify: () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 1000)),
    });
    const rejected: number[] = [];
    server.on("rejected", (_request: IncomingMessage, status: number) => rejected.push(status));
    const { head } = await answerTo(t, port);
    assert.equal(head.statusLine, "HTTP/1.1 503 Service Unavailable");
    assert.equal(head.header("retry-after"), "5");
    assert.deepEqual(rejected, [503]);
    await sleep(900);
    assert.equal(server.clients.size, 0, "the late 'true' accepts nothing");
  });
});

describe("close() during an async verify", () => {
  test("regression: attached mode — the pending handshake gets 503 and 'rejected' before 'close'; nothing after", async (t) => {
    const httpServer = http.createServer();
    await new Promise<void>((resolve) => httpServer.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => httpServer.close(resolve)));
    let verifyCalled = false;
    const server = new WebSocketServer({
      server: httpServer,
      verify: () => {
        verifyCalled = true;
        return new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 400));
      },
    });
    const events: string[] = [];
    server.on("rejected", (_request: IncomingMessage, status: number) => events.push(`rejected ${status}`));
    server.on("connection", () => events.push("connection"));
    server.on("close", () => events.push("close"));
    const client = await RawClient.connect(t, portOf(httpServer.address()));
    client.write(upgradeRequest());
    await waitFor(() => verifyCalled, 3000, "verify called");
    await server.close();
    events.push("close() resolved");
    assert.equal((await client.readHead()).status, 503);
    await client.expectEof();
    // The hook's late answer (at 400 ms) must not emit anything.
    await sleep(600);
    assert.deepEqual(events, ["rejected 503", "close", "close() resolved"]);
  });
});

describe("verify's answer: an object without a status accepts (app data), with a status it rejects", () => {
  test("regression: { user: 'alice' }, {}, [] and { status: undefined } accept (was 500)", async (t) => {
    const answers: Record<string, unknown> = {
      user: { user: "alice" },
      empty: {},
      array: [],
      explicit: { status: undefined, user: "bob" },
    };
    const errors: Error[] = [];
    const { server, port } = await startServer(t, {
      verify: ({ url }) => answers[url.pathname.slice(1)] as { user: string },
    });
    server.on("handshakeError", (error: Error) => errors.push(error));
    for (const name of Object.keys(answers)) {
      const client = await RawClient.connect(t, port);
      assert.equal((await client.handshake(`/${name}`)).status, 101, name);
      client.destroy();
    }
    assert.deepEqual(errors, []);
  });

  test("an object whose status is not a number 400–599 is still the hook's bug: 500 and 'handshakeError'", async (t) => {
    const errors: Error[] = [];
    const { server, port } = await startServer(t, { verify: () => ({ status: "403" as unknown as number }) });
    server.on("handshakeError", (error: Error) => errors.push(error));
    const { head } = await answerTo(t, port);
    assert.equal(head.status, 500);
    assert.equal(errors.length, 1);
  });
});
