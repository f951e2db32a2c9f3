import assert from "node:assert/strict";
import { mkdtempSync, openAsBlob, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import {
  acceptHandshake,
  collectingServer,
  connect,
  delay,
  echoServer,
  frame,
  next,
  rawServer,
  record,
  until,
  within,
} from "./helpers.js";

// WHATWG WebSockets §3 "The send(data) method" and "bufferedAmount", checked at an independent peer (the npm
// `ws` server): bytes, message types and order as they arrive on the wire.

async function openClient(t: Parameters<typeof connect>[0]) {
  const peer = await collectingServer(t);
  const ws = connect(t, peer.url);
  await next(ws, "open");
  return { peer, ws };
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

describe("send(): WebIDL conversion and state checks", () => {
  test("send() with no argument throws a TypeError (also while CONNECTING: conversion comes first)", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    assert.throws(() => (ws.send as () => void)(), TypeError);
    await next(ws, "open");
    assert.throws(() => (ws.send as () => void)(), TypeError);
  });

  test("send() while CONNECTING throws an InvalidStateError DOMException and buffers nothing", async (t) => {
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    for (const data of ["text", new ArrayBuffer(4), new Uint8Array(4), new Blob(["x"])]) {
      assert.throws(
        () => ws.send(data),
        (err: unknown) => err instanceof DOMException && err.name === "InvalidStateError",
      );
    }
    assert.equal(ws.bufferedAmount, 0);
    await next(ws, "open");
    await delay(20);
    assert.equal(peer.received.length, 0);
  });

  test("a Symbol throws a TypeError", async (t) => {
    const { ws } = await openClient(t);
    assert.throws(() => ws.send(Symbol("x") as unknown as string), TypeError);
  });

  test("a SharedArrayBuffer, or a view on one, throws a TypeError (BufferSource is not [AllowShared])", async (t) => {
    const { ws, peer } = await openClient(t);
    const shared = new SharedArrayBuffer(4);
    assert.throws(() => ws.send(shared as unknown as ArrayBuffer), TypeError);
    assert.throws(() => ws.send(new Uint8Array(shared)), TypeError);
    assert.throws(() => ws.send(new DataView(shared)), TypeError);
    assert.equal(ws.bufferedAmount, 0);
    await delay(20);
    assert.equal(peer.received.length, 0);
  });

  test("a resizable ArrayBuffer, or a view on one, throws a TypeError (not [AllowResizable])", async (t) => {
    const { ws } = await openClient(t);
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    const resizable = new Resizable(4, { maxByteLength: 16 });
    if (!(resizable as unknown as { resizable?: boolean }).resizable) {
      t.skip("this Node has no resizable ArrayBuffer");
      return;
    }
    assert.throws(() => ws.send(resizable), TypeError);
    assert.throws(() => ws.send(new Uint8Array(resizable)), TypeError);
  });

  test("other values are converted to a string (USVString) and sent as text", async (t) => {
    const { ws, peer } = await openClient(t);
    ws.send(42 as unknown as string);
    ws.send({} as unknown as string);
    ws.send(null as unknown as string);
    ws.send(undefined as unknown as string);
    ws.send({ toString: () => "custom" } as unknown as string);
    await until(() => peer.received.length === 5, 3000, "5 messages");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, m.data.toString()]),
      [
        [false, "42"],
        [false, "[object Object]"],
        [false, "null"],
        [false, "undefined"],
        [false, "custom"],
      ],
    );
  });
});

