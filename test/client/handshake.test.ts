import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import { WebSocket, type WebSocketOptions } from "../../src/index.js";
import {
  acceptFor,
  closeBody,
  connect,
  frame,
  next,
  peerServer,
  rawServer,
  record,
  type SocketReader,
  switchingProtocols,
  within,
} from "./helpers.js";

// WHATWG Fetch "establish a WebSocket connection" (the request) and RFC 6455 §4.1 client-side validation of
// the response, plus the WebSockets Standard's extra rules (no redirects; protocol offered ⇒ one selected).
// Requests are checked as the npm `ws` server receives them; responses are written by hand by raw servers.

type Req = Awaited<ReturnType<SocketReader["readRequest"]>>;

/**
 * Connects to a raw server that answers with `respond`, and checks the connection fails the way the
 * standard says: no open, error then close 1006 (wasClean false), readyState CLOSED, socket closed.
 */
async function expectFailure(
  t: Parameters<typeof connect>[0],
  respond: (reader: SocketReader, request: Req) => void,
  protocols?: string | string[],
  options?: WebSocketOptions,
): Promise<void> {
  const raw = await rawServer(t);
  const ws = connect(t, raw.url, protocols, options);
  const { log, closed } = record(ws);
  const reader = await raw.nextConnection();
  const request = await reader.readRequest();
  respond(reader, request);
  const event = await within(closed, 3000, "close");
  assert.deepEqual(
    log.map((e) => [e.type, e.readyState]),
    [
      ["error", 3],
      ["close", 3],
    ],
  );
  assert.deepEqual([event.code, event.reason, event.wasClean], [1006, "", false]);
  assert.equal(ws.protocol, "");
  assert.equal(ws.extensions, "");
  await reader.waitEnd();
}

const keyOf = (request: Req) => request.headers["sec-websocket-key"];

