import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import {
  acceptHandshake,
  collectingServer,
  connect,
  delay,
  frame,
  next,
  rawServer,
  record,
  type SocketReader,
  until,
  within,
} from "./helpers.js";

// WHATWG WebSockets §3 "The close(code, reason) method" and "close the WebSocket": WebIDL conversion
// ([Clamp] unsigned short, USVString), InvalidAccessError/SyntaxError, the Close frame put on the wire
// (checked byte by byte at a raw server), and the state machine around it.

function assertDOMException(fn: () => unknown, name: string, message?: string): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof DOMException && err.name === name,
    message ?? `expected a ${name} DOMException`,
  );
}

/** A raw server that completes the handshake and hands the reader to the test. */
async function openRaw(t: Parameters<typeof connect>[0]) {
  const raw = await rawServer(t);
  const ws = connect(t, raw.url);
  const reader = await raw.nextConnection();
  await acceptHandshake(reader);
  await next(ws, "open");
  return { ws, reader };
}

/** Reads the client's Close frame, checks its framing (§5.2, §5.3, §5.5) and returns its payload. */
async function readClose(reader: SocketReader): Promise<Buffer> {
  const f = await reader.readFrame();
  assert.equal(f.opcode, 0x8, "opcode Close");
  assert.equal(f.fin, true, "FIN set");
  assert.equal(f.masked, true, "a client masks every frame (§5.3)");
  assert.equal(f.raw[0], 0x88);
  assert.equal(f.raw[1], 0x80 | f.payload.length);
  assert.equal(f.raw.length, 2 + 4 + f.payload.length);
  return f.payload;
}

describe("close(): code validation (InvalidAccessError) and [Clamp] conversion", () => {
  test("codes other than 1000 and 3000–4999 throw an InvalidAccessError DOMException", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    for (const code of [0, 999, 1001, 1002, 1003, 1005, 1006, 1011, 1015, 2000, 2999, 5000, 65535]) {
      assertDOMException(() => ws.close(code), "InvalidAccessError", `close(${code})`);
    }
    // [Clamp]: -1 → 0, NaN → 0, Infinity → 65535, 4999.6 → 5000, 70000 → 65535: all invalid.
    for (const code of [-1, Number.NaN, Number.POSITIVE_INFINITY, 4999.6, 70_000, "abc", {}]) {
      assertDOMException(() => ws.close(code as number), "InvalidAccessError", `close(${String(code)})`);
    }
    assert.equal(ws.readyState, WebSocket.OPEN, "a throwing close() changes nothing");
    ws.send("still open");
    await until(() => peer.received.length === 1, 3000, "a message after the failed close() calls");
  });

  test("a Symbol or a BigInt code throws a TypeError (WebIDL ToNumber)", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    assert.throws(() => ws.close(Symbol("c") as unknown as number), TypeError);
    assert.throws(() => ws.close(1000n as unknown as number), TypeError);
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test("[Clamp] rounds to the nearest integer, ties to even: the server receives the rounded code", async (t) => {
    const peer = await collectingServer(t);
    const cases: [unknown, number][] = [
      [1000.4, 1000],
      [999.6, 1000],
      [2999.5, 3000],
      [3000.5, 3000],
      [3001.5, 3002],
      ["3003", 3003],
      [4999.4, 4999],
      [{ valueOf: () => 4000 }, 4000],
    ];
    const sockets = cases.map(() => connect(t, peer.url));
    await Promise.all(sockets.map((ws) => next(ws, "open")));
    // One at a time, so the server's close events come in the same order.
    for (let i = 0; i < cases.length; i++) {
      const closed = next(sockets[i], "close");
      sockets[i].close(cases[i][0] as number);
      await closed;
      await until(() => peer.closes.length === i + 1, 3000, `server close ${i + 1}`);
    }
    assert.deepEqual(
      peer.closes.map((c) => c.code),
      cases.map((c) => c[1]),
    );
  });
});

describe("close(): reason validation (SyntaxError, counted in UTF-8 bytes)", () => {
  test("a reason of exactly 123 bytes is sent; 124 throws a SyntaxError", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    assertDOMException(() => ws.close(1000, "x".repeat(124)), "SyntaxError");
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close(1000, "x".repeat(123));
    await next(ws, "close");
    await until(() => peer.closes.length === 1, 3000, "the server's close");
    assert.deepEqual(peer.closes[0], { code: 1000, reason: "x".repeat(123) });
  });

  test("multi-byte characters count by their UTF-8 bytes, not by UTF-16 code units", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    assertDOMException(() => ws.close(1000, "é".repeat(62)), "SyntaxError", "62 × 2 bytes = 124");
    assertDOMException(() => ws.close(1000, "😀".repeat(31)), "SyntaxError", "31 × 4 bytes = 124");
    assertDOMException(() => ws.close(1000, "€".repeat(42)), "SyntaxError", "42 × 3 bytes = 126");
    // 41 × 3 bytes = 123 (41 UTF-16 code units, far below 123 characters… and exactly at the limit in bytes).
    ws.close(4000, "€".repeat(41));
    await next(ws, "close");
    await until(() => peer.closes.length === 1, 3000, "the server's close");
    assert.deepEqual(peer.closes[0], { code: 4000, reason: "€".repeat(41) });
  });

  test("a lone surrogate becomes U+FFFD (USVString) and counts as 3 bytes", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    assertDOMException(() => ws.close(1000, `${"€".repeat(41)}\uD800`), "SyntaxError", "123 + 3 bytes");
    ws.close(1000, `${"€".repeat(40)}\uD800`);
    await next(ws, "close");
    await until(() => peer.closes.length === 1, 3000, "the server's close");
    assert.deepEqual(peer.closes[0], { code: 1000, reason: `${"€".repeat(40)}\uFFFD` });
  });

  test("both arguments are converted before any check: a throwing reason wins over a bad code", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    const order: string[] = [];
    const failing = {
      toString() {
        order.push("reason");
        throw new Error("reason conversion");
      },
    };
    const code = {
      valueOf() {
        order.push("code");
        return 999;
      },
    };
    assert.throws(
      () => ws.close(code as unknown as number, failing as unknown as string),
      /reason conversion/,
    );
    assert.deepEqual(order, ["code", "reason"]);
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test("validation runs in every state: after CLOSED, bad arguments still throw; valid ones do nothing", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    await next(ws, "open");
    ws.close();
    await next(ws, "close");
    assertDOMException(() => ws.close(999), "InvalidAccessError");
    assertDOMException(() => ws.close(1000, "x".repeat(200)), "SyntaxError");
    ws.close(1000, "fine");
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });
});