describe("send(): what arrives at the peer", () => {
  test("objects that only look like buffers (their prototype, Symbol.toStringTag) are strings too (WebIDL brand checks)", async (t) => {
    const { ws, peer } = await openClient(t);
    ws.send(Object.create(ArrayBuffer.prototype));
    ws.send({ [Symbol.toStringTag]: "ArrayBuffer", byteLength: 1 } as unknown as string);
    // Its string conversion is %TypedArray%.prototype.toString, which throws for it, as in a browser.
    assert.throws(() => ws.send(Object.create(Uint8Array.prototype)), TypeError);
    await until(() => peer.received.length === 2, 3000, "2 messages");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, m.data.toString()]),
      [
        [false, "[object ArrayBuffer]"],
        [false, "[object ArrayBuffer]"],
      ],
    );
  });

  test("a view's bytes come from its slots, not its properties (a Buffer's own length, a subclass's getters)", async (t) => {
    const { ws, peer } = await openClient(t);
    // Sized by a lying `length`, the frame would carry 57 bytes of uninitialized memory.
    const liar = Buffer.from([1, 2, 3]);
    Object.defineProperty(liar, "length", { value: 60 });
    class Lying extends Uint8Array {
      override get byteLength(): number {
        return 1;
      }
      override get buffer(): ArrayBuffer {
        return new Uint8Array([0xaa, 0xbb]).buffer;
      }
    }
    const view = new DataView(new Uint8Array([9, 4, 5]).buffer, 1, 2);
    Object.defineProperty(view, "byteLength", { value: 40 });
    ws.send(liar);
    ws.send(new Lying([6, 7, 8]));
    ws.send(view);
    await until(() => peer.received.length === 3, 3000, "3 messages");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, m.data.toString("hex")]),
      [
        [true, "010203"],
        [true, "060708"],
        [true, "0405"],
      ],
    );
  });

  test("strings are sent as text frames in UTF-8; lone surrogates become U+FFFD (USVString)", async (t) => {
    const { ws, peer } = await openClient(t);
    ws.send("Hello Server!");
    ws.send("héllo wörld — 😀 ✓");
    ws.send("a\uD800b\uDC00c");
    ws.send("");
    await until(() => peer.received.length === 4, 3000, "4 messages");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, m.data.toString("utf8")]),
      [
        [false, "Hello Server!"],
        [false, "héllo wörld — 😀 ✓"],
        [false, "a\uFFFDb\uFFFDc"],
        [false, ""],
      ],
    );
    assert.equal(hex(peer.received[2].data), "61efbfbd62efbfbd63");
  });

  test("ArrayBuffer, every TypedArray kind, DataView and Buffer: the viewed bytes exactly, as binary", async (t) => {
    const { ws, peer } = await openClient(t);
    const backing = new ArrayBuffer(32);
    new Uint8Array(backing).forEach((_, i, a) => {
      a[i] = i;
    });
    const views: [string, ArrayBuffer | ArrayBufferView][] = [
      ["ArrayBuffer", backing.slice(0, 5)],
      ["Int8Array", new Int8Array([-1, 0, 1])],
      ["Uint8Array", new Uint8Array(backing, 3, 4)],
      ["Uint8ClampedArray", new Uint8ClampedArray([0, 255, 300])],
      ["Int16Array", new Int16Array(backing, 2, 2)],
      ["Uint16Array", new Uint16Array([0x0102, 0xfffe])],
      ["Int32Array", new Int32Array([-2])],
      ["Uint32Array", new Uint32Array(backing, 4, 1)],
      ["Float32Array", new Float32Array([1.5])],
      ["Float64Array", new Float64Array([-0.1])],
      ["BigInt64Array", new BigInt64Array([-1n])],
      ["BigUint64Array", new BigUint64Array([0x0102030405060708n])],
      ["DataView", new DataView(backing, 10, 3)],
      ["Buffer", Buffer.from("buffer bytes")],
      ["empty Uint8Array", new Uint8Array(0)],
    ];
    const F16 = (globalThis as { Float16Array?: new (v: number[]) => ArrayBufferView }).Float16Array;
    if (F16) views.push(["Float16Array", new F16([1, -2])]);
    for (const [, v] of views) ws.send(v as ArrayBuffer);
    await until(() => peer.received.length === views.length, 3000, `${views.length} messages`);
    views.forEach(([name, v], i) => {
      const expected =
        v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      assert.equal(peer.received[i].isBinary, true, `${name} is binary`);
      assert.equal(hex(peer.received[i].data), hex(expected), `${name} bytes`);
    });
  });

  test("a detached ArrayBuffer, or a view of one: an empty binary message (WebIDL; as Chromium)", async (t) => {
    // WebIDL's BufferSource conversion does not reject a detached buffer; its bytes are the empty sequence.
    const detach = <T extends ArrayBuffer | ArrayBufferView>(data: T): T => {
      const buffer = data instanceof ArrayBuffer ? data : data.buffer;
      structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
      return data;
    };
    const peer = await collectingServer(t);
    const ws = connect(t, peer.url);
    assert.throws(
      () => ws.send(detach(new ArrayBuffer(8))),
      (err: unknown) => err instanceof DOMException && err.name === "InvalidStateError",
      "while CONNECTING: the state check, not a conversion error",
    );
    await next(ws, "open");
    const sent = [
      detach(new ArrayBuffer(8)),
      detach(new Uint8Array(8)),
      detach(new DataView(new ArrayBuffer(8), 2)),
      detach(new Float64Array(2)),
    ];
    for (const data of sent) ws.send(data);
    ws.send("after");
    await until(() => peer.received.length === sent.length + 1, 3000, "the messages");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, m.data.length]),
      [
        [true, 0],
        [true, 0],
        [true, 0],
        [true, 0],
        [false, 5],
      ],
    );
  });

  test("the bytes are taken at the call: changing the buffer after send() changes nothing", async (t) => {
    const { ws, peer } = await openClient(t);
    const bytes = new Uint8Array([1, 2, 3]);
    ws.send(bytes);
    bytes[0] = 9;
    const ab = new Uint8Array([4, 5]).buffer;
    ws.send(ab);
    new Uint8Array(ab)[0] = 9;
    await until(() => peer.received.length === 2, 3000, "2 messages");
    assert.deepEqual(
      peer.received.map((m) => hex(m.data)),
      ["010203", "0405"],
    );
  });

  test("Blob: sent as binary with its bytes; sends keep call order even when a Blob comes first", async (t) => {
    const { ws, peer } = await openClient(t);
    ws.send(new Blob(["blob-1"]));
    ws.send("text-1");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(new Blob([new Uint8Array([0xff, 0x00]), "x"]));
    ws.send(new Blob([]));
    ws.send("text-2");
    await until(() => peer.received.length === 6, 3000, "6 messages");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, hex(m.data)]),
      [
        [true, hex(Buffer.from("blob-1"))],
        [false, hex(Buffer.from("text-1"))],
        [true, "010203"],
        [true, "ff0078"],
        [true, ""],
        [false, hex(Buffer.from("text-2"))],
      ],
    );
  });

  test("a large Blob queued before small sends still goes first", async (t) => {
    const { ws, peer } = await openClient(t);
    const big = Buffer.alloc(3 * 1024 * 1024, 0xab);
    ws.send(new Blob([big]));
    for (let i = 0; i < 20; i++) ws.send(`after-${i}`);
    await until(() => peer.received.length === 21, 5000, "21 messages");
    assert.equal(peer.received[0].data.length, big.length);
    assert.ok(peer.received[0].data.equals(big));
    assert.deepEqual(
      peer.received.slice(1).map((m) => m.data.toString()),
      Array.from({ length: 20 }, (_, i) => `after-${i}`),
    );
  });

  test("send(blob) then close(): the Blob and what follows it go out before the Close frame", async (t) => {
    const { ws, peer } = await openClient(t);
    const { closed } = record(ws);
    ws.send("first");
    ws.send(new Blob(["the blob"]));
    ws.send("behind the blob");
    ws.close(1000, "done");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    ws.send("after close: discarded");
    const event = await within(closed, 3000, "close");
    assert.equal(event.wasClean, true);
    assert.deepEqual(
      peer.received.map((m) => m.data.toString()),
      ["first", "the blob", "behind the blob"],
    );
    await until(() => peer.closes.length === 1, 3000, "the server's close event");
    assert.deepEqual(peer.closes, [{ code: 1000, reason: "done" }]);
  });

  test("a Blob that cannot be read fails the connection (as Chromium) instead of sending an empty message", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sockjet-blob-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "data.bin");
    writeFileSync(path, "file contents");
    const blob = await openAsBlob(path);
    writeFileSync(path, "the file changed after the Blob was made"); // reading it now fails (NotReadableError)
    const { ws, peer } = await openClient(t);
    const { types, closed } = record(ws);
    ws.send("before");
    ws.send(blob);
    ws.send("after the unreadable Blob");
    const event = await within(closed, 3000, "close");
    assert.deepEqual(types(), ["error", "close"]);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    await until(() => peer.closes.length === 1, 3000, "the server's close");
    assert.equal(peer.closes[0].code, 1011, "the client fails the connection with 1011 (internal error)");
    assert.deepEqual(
      peer.received.map((m) => [m.isBinary, m.data.toString()]),
      [[false, "before"]],
      "no empty message in place of the Blob, nothing after it",
    );
  });

  test("messages of 0, 125, 126, 65535, 65536 bytes and 1 MiB round-trip as text and as binary", async (t) => {
    const peer = await echoServer(t);
    const ws = connect(t, peer.url);
    ws.binaryType = "arraybuffer";
    const sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1024 * 1024];
    const got: unknown[] = [];
    ws.addEventListener("message", (e) => got.push((e as MessageEvent).data));
    await next(ws, "open");
    const payloads = sizes.map((n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (i * 7 + n) & 0xff;
      return b;
    });
    const texts = sizes.map((n) => "é✓".repeat(Math.ceil(n / 5)).slice(0, n));
    for (let i = 0; i < sizes.length; i++) {
      ws.send(payloads[i]);
      ws.send(texts[i]);
    }
    await until(() => got.length === sizes.length * 2, 10_000, "all echoes");
    for (let i = 0; i < sizes.length; i++) {
      const bin = got[2 * i];
      assert.ok(bin instanceof ArrayBuffer, `size ${sizes[i]}: binary is an ArrayBuffer`);
      assert.ok(Buffer.from(bin).equals(payloads[i]), `size ${sizes[i]}: binary bytes`);
      assert.equal(got[2 * i + 1], texts[i], `size ${sizes[i]}: text`);
    }
  });
});

