import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { describe, test } from "node:test";
import { WebSocket, type WebSocketOptions } from "../../src/index.js";
import {
  acceptHandshake,
  closeBody,
  connect,
  delay,
  frame,
  next,
  type RawServer,
  rawServer,
  record,
  type SocketReader,
  within,
} from "./helpers.js";

// Servers that break RFC 6455 after the handshake, on purpose. The client must fail the connection (§7.1.7):
// send a Close frame with the right status code (checked byte by byte), close the TCP connection without
// waiting for the server (Chromium does the same), and fire error then close 1006 with wasClean false.

async function openRaw(t: Parameters<typeof connect>[0], options?: WebSocketOptions) {
  // allowHalfOpen: the server does not answer the client's FIN with its own; only the test closes it.
  const raw: RawServer = await rawServer(t, undefined, { allowHalfOpen: true });
  const ws = connect(t, raw.url, undefined, options);
  const reader = await raw.nextConnection();
  await acceptHandshake(reader);
  const recorder = record(ws);
  await next(ws, "open");
  return { ws, reader, ...recorder };
}

/**
 * The client's Close frame: masked, FIN, opcode 8, a 2-byte code and a reason that says why (RFC 6455
 * §7.1.6: UTF-8, at most 123 bytes). Returns the code.
 */
async function readFailureClose(reader: SocketReader): Promise<number> {
  const f = await reader.readFrame();
  assert.equal(f.opcode, 0x8, `expected a Close frame, got opcode ${f.opcode}`);
  assert.equal(f.fin, true);
  assert.equal(f.masked, true, "client frames are masked (§5.3)");
  assert.ok(
    f.payload.length > 2 && f.payload.length <= 125,
    `a code and a reason, got ${f.payload.length} bytes`,
  );
  assert.ok(isUtf8(f.payload.subarray(2)), "the reason is UTF-8");
  // The exact bytes: 88 <80 | length> <key> <code and reason masked with the key>.
  const expected = Buffer.from([0x88, 0x80 | f.payload.length, ...f.mask!, ...f.payload]);
  for (let i = 0; i < f.payload.length; i++) expected[6 + i] ^= f.mask![i & 3];
  assert.equal(f.raw.toString("hex"), expected.toString("hex"));
  return f.payload.readUInt16BE(0);
}

/** After a failure: error then close 1006, not clean, and readyState CLOSED at both. */
async function assertFailed(recorder: Awaited<ReturnType<typeof openRaw>>): Promise<void> {
  const event = await within(recorder.closed, 2000, "close after the failure");
  const tail = recorder.log.slice(-2).map((e) => [e.type, e.readyState]);
  assert.deepEqual(tail, [
    ["error", 3],
    ["close", 3],
  ]);
  assert.deepEqual([event.code, event.reason, event.wasClean], [1006, "", false]);
  assert.equal(recorder.ws.readyState, WebSocket.CLOSED);
}

describe("RFC 6455 §5.1: a masked frame from the server", () => {
  test("client sends Close 1002 with a reason (masked), then error, close 1006, wasClean false", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(frame(0x1, "masked!", { mask: Buffer.from([1, 2, 3, 4]) }));
    assert.equal(await readFailureClose(c.reader), 1002);
    await assertFailed(c);
    assert.deepEqual(c.types(), ["open", "error", "close"], "the masked message is not delivered");
    await c.reader.waitEnd();
  });

  test("the client does not wait for the server to close TCP after failing (no 10 s close timeout)", async (t) => {
    const c = await openRaw(t);
    const started = Date.now();
    c.reader.socket.write(frame(0x2, Buffer.from([9]), { mask: Buffer.from([0, 0, 0, 0]) }));
    assert.equal(await readFailureClose(c.reader), 1002);
    // The server keeps its side open and never answers the Close.
    await assertFailed(c);
    assert.ok(Date.now() - started < 1500, `failed promptly (${Date.now() - started} ms)`);
    await c.reader.waitEnd();
  });

  test("messages received before the bad frame are delivered, in order", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(
      Buffer.concat([
        frame(0x1, "one"),
        frame(0x1, "two"),
        frame(0x1, "bad", { mask: Buffer.from([5, 6, 7, 8]) }),
      ]),
    );
    assert.equal(await readFailureClose(c.reader), 1002);
    await assertFailed(c);
    assert.deepEqual(
      c.log.map((e) => e.data ?? e.type),
      ["open", "one", "two", "error", "close"],
    );
  });
});