describe("Fetch: the opening handshake request, as the ws server receives it", () => {
  test("GET over HTTP/1.1 with Upgrade, Connection, Sec-WebSocket-Key/Version, Host and no-cache", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, `${peer.url}/chat?room=a%20b`);
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.method, "GET");
    assert.equal(request.httpVersion, "1.1");
    assert.equal(request.url, "/chat?room=a%20b");
    const h = request.headers;
    assert.equal(h.upgrade, "websocket");
    assert.equal(h.connection, "Upgrade");
    assert.equal(h["sec-websocket-version"], "13");
    assert.match(h["sec-websocket-key"] ?? "", /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(Buffer.from(h["sec-websocket-key"]!, "base64").length, 16);
    assert.equal(h.host, `127.0.0.1:${peer.port}`);
    // Fetch: cache mode "no-store" appends Pragma and Cache-Control: no-cache.
    assert.equal(h["cache-control"], "no-cache");
    assert.equal(h.pragma, "no-cache");
    assert.equal(h.origin, undefined, "no Origin unless the origin option is given");
    assert.equal(h["sec-websocket-protocol"], undefined, "no protocol header without protocols");
    // Like Chromium, at most the permessage-deflate offer (RFC 7692 §7.1) is made by default.
    assert.ok(
      [undefined, "permessage-deflate; client_max_window_bits"].includes(h["sec-websocket-extensions"]),
      `unexpected default offer ${h["sec-websocket-extensions"]}`,
    );
  });

  test("extension: null offers no extension at all", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url, undefined, { extension: null });
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers["sec-websocket-extensions"], undefined);
    assert.equal(ws.extensions, "");
  });

  test("each connection uses a fresh random key (RFC 6455 §4.1 item 7)", async (t) => {
    const peer = await peerServer(t);
    const keys = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const ws = connect(t, peer.url);
      await next(ws, "open");
      keys.add((await peer.nextConnection()).request.headers["sec-websocket-key"]!);
    }
    assert.equal(keys.size, 5);
  });

  test("the origin option is sent as Origin", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url, undefined, { origin: "https://app.example" });
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers.origin, "https://app.example");
  });

  test("extra headers are sent as given", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url, undefined, {
      headers: { Authorization: "Bearer abc", "X-Trace": "  padded  ", "User-Agent": "sockjet-test" },
    });
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers.authorization, "Bearer abc");
    assert.equal(request.headers["x-trace"], "padded");
    assert.equal(request.headers["user-agent"], "sockjet-test");
  });

  test("headers as a Headers, [name, value] pairs or a Map are sent as undici sends them; a bad pair is a TypeError", async (t) => {
    const peer = await peerServer(t);
    const shapes = [
      new Headers({ Authorization: "Bearer h", "X-Trace": "one" }),
      [
        ["Authorization", "Bearer h"],
        ["X-Trace", "one"],
      ] as [string, string][],
      new Map([
        ["Authorization", "Bearer h"],
        ["X-Trace", "one"],
      ]),
    ];
    for (const headers of shapes) {
      const ws = connect(t, peer.url, undefined, { headers });
      await next(ws, "open");
      const { request } = await peer.nextConnection();
      assert.equal(request.headers.authorization, "Bearer h");
      assert.equal(request.headers["x-trace"], "one");
      assert.equal(request.headers["0"], undefined);
      ws.close();
    }
    // A name given twice is one field, its values joined (Fetch's append).
    const twice = connect(t, peer.url, undefined, {
      headers: [
        ["X-Tag", "a"],
        ["x-tag", "b"],
      ],
    });
    await next(twice, "open");
    assert.equal((await peer.nextConnection()).request.headers["x-tag"], "a, b");
    twice.close();
    for (const headers of [[["Authorization"]], [["a", "b", "c"]], ["Authorization: x"], [5]]) {
      assert.throws(() => new WebSocket(peer.url, undefined, { headers: headers as never }), {
        name: "TypeError",
        message: /options\.headers: each item must be a \[name, value\] pair/,
      });
    }
  });

  test("credentials in the URL are sent as Basic authorization (WPT websockets/basic-auth.any.js)", async (t) => {
    const peer = await peerServer(t, {
      verifyClient: (info: { req: { headers: { authorization?: string } } }) =>
        info.req.headers.authorization === `Basic ${Buffer.from("foo:bar").toString("base64")}`,
    });
    const ws = connect(t, `ws://foo:bar@127.0.0.1:${peer.port}/basic_auth`);
    assert.equal(ws.url, `ws://foo:bar@127.0.0.1:${peer.port}/basic_auth`);
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers.host, `127.0.0.1:${peer.port}`, "no credentials in Host");
    // Percent-encoded characters are decoded before encoding (as Node's url.urlToHttpOptions does).
    const ws2 = connect(t, `ws://us%40er:p%3Ass@127.0.0.1:${peer.port}/`);
    const { types, closed } = record(ws2);
    await within(closed, 3000, "close (wrong credentials are refused by the server)");
    assert.deepEqual(types(), ["error", "close"]);
    const peer2 = await peerServer(t);
    const ws3 = connect(t, `ws://us%40er:p%3Ass@127.0.0.1:${peer2.port}/`);
    await next(ws3, "open");
    const auth = (await peer2.nextConnection()).request.headers.authorization ?? "";
    assert.equal(Buffer.from(auth.replace(/^Basic /, ""), "base64").toString(), "us@er:p:ss");
  });

  test("an Authorization header given in headers wins over URL credentials", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, `ws://foo:bar@127.0.0.1:${peer.port}/`, undefined, {
      headers: { authorization: "Bearer token" },
    });
    await next(ws, "open");
    assert.equal((await peer.nextConnection()).request.headers.authorization, "Bearer token");
  });

  test("a user Cache-Control or Pragma replaces the default instead of being sent twice (Fetch: append if absent)", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url, undefined, { headers: { "cache-control": "max-age=0", PRAGMA: "x" } });
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers["cache-control"], "max-age=0");
    assert.equal(request.headers.pragma, "x");
  });

  test("an Origin in headers and the origin option: the option wins, sent once", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url, undefined, {
      origin: "https://option.example",
      headers: { origin: "https://header.example" },
    });
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers.origin, "https://option.example");
    const ws2 = connect(t, peer.url, undefined, { headers: { Origin: "https://header.example" } });
    await next(ws2, "open");
    assert.equal((await peer.nextConnection()).request.headers.origin, "https://header.example");
  });

  test("CR, LF or NUL in a header value throws a TypeError at construction; nothing is sent", async (t) => {
    const raw = await rawServer(t);
    for (const value of ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\u0000b"]) {
      assert.throws(() => new WebSocket(raw.url, undefined, { headers: { "X-Test": value } }), TypeError);
    }
    assert.throws(() => new WebSocket(raw.url, undefined, { origin: "http://a\r\nX: y" }), TypeError);
    await assert.rejects(raw.nextConnection(100), /timed out/);
  });

  test("reserved or invalid header names throw a TypeError at construction (any case)", async (t) => {
    const raw = await rawServer(t);
    for (const name of [
      "Sec-WebSocket-Key",
      "sec-websocket-version",
      "SEC-WEBSOCKET-PROTOCOL",
      "Sec-WebSocket-Extensions",
      "Sec-WebSocket-Accept",
      "Upgrade",
      "connection",
      "Host",
      "Content-Length",
      "Transfer-Encoding",
      "bad name",
      "",
      "x:y",
      "caf\u00e9",
    ]) {
      assert.throws(
        () => new WebSocket(raw.url, undefined, { headers: { [name]: "v" } }),
        TypeError,
        `header ${JSON.stringify(name)}`,
      );
    }
    await assert.rejects(raw.nextConnection(100), /timed out/);
  });
});