describe("bufferedAmount", () => {
  test("counts the application bytes of send() at once (UTF-8 length for strings), then drops to 0", async (t) => {
    const { ws, peer } = await openClient(t);
    ws.send("abc");
    assert.equal(ws.bufferedAmount, 3);
    ws.send("é😀");
    assert.equal(ws.bufferedAmount, 3 + 2 + 4);
    ws.send(new Uint16Array(5));
    assert.equal(ws.bufferedAmount, 9 + 10);
    ws.send(new Blob(["12345"]));
    assert.equal(ws.bufferedAmount, 19 + 5);
    await until(() => ws.bufferedAmount === 0, 3000, "bufferedAmount to drop to 0");
    await until(() => peer.received.length === 4, 3000, "4 messages");
  });

  test("drops to 0 after echoes sent from the handlers of a burst of 1 to 8 messages (early writes count their bytes)", async (t) => {
    for (let n = 1; n <= 8; n++) {
      const raw = await rawServer(t);
      const ws = connect(t, raw.url);
      ws.onmessage = (event) => ws.send(event.data);
      const reader = await raw.nextConnection();
      await acceptHandshake(reader);
      await next(ws, "open");
      await delay(5); // the client's loop waits for I/O: its bursts go out in pairs after the first frame
      reader.socket.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(0x1, `message ${i}`))));
      for (let i = 0; i < n; i++) assert.equal(String((await reader.readFrame()).payload), `message ${i}`);
      await until(() => ws.bufferedAmount === 0, 2000, `bufferedAmount to drop to 0 after ${n} echoes`);
      ws.close();
    }
  });

  test("a large send shows in bufferedAmount and is drained to 0 as the socket takes it", async (t) => {
    const { ws, peer } = await openClient(t);
    const size = 16 * 1024 * 1024;
    ws.send(new Uint8Array(size));
    assert.equal(ws.bufferedAmount, size);
    await delay(0);
    assert.ok(ws.bufferedAmount <= size);
    await until(() => ws.bufferedAmount === 0, 10_000, "bufferedAmount to drop to 0");
    await until(() => peer.received.length === 1, 10_000, "the message");
    assert.equal(peer.received[0].data.length, size);
  });

  test("bufferedAmount stays up while the peer does not read, and drains once it does", async (t) => {
    const raw = await rawServer(t);
    const ws = connect(t, raw.url);
    const reader = await raw.nextConnection();
    await acceptHandshake(reader);
    await next(ws, "open");
    reader.socket.pause(); // the server stops reading: the kernel buffers fill up
    const size = 32 * 1024 * 1024;
    const payload = new Uint8Array(size);
    payload[size - 1] = 0x5a;
    ws.send(payload);
    await delay(200);
    assert.ok(ws.bufferedAmount > 0, `still buffered while the peer is not reading (${ws.bufferedAmount})`);
    assert.ok(ws.bufferedAmount <= size);
    reader.socket.resume();
    const f = await reader.readFrame(10_000);
    assert.equal(f.payload.length, size);
    assert.equal(f.payload[size - 1], 0x5a);
    await until(() => ws.bufferedAmount === 0, 5000, "bufferedAmount to drop to 0");
  });

  test("after close(): data is discarded but bufferedAmount still grows by its byte length", async (t) => {
    const { ws, peer } = await openClient(t);
    const { closed } = record(ws);
    ws.close();
    const before = ws.bufferedAmount;
    ws.send("héllo"); // 6 bytes of UTF-8
    assert.equal(ws.bufferedAmount, before + 6);
    ws.send("\uD800"); // a lone surrogate is U+FFFD: 3 bytes
    assert.equal(ws.bufferedAmount, before + 9);
    ws.send(new ArrayBuffer(10));
    ws.send(new Uint32Array(2));
    ws.send(new DataView(new ArrayBuffer(8), 2, 3));
    ws.send(new Blob(["abcd"]));
    assert.equal(ws.bufferedAmount, before + 9 + 10 + 8 + 3 + 4);
    await within(closed, 3000, "close");
    ws.send("after CLOSED");
    assert.equal(ws.bufferedAmount, before + 34 + 12);
    await delay(20);
    assert.equal(peer.received.length, 0, "nothing sent after close() reaches the server");
  });
});
