import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import { connect, delay, next, peerServer, rawServer, record, within } from "./helpers.js";

// WHATWG WebSockets Standard §3 "The WebSocket interface": the constructor, "get a URL record", and the
// WebIDL shape of the interface (constants, attributes, operations).

function assertDOMException(fn: () => unknown, name: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DOMException, `expected a DOMException, got ${String(err)}`);
    assert.equal(err.name, name);
    return true;
  });
}

describe("WebIDL shape of the WebSocket interface", () => {
  test("CONNECTING/OPEN/CLOSING/CLOSED are 0–3 on the class, the prototype and instances", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url);
    for (const [name, value] of [
      ["CONNECTING", 0],
      ["OPEN", 1],
      ["CLOSING", 2],
      ["CLOSED", 3],
    ] as const) {
      assert.equal(WebSocket[name], value, `WebSocket.${name}`);
      assert.equal(WebSocket.prototype[name], value, `WebSocket.prototype.${name}`);
      assert.equal(ws[name], value, `instance.${name}`);
      assert.equal(Object.hasOwn(ws, name), false, `${name} is inherited, not an own property`);
    }
  });

  test("constants are read-only, enumerable, non-configurable (WebIDL §3.7.5 constants)", () => {
    for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) {
      for (const [where, holder] of [
        ["WebSocket", WebSocket],
        ["WebSocket.prototype", WebSocket.prototype],
      ] as const) {
        const d = Object.getOwnPropertyDescriptor(holder, name);
        assert.ok(d, `${where}.${name} exists`);
        assert.equal(d.writable, false, `${where}.${name} writable`);
        assert.equal(d.enumerable, true, `${where}.${name} enumerable`);
        assert.equal(d.configurable, false, `${where}.${name} configurable`);
      }
    }
    assert.throws(() => {
      (WebSocket as unknown as { OPEN: number }).OPEN = 7;
    }, TypeError);
    assert.equal(WebSocket.OPEN, 1);
  });

  test("attributes are enumerable accessors on the prototype; send/close are enumerable operations", () => {
    const proto = WebSocket.prototype;
    for (const name of [
      "url",
      "readyState",
      "bufferedAmount",
      "extensions",
      "protocol",
      "binaryType",
      "onopen",
      "onmessage",
      "onerror",
      "onclose",
    ]) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      assert.ok(d?.get, `${name} has a getter`);
      assert.equal(d.enumerable, true, `${name} enumerable`);
      assert.equal(d.configurable, true, `${name} configurable`);
    }
    for (const name of ["readyState", "url", "bufferedAmount", "extensions", "protocol"]) {
      assert.equal(Object.getOwnPropertyDescriptor(proto, name)?.set, undefined, `${name} is read-only`);
    }
    for (const name of ["send", "close"]) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      assert.equal(typeof d?.value, "function");
      assert.equal(d?.enumerable, true, `${name} enumerable`);
    }
    assert.equal(Object.prototype.toString.call(proto), "[object WebSocket]");
    assert.ok(proto instanceof EventTarget);
  });

  test("WebIDL lengths: constructor 1, send 1, close 0", () => {
    assert.equal(WebSocket.length, 1);
    assert.equal(WebSocket.prototype.send.length, 1);
    assert.equal(WebSocket.prototype.close.length, 0);
  });

  test("calling WebSocket without new throws a TypeError", () => {
    assert.throws(() => (WebSocket as unknown as () => void)(), TypeError);
  });

  test("new WebSocket() with no argument throws a TypeError and connects nowhere", () => {
    assert.throws(() => new (WebSocket as unknown as new () => WebSocket)(), TypeError);
  });

  test("initial state: CONNECTING, bufferedAmount 0, extensions/protocol empty, binaryType blob", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.equal(ws.bufferedAmount, 0);
    assert.equal(ws.extensions, "");
    assert.equal(ws.protocol, "");
    assert.equal(ws.binaryType, "blob");
    assert.equal(ws.onopen, null);
    assert.equal(ws.onmessage, null);
    assert.equal(ws.onerror, null);
    assert.equal(ws.onclose, null);
    await next(ws, "open");
  });
});