describe("RFC 6455 §4.1 / WHATWG: the response is validated, any violation fails the connection", () => {
  test("101 with a wrong Sec-WebSocket-Accept", async (t) => {
    await expectFailure(t, (reader) => {
      reader.socket.write(switchingProtocols("dGhlIHNhbXBsZSBub25jZQ=="));
    });
  });

  test("101 without Sec-WebSocket-Accept", async (t) => {
    await expectFailure(t, (reader) => {
      reader.socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      );
    });
  });

  test("101 with the accept of a different key", async (t) => {
    await expectFailure(t, (reader, request) => {
      const other = Buffer.from(keyOf(request), "base64");
      other[0] ^= 1;
      reader.socket.write(
        [
          "HTTP/1.1 101 Switching Protocols",
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Accept: ${acceptFor(other.toString("base64"))}`,
          "",
          "",
        ].join("\r\n"),
      );
    });
  });

  test("101 with Upgrade: h2c instead of websocket", async (t) => {
    await expectFailure(t, (reader, request) => {
      reader.socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(keyOf(request))}\r\n\r\n`,
      );
    });
  });

  test("101 without Upgrade and Connection headers fails at once (not after the handshake timeout)", async (t) => {
    await expectFailure(t, (reader, request) => {
      reader.socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: ${acceptFor(keyOf(request))}\r\n\r\n`,
      );
    });
  });

  test("101 without Connection: Upgrade", async (t) => {
    await expectFailure(t, (reader, request) => {
      reader.socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${acceptFor(keyOf(request))}\r\n\r\n`,
      );
    });
  });

  test("a subprotocol the client did not request (none offered)", async (t) => {
    await expectFailure(t, (reader, request) => {
      reader.socket.write(switchingProtocols(keyOf(request), ["Sec-WebSocket-Protocol: chat"]));
    });
  });

  test("a subprotocol that is not among those offered", async (t) => {
    await expectFailure(
      t,
      (reader, request) => {
        assert.equal(request.headers["sec-websocket-protocol"], "a, b");
        reader.socket.write(switchingProtocols(keyOf(request), ["Sec-WebSocket-Protocol: c"]));
      },
      ["a", "b"],
    );
  });

  test("a subprotocol that differs from the offered one only in case (names are compared exactly)", async (t) => {
    await expectFailure(
      t,
      (reader, request) => {
        reader.socket.write(switchingProtocols(keyOf(request), ["Sec-WebSocket-Protocol: Chat"]));
      },
      "chat",
    );
  });

  test("two Sec-WebSocket-Protocol values in the response", async (t) => {
    await expectFailure(
      t,
      (reader, request) => {
        reader.socket.write(switchingProtocols(keyOf(request), ["Sec-WebSocket-Protocol: a, b"]));
      },
      ["a", "b"],
    );
  });

  test("a response head larger than maxHeaderBytes", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url, undefined, { maxHeaderBytes: 4096 });
    const { types, closed } = record(ws);
    let error: { code?: string; message?: string } | undefined;
    ws.addEventListener("error", (event) => (error = (event as { error?: typeof error }).error));
    const reader = await raw.nextConnection();
    const request = await reader.readRequest();
    reader.socket.write(switchingProtocols(keyOf(request), [`X-Padding: ${"p".repeat(8192)}`]));
    const event = await within(closed, 3000, "close");
    assert.deepEqual(types(), ["error", "close"]);
    assert.equal(event.code, 1006);
    // The error names the option, not Node's "Parse Error: Header overflow" (review 132).
    assert.equal(error?.code, "SJ_ERR_INVALID_HANDSHAKE");
    assert.match(error?.message ?? "", /head over 4096 bytes \(the maxHeaderBytes option/);
  });

  test("no subprotocol in the response when one was offered (WHATWG)", async (t) => {
    await expectFailure(
      t,
      (reader, request) => {
        reader.socket.write(switchingProtocols(keyOf(request)));
      },
      "chat",
    );
  });

  test("an extension the client did not offer", async (t) => {
    await expectFailure(t, (reader, request) => {
      assert.ok(!(request.headers["sec-websocket-extensions"] ?? "").includes("x-unoffered"));
      reader.socket.write(switchingProtocols(keyOf(request), ["Sec-WebSocket-Extensions: x-unoffered"]));
    });
  });

  test("permessage-deflate in the response when no extension was offered (extension: null)", async (t) => {
    await expectFailure(
      t,
      (reader, request) => {
        assert.equal(request.headers["sec-websocket-extensions"], undefined);
        reader.socket.write(
          switchingProtocols(keyOf(request), ["Sec-WebSocket-Extensions: permessage-deflate"]),
        );
      },
      undefined,
      { extension: null },
    );
  });

  for (const status of [301, 302, 303, 307, 308]) {
    test(`a ${status} redirect is not followed (Fetch redirect mode "error")`, async (t) => {
      const target = await peerServer(t);
      await expectFailure(t, (reader) => {
        reader.socket.write(
          `HTTP/1.1 ${status} Moved\r\nLocation: ${target.url.replace("ws:", "http:")}/\r\nContent-Length: 0\r\n\r\n`,
        );
      });
      await assert.rejects(target.nextConnection(100), /timed out/, "the redirect target is never contacted");
    });
  }

  for (const status of [200, 204, 400, 401, 403, 404, 426, 500, 503]) {
    test(`a ${status} response`, async (t) => {
      await expectFailure(t, (reader) => {
        reader.socket.write(`HTTP/1.1 ${status} Nope\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!`);
      });
    });
  }

  test("a response that is not HTTP", async (t) => {
    await expectFailure(t, (reader) => {
      reader.socket.end("SSH-2.0-OpenSSH_9.6\r\n\r\n");
    });
  });

  test("the TCP connection reset in the middle of the response", async (t) => {
    await expectFailure(t, (reader) => {
      reader.socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs", () => {
        setTimeout(() => reader.socket.resetAndDestroy(), 10);
      });
    });
  });

  test("the server closing the connection before answering", async (t) => {
    await expectFailure(t, (reader) => {
      reader.socket.end();
    });
  });

  test("a server that never answers: handshakeTimeoutMs fails the connection and closes the socket", async (t) => {
    const raw = await rawServer(t);
    const started = Date.now();
    const ws = connect(t, raw.url, undefined, { handshakeTimeoutMs: 300 });
    const { types, closed } = record(ws);
    const reader = await raw.nextConnection();
    await reader.readRequest();
    const event = await within(closed, 3000, "close after the handshake timeout");
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250, `not before the timeout (${elapsed} ms)`);
    assert.deepEqual(types(), ["error", "close"]);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    await reader.waitEnd();
  });

  test("a connection refused: error then close 1006", async (t) => {
    // A port that was just free: listen on port 0, take the number, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const ws = connect(t, `ws://127.0.0.1:${port}/`);
    const { types, closed } = record(ws);
    const event = await within(closed, 3000, "close");
    assert.deepEqual(types(), ["error", "close"]);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
  });
});

