import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type Cleanup,
  RawClient,
  type ResponseHead,
  RFC_ACCEPT,
  RFC_KEY,
  type Started,
  startServer,
  suiteCleanup,
  upgradeRequest,
} from "./helpers.js";

// The server's side of the opening handshake (RFC 6455 §4.2), seen from a raw TCP client that writes exact
// bytes: every refusal has the right status line and headers, the socket is closed after the answer (the
// client sees EOF), and the server goes on serving the next client.

type T = Cleanup;

/** Sends `request` on a fresh connection and returns the response head and body. */
async function exchange(t: T, port: number, request: string): Promise<{ head: ResponseHead; body: string }> {
  const client = await RawClient.connect(t, port);
  client.write(request);
  const head = await client.readHead();
  const body = await client.readBody(head);
  // The answer ends the exchange: the server closes its side.
  await client.expectEof();
  client.destroy();
  return { head, body };
}

/** A good handshake on a new connection still gets a 101 with the RFC's accept value. */
async function assertStillServing(t: T, port: number): Promise<void> {
  const client = await RawClient.connect(t, port);
  const head = await client.handshake();
  assert.equal(head.header("sec-websocket-accept"), RFC_ACCEPT);
  client.destroy();
}

describe("RFC 6455 §4.2.2 server accepts a valid handshake", () => {
  test("answers 101 with Upgrade, Connection and the §1.3 accept value for key dGhlIHNhbXBsZSBub25jZQ==", async (t) => {
    const { port } = await startServer(t);
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest());
    const head = await client.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 101 Switching Protocols");
    assert.equal(head.header("upgrade"), "websocket");
    assert.equal(head.header("connection"), "Upgrade");
    assert.equal(head.header("sec-websocket-accept"), RFC_ACCEPT);
    assert.equal(head.header("sec-websocket-protocol"), undefined, "no subprotocol was offered");
    assert.equal(head.header("sec-websocket-extensions"), undefined, "no extension is configured");
    // The connection stays open after a 101.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(client.eof, false);
  });

  test("header names and values are matched case-insensitively (upgrade: WebSocket, connection: keep-alive, UPGRADE)", async (t) => {
    const { port } = await startServer(t);
    const client = await RawClient.connect(t, port);
    client.write(
      upgradeRequest({
        headers: {
          Upgrade: null,
          Connection: null,
          "Sec-WebSocket-Key": null,
          "Sec-WebSocket-Version": null,
          upgrade: "WebSocket",
          connection: "keep-alive, UPGRADE",
          "sec-websocket-key": RFC_KEY,
          "sec-websocket-version": "13",
        },
      }),
    );
    const head = await client.readHead();
    assert.equal(head.status, 101);
    assert.equal(head.header("sec-websocket-accept"), RFC_ACCEPT);
  });

  test("extra response headers from options.headers (object and function of the request) are sent on the 101", async (t) => {
    const { port } = await startServer(t, {
      headers: (request) => ({ "X-Path": request.url ?? "", "Set-Cookie": "session=1" }),
    });
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest({ path: "/chat?room=7" }));
    const head = await client.readHead();
    assert.equal(head.status, 101);
    assert.equal(head.header("x-path"), "/chat?room=7");
    assert.equal(head.header("set-cookie"), "session=1");
  });
});