describe("WebSockets §3 constructor: get a URL record", () => {
  test("url is the serialized URL record (scheme/host lowercased, path '/' added, spaces escaped)", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, `WS://127.0.0.1:${peer.port}`);
    assert.equal(ws.url, `ws://127.0.0.1:${peer.port}/`);
    const ws2 = connect(t, `ws://127.0.0.1:${peer.port}/a b/../c?x=1 2`);
    assert.equal(ws2.url, `ws://127.0.0.1:${peer.port}/c?x=1%202`);
    const { request } = await peer.nextConnection();
    const { request: request2 } = await peer.nextConnection();
    const paths = [request.url, request2.url].sort();
    assert.deepEqual(paths, ["/", "/c?x=1%202"]);
  });

  test("a URL object is accepted and serialized", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, new URL(`ws://127.0.0.1:${peer.port}/path?q`));
    assert.equal(ws.url, `ws://127.0.0.1:${peer.port}/path?q`);
    await next(ws, "open");
  });

  test("http: becomes ws: and the connection is made to the same host and port", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, `http://127.0.0.1:${peer.port}/chat`);
    assert.equal(ws.url, `ws://127.0.0.1:${peer.port}/chat`);
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.url, "/chat");
  });

  test("https: becomes wss:", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, `https://127.0.0.1:${raw.port}/x`);
    assert.equal(ws.url, `wss://127.0.0.1:${raw.port}/x`);
    ws.close();
  });

  test("a default port is dropped from url (http://host:80 → ws://host/)", () => {
    // No connection is awaited: close() before the connection attempt can complete.
    const ws = new WebSocket("http://127.0.0.1:80/");
    assert.equal(ws.url, "ws://127.0.0.1/");
    ws.close();
    const wss = new WebSocket("https://127.0.0.1:443/");
    assert.equal(wss.url, "wss://127.0.0.1/");
    wss.close();
  });

  test("relative URLs resolve against the baseURL option", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, "../chat?room=1", undefined, {
      baseURL: `http://127.0.0.1:${peer.port}/app/page/`,
    });
    assert.equal(ws.url, `ws://127.0.0.1:${peer.port}/app/chat?room=1`);
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.url, "/app/chat?room=1");
    const ws2 = connect(t, "/root", undefined, { baseURL: new URL(`https://example.invalid/x`) });
    assert.equal(ws2.url, "wss://example.invalid/root");
    ws2.close();
  });

  test("a relative URL without baseURL throws a SyntaxError DOMException", () => {
    for (const url of ["/chat", "chat", "//127.0.0.1/x", ""]) {
      assertDOMException(() => new WebSocket(url), "SyntaxError");
    }
  });

  test("unparsable URLs throw a SyntaxError DOMException", () => {
    for (const url of ["ws://", "ws://exa mple.com/", "ws://[::1/", "ws://127.0.0.1:99999/", "not a url"]) {
      assertDOMException(() => new WebSocket(url), "SyntaxError");
    }
  });

  test("schemes other than ws/wss/http/https throw a SyntaxError DOMException, and nothing connects", async (t) => {
    const raw = await rawServer(t);
    for (const url of [
      `ftp://127.0.0.1:${raw.port}/`,
      `file:///tmp/x`,
      `data:,hello`,
      `javascript:alert(1)`,
      `mailto:a@b.c`,
      `about:blank`,
      `blob:http://127.0.0.1:${raw.port}/uuid`,
      `wss+unix://x`,
      `httpx://127.0.0.1:${raw.port}/`,
    ]) {
      assertDOMException(() => new WebSocket(url), "SyntaxError");
    }
    await assert.rejects(raw.nextConnection(100), /timed out/);
  });

  test("fragments throw a SyntaxError DOMException, even an empty one (a bare #)", async (t) => {
    const raw = await rawServer(t);
    for (const url of [
      `ws://127.0.0.1:${raw.port}/#`,
      `ws://127.0.0.1:${raw.port}/#frag`,
      `ws://127.0.0.1:${raw.port}/path?q=1#`,
      `ws://127.0.0.1:${raw.port}#x`,
      `http://127.0.0.1:${raw.port}/#top`,
    ]) {
      assertDOMException(() => new WebSocket(url), "SyntaxError");
    }
    assertDOMException(
      () => new WebSocket("#x", undefined, { baseURL: `ws://127.0.0.1:${raw.port}/` }),
      "SyntaxError",
    );
    assertDOMException(
      () => new WebSocket("?a#", undefined, { baseURL: `ws://127.0.0.1:${raw.port}/` }),
      "SyntaxError",
    );
    await assert.rejects(raw.nextConnection(100), /timed out/);
  });

  test("an escaped # (%23) is not a fragment", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, `ws://127.0.0.1:${peer.port}/a%23b`);
    assert.equal(ws.url, `ws://127.0.0.1:${peer.port}/a%23b`);
    await next(ws, "open");
  });
});