describe("close the WebSocket: the Close frame on the wire", () => {
  test("close() with no arguments sends a masked Close frame with no body (88 80 + key)", async (t) => {
    const { ws, reader } = await openRaw(t);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const payload = await readClose(reader);
    assert.equal(payload.length, 0);
  });

  test("close(code) sends the 2-byte big-endian code and no reason bytes", async (t) => {
    const { ws, reader } = await openRaw(t);
    ws.close(3000);
    assert.equal((await readClose(reader)).toString("hex"), "0bb8");
  });

  test("close(code, reason) sends the code then the reason's UTF-8 bytes", async (t) => {
    const { ws, reader } = await openRaw(t);
    ws.close(4999, "bye ✓");
    assert.equal((await readClose(reader)).toString("hex"), `1387${Buffer.from("bye ✓").toString("hex")}`);
  });

  test("a reason without a code is sent with code 1000", async (t) => {
    const { ws, reader } = await openRaw(t);
    ws.close(undefined, "why");
    assert.equal((await readClose(reader)).toString("hex"), `03e8${Buffer.from("why").toString("hex")}`);
  });

  test("close(1000, '') sends code 1000 alone", async (t) => {
    const { ws, reader } = await openRaw(t);
    ws.close(1000, "");
    assert.equal((await readClose(reader)).toString("hex"), "03e8");
  });

  test("repeated close() is a no-op: one Close frame, the first one's code", async (t) => {
    const { ws, reader } = await openRaw(t);
    const { types, closed } = record(ws);
    ws.close(3000, "first");
    ws.close(3001, "second");
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const payload = await readClose(reader);
    assert.equal(payload.readUInt16BE(0), 3000);
    assert.equal(payload.subarray(2).toString(), "first");
    await delay(30);
    assert.equal(reader.pending.length, 0, "nothing after the first Close frame");
    reader.socket.write(frame(0x8, payload));
    reader.socket.end();
    const event = await within(closed, 3000, "close");
    assert.deepEqual([event.code, event.reason, event.wasClean], [3000, "first", true]);
    assert.deepEqual(types(), ["close"]);
  });

  test("the client waits for the server to close TCP after the Close exchange (RFC 6455 §7.1.1)", async (t) => {
    const { ws, reader } = await openRaw(t);
    const { closed } = record(ws);
    ws.close(1000);
    const payload = await readClose(reader);
    reader.socket.write(frame(0x8, payload));
    let closedEarly = false;
    void closed.then(() => (closedEarly = true));
    await delay(50);
    assert.equal(closedEarly, false, "close is not fired before the server closes TCP");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    reader.socket.end();
    const event = await within(closed, 3000, "close");
    assert.deepEqual([event.code, event.wasClean], [1000, true]);
  });

  test("the server's Close received but no FIN: closeTimeoutMs later, close with the server's code, wasClean true", async (t) => {
    const raw = await rawServer(t, undefined, { allowHalfOpen: true });
    const ws = connect(t, raw.url, undefined, { closeTimeoutMs: 200 });
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    await next(ws, "open");
    const { closed, types } = record(ws);
    reader.socket.write(frame(0x8, Buffer.from([0x0f, 0xa0, 0x68, 0x69]))); // 4000 "hi"
    const echo = await readClose(reader);
    assert.equal(echo.readUInt16BE(0), 4000, "the client echoes the status code (§5.5.1)");
    // The server keeps the TCP connection open: the client gives up after closeTimeoutMs (RFC 6455 §7.1.1).
    const event = await within(closed, 3000, "close after the close timeout");
    assert.deepEqual([event.code, event.reason, event.wasClean], [4000, "hi", true]);
    assert.deepEqual(types(), ["close"]);
  });

  test("a server that never answers the Close: closeTimeoutMs later, close 1006 and wasClean false", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url, undefined, { closeTimeoutMs: 200 });
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    await next(ws, "open");
    const { closed } = record(ws);
    const started = Date.now();
    ws.close(1000);
    await readClose(reader);
    const event = await within(closed, 3000, "close after the close timeout");
    assert.ok(Date.now() - started >= 150, "not before the timeout");
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    await reader.waitEnd();
  });

  test("close() while CONNECTING: the server sees the TCP connection dropped, no frame", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url);
    const reader = await raw.nextConnection();
    await reader.readRequest();
    const { types, closed } = record(ws);
    ws.close(1000, "never mind");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    await reader.waitEnd();
    assert.equal(reader.pending.length, 0);
    const event = await within(closed, 3000, "close");
    assert.deepEqual([event.code, event.reason, event.wasClean], [1006, "", false]);
    assert.deepEqual(types(), ["error", "close"]);
  });
});