describe("RFC 6455 §4.2.1 server refuses a malformed handshake, closes the socket and keeps serving", () => {
  // One server for the whole group: each case also proves that the previous refusals broke nothing.
  const cleanup = suiteCleanup(after);
  let started: Started;
  before(async () => {
    started = await startServer(cleanup);
  });

  const cases: {
    name: string;
    request: string;
    statusLine: string;
    headers?: Record<string, string>;
  }[] = [
    {
      name: "method POST → 405 with Allow: GET (RFC 9110 §15.5.6)",
      request: upgradeRequest({ method: "POST", headers: { "Content-Length": "0" } }),
      statusLine: "HTTP/1.1 405 Method Not Allowed",
      headers: { allow: "GET", connection: "close" },
    },
    {
      name: "no Sec-WebSocket-Key → 400",
      request: upgradeRequest({ headers: { "Sec-WebSocket-Key": null } }),
      statusLine: "HTTP/1.1 400 Bad Request",
      headers: { connection: "close" },
    },
    {
      name: "Sec-WebSocket-Key of 15 bytes (§4.2.1 item 5: 16 bytes) → 400",
      request: upgradeRequest({ headers: { "Sec-WebSocket-Key": Buffer.alloc(15, 7).toString("base64") } }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "Sec-WebSocket-Key that is not base64 → 400",
      request: upgradeRequest({ headers: { "Sec-WebSocket-Key": "not a key at all!!!!!!==" } }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "Sec-WebSocket-Version: 8 → 426 with Sec-WebSocket-Version: 13 (§4.2.2 item 4, §4.4)",
      request: upgradeRequest({ headers: { "Sec-WebSocket-Version": "8" } }),
      statusLine: "HTTP/1.1 426 Upgrade Required",
      headers: { "sec-websocket-version": "13" },
    },
    {
      name: "no Sec-WebSocket-Version → 426 with Sec-WebSocket-Version: 13",
      request: upgradeRequest({ headers: { "Sec-WebSocket-Version": null } }),
      statusLine: "HTTP/1.1 426 Upgrade Required",
      headers: { "sec-websocket-version": "13" },
    },
    {
      name: "Upgrade: h2c (§4.2.1 item 3: must contain websocket) → 400",
      request: upgradeRequest({ headers: { Upgrade: "h2c" } }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "no Host (§4.2.1 item 2) → 400",
      request: upgradeRequest({ headers: { Host: null } }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "two Host fields (RFC 9112 §3.2: more than one Host field line) → 400",
      request: upgradeRequest({ extra: ["Host: other.example"] }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "HTTP/1.0 (§4.2.1 item 1: HTTP/1.1 or higher) → 400",
      request: upgradeRequest({ version: "HTTP/1.0" }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "Sec-WebSocket-Protocol that is not a token list → 400",
      request: upgradeRequest({ headers: { "Sec-WebSocket-Protocol": "chat, a b" } }),
      statusLine: "HTTP/1.1 400 Bad Request",
    },
    {
      name: "150 header fields (limit 100) → 431 (RFC 6585 §5)",
      request: upgradeRequest({ extra: Array.from({ length: 145 }, (_, i) => `X-Filler-${i}: ${i}`) }),
      statusLine: "HTTP/1.1 431 Request Header Fields Too Large",
    },
    {
      name: "a 20 KiB header field (limit 16 KiB) → 431 (RFC 6585 §5)",
      request: upgradeRequest({ extra: [`X-Big: ${"a".repeat(20 * 1024)}`] }),
      statusLine: "HTTP/1.1 431 Request Header Fields Too Large",
    },
  ];

  for (const c of cases) {
    test(c.name, async (t) => {
      const { head } = await exchange(t, started.port, c.request);
      assert.equal(head.statusLine, c.statusLine);
      for (const [name, value] of Object.entries(c.headers ?? {})) {
        assert.equal(head.header(name), value, `header ${name}`);
      }
      assert.equal(head.header("sec-websocket-accept"), undefined, "a refusal never carries an accept");
      await assertStillServing(t, started.port);
    });
  }
});

describe("RFC 6455 §4.2.1 items 3–4: a GET without both Upgrade: websocket and Connection: Upgrade", () => {
  // Node's parser only raises 'upgrade' when both headers are there; anything else is a plain GET, which the
  // standalone server answers with 426 naming the protocol (RFC 9110 §15.5.22: a 426 MUST carry Upgrade,
  // §7.8: with the "upgrade" connection option). The HTTP connection persists, so the client may upgrade on it.
  for (const [name, headers] of [
    ["Connection: Upgrade but no Upgrade header", { Upgrade: null }],
    ["Upgrade: websocket but Connection: keep-alive", { Connection: "keep-alive" }],
  ] as const) {
    test(`${name} → 426 with Upgrade: websocket; the same connection can then upgrade`, async (t) => {
      const { port } = await startServer(t);
      const client = await RawClient.connect(t, port);
      client.write(upgradeRequest({ headers }));
      const head = await client.readHead();
      assert.equal(head.statusLine, "HTTP/1.1 426 Upgrade Required");
      assert.equal(head.header("upgrade"), "websocket");
      assert.equal(head.header("connection"), "Upgrade");
      assert.match(await client.readBody(head), /^426 Upgrade Required/);
      const upgraded = await client.handshake();
      assert.equal(upgraded.header("sec-websocket-accept"), RFC_ACCEPT);
    });
  }
});

describe("verify hook: the server's policy (RFC 6455 §4.2.1 item 7, §10.2) refuses with its own status", () => {
  test("sync verify returning { status: 403, headers, message } → 403 with those headers and body", async (t) => {
    const seen: { origin: string; url: string; secure: boolean; cookie: unknown }[] = [];
    const { port } = await startServer(t, {
      verify: ({ origin, url, secure, request }) => {
        seen.push({ origin, url: url.href, secure, cookie: request.headers.cookie });
        return { status: 403, headers: { "X-Refused-By": "policy" }, message: "origin not allowed" };
      },
    });
    const { head, body } = await exchange(
      t,
      port,
      upgradeRequest({
        path: "/feed?x=1",
        headers: { Origin: "https://evil.example", Cookie: "sid=42", Host: "h.example:81" },
      }),
    );
    assert.equal(head.statusLine, "HTTP/1.1 403 Forbidden");
    assert.equal(head.header("x-refused-by"), "policy");
    assert.equal(head.header("content-length"), String(Buffer.byteLength("origin not allowed")));
    assert.equal(body, "origin not allowed");
    assert.deepEqual(seen, [
      { origin: "https://evil.example", url: "ws://h.example:81/feed?x=1", secure: false, cookie: "sid=42" },
    ]);
    // The next client gets the same answer, not a hang: the refusal left the server serving.
    const again = await exchange(t, port, upgradeRequest());
    assert.equal(again.head.statusLine, "HTTP/1.1 403 Forbidden");
    assert.equal(seen.length, 2);
  });

  test("async verify resolving { status: 401, headers: WWW-Authenticate } → 401 with that header", async (t) => {
    const { port } = await startServer(t, {
      verify: async ({ request }) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (request.headers.authorization === "Bearer good") return true;
        return { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="ws"' } };
      },
    });
    const { head, body } = await exchange(t, port, upgradeRequest());
    assert.equal(head.statusLine, "HTTP/1.1 401 Unauthorized");
    assert.equal(head.header("www-authenticate"), 'Bearer realm="ws"');
    assert.equal(body, "Unauthorized");
    // The same server accepts a client the hook lets through.
    const client = await RawClient.connect(t, port);
    const ok = await client.handshake("/", { Authorization: "Bearer good" });
    assert.equal(ok.header("sec-websocket-accept"), RFC_ACCEPT);
  });

  test("regression: verify returning false → 403 Forbidden (a 401 must carry WWW-Authenticate, RFC 9110 §15.5.2)", async (t) => {
    const { port } = await startServer(t, { verify: () => false });
    const { head } = await exchange(t, port, upgradeRequest());
    assert.equal(head.statusLine, "HTTP/1.1 403 Forbidden");
    assert.equal(head.header("www-authenticate"), undefined);
  });

  test("verify that throws → 500, the error is a 'handshakeError' (not 'error'), and the server keeps serving", async (t) => {
    let calls = 0;
    const { server, port } = await startServer(t, {
      verify: () => {
        if (++calls === 1) throw new Error("hook bug");
        return true;
      },
    });
    const errors: Error[] = [];
    server.on("handshakeError", (error) => errors.push(error));
    const { head } = await exchange(t, port, upgradeRequest());
    assert.equal(head.statusLine, "HTTP/1.1 500 Internal Server Error");
    assert.deepEqual(
      errors.map((e) => e.message),
      ["hook bug"],
    );
    await assertStillServing(t, port);
  });

  test("async verify that rejects → 500 and the error is a 'handshakeError'", async (t) => {
    const { server, port } = await startServer(t, {
      verify: async () => Promise.reject(new Error("db down")),
    });
    const errors: Error[] = [];
    server.on("handshakeError", (error) => errors.push(error));
    const { head } = await exchange(t, port, upgradeRequest());
    assert.equal(head.statusLine, "HTTP/1.1 500 Internal Server Error");
    assert.deepEqual(
      errors.map((e) => e.message),
      ["db down"],
    );
  });

  test("a rejection header with CR LF (response splitting) is dropped, the status still sent", async (t) => {
    const { port } = await startServer(t, {
      verify: () => ({ status: 403, headers: { "X-Evil": "a\r\nSet-Cookie: pwned=1" } }),
    });
    const { head } = await exchange(t, port, upgradeRequest());
    assert.equal(head.statusLine, "HTTP/1.1 403 Forbidden");
    assert.equal(head.header("set-cookie"), undefined);
    assert.equal(head.header("x-evil"), undefined);
  });
});

describe("RFC 6455 §4.2.2 item 5.4 subprotocol selection", () => {
  async function offer(t: T, port: number, offered: string): Promise<ResponseHead> {
    const client = await RawClient.connect(t, port);
    return client.handshake("/", { "Sec-WebSocket-Protocol": offered });
  }

  test("regression (issue 21 item 8): default: the server's order of preference decides, not the client's", async (t) => {
    const { port } = await startServer(t, { protocols: ["v2.chat", "v1.chat"] });
    assert.equal(
      (await offer(t, port, "v3.chat, v1.chat, v2.chat")).header("sec-websocket-protocol"),
      "v2.chat",
    );
    assert.equal((await offer(t, port, "v1.chat, v3.chat")).header("sec-websocket-protocol"), "v1.chat");
    assert.equal((await offer(t, port, "v2.chat")).header("sec-websocket-protocol"), "v2.chat");
  });

  test("default: none supported → 101 with no Sec-WebSocket-Protocol", async (t) => {
    const { port } = await startServer(t, { protocols: ["mqtt"] });
    const head = await offer(t, port, "chat, superchat");
    assert.equal(head.status, 101);
    assert.equal(head.header("sec-websocket-protocol"), undefined);
  });

  test("default with no `protocols` option: offers are never echoed", async (t) => {
    const { port } = await startServer(t);
    assert.equal((await offer(t, port, "chat")).header("sec-websocket-protocol"), undefined);
  });

  test("selectProtocol hook picks from the offered list and sees the request", async (t) => {
    const calls: [string[], string | undefined][] = [];
    const { port, server } = await startServer(t, {
      selectProtocol: (offered, request) => {
        calls.push([offered, request.url]);
        return offered[offered.length - 1];
      },
    });
    const connection = new Promise<string>((resolve) =>
      server.once("connection", (ws) => resolve(ws.protocol)),
    );
    const head = await offer(t, port, "a, b,c");
    assert.equal(head.header("sec-websocket-protocol"), "c");
    assert.equal(await connection, "c", "the server-side WebSocket reports the chosen protocol");
    assert.deepEqual(calls, [[["a", "b", "c"], "/"]]);
  });

  test("selectProtocol returning null → no Sec-WebSocket-Protocol", async (t) => {
    const { port } = await startServer(t, { selectProtocol: () => null });
    const head = await offer(t, port, "a");
    assert.equal(head.status, 101);
    assert.equal(head.header("sec-websocket-protocol"), undefined);
  });

  test("selectProtocol returning a protocol that was not offered → 500, never a 101 the client must fail", async (t) => {
    const { server, port } = await startServer(t, { selectProtocol: () => "not-offered" });
    const errors: Error[] = [];
    server.on("handshakeError", (error) => errors.push(error));
    const { head } = await exchange(t, port, upgradeRequest({ headers: { "Sec-WebSocket-Protocol": "a" } }));
    assert.equal(head.statusLine, "HTTP/1.1 500 Internal Server Error");
    assert.equal(errors.length, 1);
  });
});