describe("RFC 6455 §8.1: invalid UTF-8 in a text message", () => {
  test("one frame with invalid UTF-8 → Close 1007", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(frame(0x1, Buffer.from([0x48, 0x69, 0xff, 0x21])));
    assert.equal(await readFailureClose(c.reader), 1007);
    await assertFailed(c);
    assert.deepEqual(c.types(), ["open", "error", "close"]);
  });

  test("an overlong encoding and a UTF-16 surrogate (ED A0 80) are invalid too → 1007", async (t) => {
    for (const bytes of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
    ]) {
      const c = await openRaw(t);
      c.reader.socket.write(frame(0x1, Buffer.from(bytes)));
      assert.equal(await readFailureClose(c.reader), 1007, Buffer.from(bytes).toString("hex"));
      await assertFailed(c);
    }
  });

  test("fail fast: an invalid first fragment fails before the message ends (§8.1)", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(frame(0x1, Buffer.from([0x61, 0xfe]), { fin: false }));
    assert.equal(await readFailureClose(c.reader), 1007);
    await assertFailed(c);
  });

  test("a character split across fragments is valid and delivered whole", async (t) => {
    const c = await openRaw(t);
    const euro = Buffer.from("€");
    c.reader.socket.write(
      Buffer.concat([
        frame(0x1, euro.subarray(0, 1), { fin: false }),
        frame(0x0, euro.subarray(1, 2), { fin: false }),
        frame(0x0, Buffer.concat([euro.subarray(2), Buffer.from("!")])),
      ]),
    );
    const message = await next<MessageEvent>(c.ws, "message");
    assert.equal(message.data, "€!");
  });

  test("a message ending in the middle of a character → 1007", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(frame(0x1, Buffer.from("€").subarray(0, 2)));
    assert.equal(await readFailureClose(c.reader), 1007);
    await assertFailed(c);
  });

  test("invalid UTF-8 in a Close reason → 1007", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(frame(0x8, Buffer.concat([closeBody(1000), Buffer.from([0xff])])));
    assert.equal(await readFailureClose(c.reader), 1007);
    await assertFailed(c);
  });
});

describe("RFC 6455 §5 framing violations → Close 1002", () => {
  const cases: [string, () => Buffer][] = [
    ["a reserved data opcode (0x3)", () => frame(0x3, "x")],
    ["a reserved control opcode (0xB)", () => frame(0xb)],
    ["RSV1 without a negotiated extension", () => frame(0x1, "x", { rsv1: true })],
    ["a fragmented Ping", () => frame(0x9, "p", { fin: false })],
    ["a Ping with 126 bytes of payload", () => frame(0x9, Buffer.alloc(126))],
    ["a continuation frame with no message started", () => frame(0x0, "x")],
    [
      "a new message inside a fragmented one",
      () => Buffer.concat([frame(0x1, "a", { fin: false }), frame(0x1, "b")]),
    ],
    ["a Close frame with a 1-byte payload", () => frame(0x8, Buffer.from([0x03]))],
    ["a Close frame with code 1005 on the wire", () => frame(0x8, closeBody(1005))],
    ["a Close frame with code 1006 on the wire", () => frame(0x8, closeBody(1006))],
    ["a Close frame with code 999", () => frame(0x8, closeBody(999))],
    ["a Close frame with reserved code 2000", () => frame(0x8, closeBody(2000))],
  ];
  for (const [name, bytes] of cases) {
    test(name, async (t) => {
      const c = await openRaw(t);
      c.reader.socket.write(bytes());
      assert.equal(await readFailureClose(c.reader), 1002);
      await assertFailed(c);
      assert.deepEqual(c.types(), ["open", "error", "close"]);
    });
  }

  test("a 64-bit length with the most significant bit set → 1002", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]));
    assert.equal(await readFailureClose(c.reader), 1002);
    await assertFailed(c);
  });
});