describe("WebSockets §3 constructor: protocols", () => {
  test("a string is a one-element sequence: sent as Sec-WebSocket-Protocol, selected as protocol", async (t) => {
    const peer = await peerServer(t, { handleProtocols: (protocols) => [...protocols][0] ?? false });
    const ws = connect(t, peer.url, "chat.v1");
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers["sec-websocket-protocol"], "chat.v1");
    assert.equal(ws.protocol, "chat.v1");
  });

  test("a sequence is sent in order, comma-separated; the server's choice becomes protocol", async (t) => {
    const peer = await peerServer(t, { handleProtocols: () => "b" });
    const ws = connect(t, peer.url, ["a", "b", "c"]);
    await next(ws, "open");
    const { request } = await peer.nextConnection();
    assert.equal(request.headers["sec-websocket-protocol"], "a, b, c");
    assert.equal(ws.protocol, "b");
  });

  test("any iterable is a sequence (Set, generator); an empty one sends no header", async (t) => {
    const peer = await peerServer(t, { handleProtocols: (protocols) => [...protocols][0] ?? false });
    const a = connect(t, peer.url, new Set(["x", "y"]) as unknown as string[]);
    function* gen() {
      yield "z";
    }
    const b = connect(t, peer.url, gen() as unknown as string[]);
    const c = connect(t, peer.url, []);
    await Promise.all([next(a, "open"), next(b, "open"), next(c, "open")]);
    const seen = [];
    for (let i = 0; i < 3; i++)
      seen.push((await peer.nextConnection()).request.headers["sec-websocket-protocol"]);
    assert.deepEqual(seen.map(String).sort(), ["undefined", "x, y", "z"]);
    assert.equal(c.protocol, "");
  });

  test("invalid tokens throw a SyntaxError DOMException (RFC 6455 §4.1: 1*token)", async (t) => {
    const raw = await rawServer(t);
    for (const protocols of [
      "",
      "a b",
      "a,b",
      "a;b",
      "a/b",
      "(x)",
      "caf\u00e9",
      "\u0000",
      "tab\there",
      ["ok", ""],
      ["ok", "not ok"],
      ['"quoted"'],
    ]) {
      assertDOMException(() => new WebSocket(raw.url, protocols), "SyntaxError");
    }
    await assert.rejects(raw.nextConnection(100), /timed out/);
  });

  test("duplicates throw a SyntaxError DOMException", () => {
    assertDOMException(() => new WebSocket("ws://127.0.0.1:1/", ["echo", "echo"]), "SyntaxError");
    assertDOMException(() => new WebSocket("ws://127.0.0.1:1/", ["a", "b", "a"]), "SyntaxError");
  });

  test("duplicates differing only in case throw a SyntaxError (WPT Create-protocols-repeated-case-insensitive)", () => {
    assertDOMException(() => new WebSocket("ws://127.0.0.1:1/", ["echo", "eCho"]), "SyntaxError");
  });

  test("a non-iterable object is converted to a string (WebIDL union) and '[object Object]' is no token", () => {
    // WebIDL §3.2.24 (ES → union): an object without @@iterator is not a sequence; the union's DOMString
    // member takes it, so {} becomes "[object Object]", which fails the token check: SyntaxError.
    assertDOMException(() => new WebSocket("ws://127.0.0.1:1/", {} as unknown as string), "SyntaxError");
    assertDOMException(
      () => new WebSocket("ws://127.0.0.1:1/", { length: 1, 0: "a" } as unknown as string),
      "SyntaxError",
    );
  });

  test("a non-iterable object whose toString gives a token is that protocol (WebIDL union)", async (t) => {
    const peer = await peerServer(t, { handleProtocols: (protocols) => [...protocols][0] ?? false });
    const ws = connect(t, peer.url, { toString: () => "chat" } as unknown as string);
    await next(ws, "open");
    assert.equal(ws.protocol, "chat");
  });

  test("null is the string 'null' (not an object for WebIDL)", async (t) => {
    const peer = await peerServer(t, { handleProtocols: (protocols) => [...protocols][0] ?? false });
    const ws = connect(t, peer.url, null as unknown as string);
    await next(ws, "open");
    assert.equal(ws.protocol, "null");
  });

  test("a non-callable @@iterator, or a Symbol in the sequence, throws a TypeError", () => {
    assert.throws(
      () => new WebSocket("ws://127.0.0.1:1/", { [Symbol.iterator]: 5 } as unknown as string),
      TypeError,
    );
    assert.throws(() => new WebSocket("ws://127.0.0.1:1/", [Symbol("x")] as unknown as string[]), TypeError);
    assert.throws(() => new WebSocket("ws://127.0.0.1:1/", Symbol("x") as unknown as string), TypeError);
  });

  test("argument conversion (TypeError) happens before URL parsing (SyntaxError)", () => {
    assert.throws(() => new WebSocket("ftp://x/", [Symbol("x")] as unknown as string[]), TypeError);
  });

  test("the constructor throws synchronously: a failed construction fires no event later", async (t) => {
    const raw = await rawServer(t);
    let thrown = false;
    try {
      new WebSocket(raw.url, ["a", "a"]);
    } catch {
      thrown = true;
    }
    assert.ok(thrown);
    await assert.rejects(raw.nextConnection(100), /timed out/);
  });

  test("a valid construction does not fire anything synchronously", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url);
    const { log } = record(ws);
    assert.equal(log.length, 0);
    await within(next(ws, "open"), 3000, "open");
    await delay(10);
    assert.deepEqual(
      log.map((e) => e.type),
      ["open"],
    );
  });
});