describe("a valid response establishes the connection", () => {
  test("header values are matched case-insensitively; Connection may list other tokens", async (t) => {
    const raw = await rawServer(t, async (reader) => {
      const request = await reader.readRequest();
      reader.socket.write(
        [
          "HTTP/1.1 101 Web Socket Protocol Handshake",
          "upgrade: WebSocket",
          "CONNECTION: keep-alive, UPGRADE",
          `sec-websocket-accept: ${acceptFor(keyOf(request))}`,
          "",
          "",
        ].join("\r\n"),
      );
    });
    const ws = connect(t, raw.url);
    await next(ws, "open");
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test("the selected subprotocol becomes protocol; extensions stays empty without extensions", async (t) => {
    const raw = await rawServer(t, async (reader) => {
      const request = await reader.readRequest();
      reader.socket.write(switchingProtocols(keyOf(request), ["Sec-WebSocket-Protocol: v2"]));
    });
    const ws = connect(t, raw.url, ["v1", "v2"]);
    assert.equal(ws.protocol, "", "empty until open");
    await next(ws, "open");
    assert.equal(ws.protocol, "v2");
    assert.equal(ws.extensions, "");
  });

  test("frames in the same TCP write as the 101 are delivered after open, in order", async (t) => {
    const raw = await rawServer(t, async (reader) => {
      const request = await reader.readRequest();
      reader.socket.write(
        Buffer.concat([
          Buffer.from(switchingProtocols(keyOf(request))),
          frame(0x1, "first"),
          frame(0x2, Buffer.from([1, 2, 3])),
          frame(0x1, "third"),
        ]),
      );
    });
    const ws = connect(t, raw.url);
    ws.binaryType = "arraybuffer";
    const { log } = record(ws);
    await next(ws, "open");
    const deadline = Date.now() + 3000;
    while (log.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      log.map((e) => [e.type, e.readyState]),
      [
        ["open", 1],
        ["message", 1],
        ["message", 1],
        ["message", 1],
      ],
    );
    assert.equal(log[1].data, "first");
    assert.deepEqual([...new Uint8Array(log[2].data as ArrayBuffer)], [1, 2, 3]);
    assert.equal(log[3].data, "third");
  });

  test("101 + message + Close in one write: open, message, close with the code, in that order", async (t) => {
    const raw = await rawServer(t, async (reader) => {
      const request = await reader.readRequest();
      reader.socket.write(
        Buffer.concat([
          Buffer.from(switchingProtocols(keyOf(request))),
          frame(0x1, "only"),
          frame(0x8, closeBody(4002, "short visit")),
        ]),
      );
      await reader.readFrame();
      reader.socket.end();
    });
    const ws = connect(t, raw.url);
    const { log, closed } = record(ws);
    const event = await within(closed, 3000, "close");
    assert.deepEqual(
      log.map((e) => e.type),
      ["open", "message", "close"],
    );
    assert.deepEqual([event.code, event.reason, event.wasClean], [4002, "short visit", true]);
  });

  test("close() inside the open handler: the messages that came with the 101 are not delivered", async (t) => {
    const raw = await rawServer(t, async (reader) => {
      const request = await reader.readRequest();
      reader.socket.write(Buffer.concat([Buffer.from(switchingProtocols(keyOf(request))), frame(0x1, "m")]));
      const close = await reader.readFrame();
      reader.socket.write(frame(0x8, close.payload));
      reader.socket.end();
    });
    const ws = connect(t, raw.url);
    const { types, closed } = record(ws);
    ws.onopen = () => ws.close(1000);
    await within(closed, 3000, "close");
    assert.deepEqual(types(), ["open", "close"]);
  });
});