describe("the transport breaking", () => {
  test("a TCP reset in the middle of a frame: error then close 1006", async (t) => {
    const c = await openRaw(t);
    const partial = frame(0x2, Buffer.alloc(1000, 7)).subarray(0, 300);
    c.reader.socket.write(partial, () => setTimeout(() => c.reader.socket.resetAndDestroy(), 10));
    await assertFailed(c);
    assert.deepEqual(c.types(), ["open", "error", "close"]);
  });

  test("a FIN in the middle of a frame: error then close 1006", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.end(frame(0x1, "incomplete message").subarray(0, 6));
    await assertFailed(c);
    assert.deepEqual(c.types(), ["open", "error", "close"]);
  });

  test("a TCP reset right after open, with no frame: error then close 1006", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.resetAndDestroy();
    await assertFailed(c);
  });
});

describe("no listeners at all", () => {
  test("a connection failing with nobody listening neither throws nor crashes the process", async (t) => {
    const raw = await rawServer(t, async (reader) => {
      await acceptHandshake(reader);
      reader.socket.write(frame(0x1, Buffer.from([0xff])));
    });
    const ws = new WebSocket(raw.url); // no listener, no on* handler
    t.after(() => ws.terminate());
    await within(
      (async () => {
        while (ws.readyState !== WebSocket.CLOSED) await delay(5);
      })(),
      3000,
      "readyState CLOSED",
    );
    const aborted = new WebSocket(raw.url); // closed while CONNECTING, nobody listening
    aborted.close();
    await delay(50);
    assert.equal(aborted.readyState, WebSocket.CLOSED);
  });
});

describe("maxPayloadBytes (§10.4)", () => {
  test("a message of maxPayloadBytes + 1 → Close 1009 sent, close 1006 locally", async (t) => {
    const c = await openRaw(t, { maxPayloadBytes: 1000 });
    c.reader.socket.write(frame(0x2, Buffer.alloc(1000, 1)));
    const message = await next<MessageEvent>(c.ws, "message");
    assert.equal((await (message.data as Blob).arrayBuffer()).byteLength, 1000, "exactly the limit is fine");
    c.reader.socket.write(frame(0x2, Buffer.alloc(1001, 1)));
    assert.equal(await readFailureClose(c.reader), 1009);
    await assertFailed(c);
  });

  test("the limit applies to the whole message across fragments", async (t) => {
    const c = await openRaw(t, { maxPayloadBytes: 100 });
    c.reader.socket.write(
      Buffer.concat([frame(0x1, "a".repeat(60), { fin: false }), frame(0x0, "b".repeat(60), { fin: true })]),
    );
    assert.equal(await readFailureClose(c.reader), 1009);
    await assertFailed(c);
    assert.deepEqual(c.types(), ["open", "error", "close"]);
  });

  test("the limit is checked from the header, before the payload arrives", async (t) => {
    const c = await openRaw(t, { maxPayloadBytes: 1024 });
    // Only the header of a 1 GiB frame: the client must not wait for (or buffer) the payload.
    c.reader.socket.write(Buffer.from([0x82, 0x7f, 0, 0, 0, 0, 0x40, 0, 0, 0]));
    assert.equal(await readFailureClose(c.reader), 1009);
    await assertFailed(c);
  });
});

describe("control frames from the server", () => {
  test("a Ping is answered with a masked Pong carrying the same payload; no event", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(frame(0x9, "are you there?"));
    const pong = await c.reader.readFrame();
    assert.equal(pong.opcode, 0xa);
    assert.equal(pong.masked, true);
    assert.equal(pong.payload.toString(), "are you there?");
    await delay(20);
    assert.deepEqual(c.types(), ["open"]);
  });

  test("a Ping between fragments is answered and the message still arrives whole", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(
      Buffer.concat([frame(0x1, "frag", { fin: false }), frame(0x9, "x"), frame(0x0, "ment")]),
    );
    const message = next<MessageEvent>(c.ws, "message");
    const pong = await c.reader.readFrame();
    assert.equal(pong.opcode, 0xa);
    assert.equal((await message).data, "fragment");
  });

  test("an unsolicited Pong is ignored", async (t) => {
    const c = await openRaw(t);
    c.reader.socket.write(Buffer.concat([frame(0xa, "hb"), frame(0x1, "after pong")]));
    const message = await next<MessageEvent>(c.ws, "message");
    assert.equal(message.data, "after pong");
  });
});
