import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MessageChannel } from "node:worker_threads";
import { CloseEvent, MessageEvent, WebSocket } from "../../src/index.js";
import { connect, next, peerServer, record, until, within } from "./helpers.js";

// WHATWG WebSockets §4 "When a WebSocket message has been received" (data per binaryType, origin), HTML §9.2
// "The MessageEvent interface" and WebSockets §5 "The CloseEvent interface": the events received, and the
// classes constructed by hand like the browser globals.

/** A `ws` server that sends `messages` (string → text, Buffer → binary) to each client once it is open. */
async function sendingServer(t: Parameters<typeof connect>[0], messages: (string | Buffer)[]) {
  const peer = await peerServer(t);
  peer.server.on("connection", (socket) => {
    for (const m of messages) socket.send(m, { binary: typeof m !== "string" });
  });
  return peer;
}

describe("the MessageEvent of a received message", () => {
  test("all five fields of the seed: data, origin, lastEventId, source, ports", async (t) => {
    const peer = await sendingServer(t, ["Hello Client!"]);
    const ws = connect(t, `${peer.url}/some/path?q=1`);
    const event = await next<MessageEvent>(ws, "message");
    assert.ok(event instanceof MessageEvent);
    assert.ok(event instanceof Event);
    assert.equal(event.type, "message");
    assert.equal(event.data, "Hello Client!");
    assert.equal(event.origin, `ws://127.0.0.1:${peer.port}`, "the serialized origin: no path, no query");
    assert.equal(event.lastEventId, "");
    assert.equal(event.source, null);
    assert.ok(Array.isArray(event.ports));
    assert.equal(event.ports.length, 0);
    assert.ok(Object.isFrozen(event.ports), "ports is a frozen array");
    assert.equal(event.ports, event.ports, "the same array on every access");
    assert.equal(event.bubbles, false);
    assert.equal(event.cancelable, false);
    assert.equal(event.target, ws);
    assert.equal(event.currentTarget, null, "after dispatch");
  });

  test("origin is the ws: origin even when the URL was given as http:", async (t) => {
    const peer = await sendingServer(t, ["x"]);
    const ws = connect(t, `http://127.0.0.1:${peer.port}/`);
    const event = await next<MessageEvent>(ws, "message");
    assert.equal(event.origin, `ws://127.0.0.1:${peer.port}`);
  });

  test("binaryType 'blob' (the default): binary data is a Blob with the bytes", async (t) => {
    const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    const peer = await sendingServer(t, [bytes, Buffer.alloc(0)]);
    const ws = connect(t, peer.url);
    const { log } = record(ws);
    await until(() => log.filter((e) => e.type === "message").length === 2, 3000, "2 messages");
    const [first, second] = log.filter((e) => e.type === "message").map((e) => e.data);
    assert.ok(first instanceof Blob);
    assert.equal(first.size, 5);
    assert.equal(first.type, "");
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), bytes);
    assert.ok(second instanceof Blob);
    assert.equal(second.size, 0);
  });

  test("binaryType 'arraybuffer': binary data is an ArrayBuffer of exactly the message", async (t) => {
    const peer = await sendingServer(t, [Buffer.from("abc"), Buffer.from("defg"), Buffer.alloc(0)]);
    const ws = connect(t, peer.url);
    ws.binaryType = "arraybuffer";
    const { log } = record(ws);
    await until(() => log.filter((e) => e.type === "message").length === 3, 3000, "3 messages");
    const data = log.filter((e) => e.type === "message").map((e) => e.data as ArrayBuffer);
    for (const d of data) assert.ok(d instanceof ArrayBuffer);
    assert.deepEqual(
      data.map((d) => Buffer.from(d).toString()),
      ["abc", "defg", ""],
    );
    assert.deepEqual(
      data.map((d) => d.byteLength),
      [3, 4, 0],
      "not a view into a larger pool",
    );
    new Uint8Array(data[0])[0] = 0x7a;
    assert.equal(Buffer.from(data[1]).toString(), "defg", "each message owns its buffer");
  });

  test("text messages are strings whatever binaryType is", async (t) => {
    const peer = await sendingServer(t, ["text"]);
    const ws = connect(t, peer.url);
    ws.binaryType = "arraybuffer";
    const event = await next<MessageEvent>(ws, "message");
    assert.equal(typeof event.data, "string");
  });

  test("binaryType is read when each message is dispatched", async (t) => {
    const peer = await sendingServer(t, [Buffer.from("1"), Buffer.from("2"), Buffer.from("3")]);
    const ws = connect(t, peer.url);
    const kinds: string[] = [];
    ws.addEventListener("message", (e) => {
      kinds.push(e.data instanceof Blob ? "blob" : "arraybuffer");
      ws.binaryType = ws.binaryType === "blob" ? "arraybuffer" : "blob";
    });
    await until(() => kinds.length === 3, 3000, "3 messages");
    assert.deepEqual(kinds, ["blob", "arraybuffer", "blob"]);
  });

  test("binaryType ignores values that are not 'blob' or 'arraybuffer' (WebIDL enumeration)", async (t) => {
    const peer = await peerServer(t);
    const ws = connect(t, peer.url);
    // ("nodebuffer" is sockjet's one Node-only value: test/web/send-snapshot.test.ts.)
    for (const value of [
      "NodeBuffer",
      "Blob",
      "ARRAYBUFFER",
      "",
      "arraybuffer ",
      "fragments",
      null,
      undefined,
      1,
    ]) {
      (ws as unknown as { binaryType: unknown }).binaryType = value;
      assert.equal(ws.binaryType, "blob", `after setting ${String(value)}`);
    }
    ws.binaryType = "arraybuffer";
    (ws as unknown as { binaryType: unknown }).binaryType = "blobs";
    assert.equal(ws.binaryType, "arraybuffer");
    (ws as unknown as { binaryType: unknown }).binaryType = { toString: () => "blob" };
    assert.equal(ws.binaryType, "blob", "converted with ToString first");
    assert.throws(() => {
      (ws as unknown as { binaryType: unknown }).binaryType = Symbol("blob");
    }, TypeError);
    await next(ws, "open");
  });

  test("a leading BOM in a text message is kept (no BOM sniffing on messages)", async (t) => {
    const peer = await sendingServer(t, ["\uFEFFwith BOM"]);
    const ws = connect(t, peer.url);
    const event = await next<MessageEvent>(ws, "message");
    assert.equal(event.data, "\uFEFFwith BOM");
  });

  test("a UTF-8 text message with every plane arrives as the same string", async (t) => {
    const text = "ASCII é ✓ 中文 😀 \u0000 \uFFFD end";
    const peer = await sendingServer(t, [text]);
    const ws = connect(t, peer.url);
    const event = await next<MessageEvent>(ws, "message");
    assert.equal(event.data, text);
  });
});

describe("HTML §9.2: new MessageEvent(type, init)", () => {
  test("defaults: data null, origin '', lastEventId '', source null, ports a frozen empty array", () => {
    const e = new MessageEvent("message");
    assert.equal(e.type, "message");
    assert.equal(e.data, null);
    assert.equal(e.origin, "");
    assert.equal(e.lastEventId, "");
    assert.equal(e.source, null);
    assert.deepEqual([...e.ports], []);
    assert.ok(Object.isFrozen(e.ports));
    assert.equal(e.bubbles, false);
    assert.equal(e.cancelable, false);
    assert.equal(
      new MessageEvent("x", null as unknown as undefined).data,
      null,
      "null init is an empty dictionary",
    );
  });

  test("init values are kept: data as is, strings converted, EventInit honoured", () => {
    const data = { any: ["thing"] };
    const e = new MessageEvent("custom", {
      data,
      origin: "https://example.com",
      lastEventId: "42",
      bubbles: true,
      cancelable: true,
    });
    assert.equal(e.type, "custom");
    assert.equal(e.data, data, "data is the same object (type any)");
    assert.equal(e.origin, "https://example.com");
    assert.equal(e.lastEventId, "42");
    assert.equal(e.bubbles, true);
    assert.equal(e.cancelable, true);
    assert.equal(
      new MessageEvent("m", { data: undefined }).data,
      null,
      "undefined data is the default, null",
    );
    assert.equal(new MessageEvent("m", { data: 0 }).data, 0);
  });

  test("a MessagePort in ports and source is accepted; ports is a frozen copy", (t) => {
    const { port1, port2 } = new MessageChannel();
    t.after(() => {
      port1.close();
      port2.close();
    });
    const ports = [port1];
    const e = new MessageEvent("message", { ports: ports as never, source: port2 });
    assert.equal(e.source, port2);
    assert.equal(e.ports[0], port1);
    assert.ok(Object.isFrozen(e.ports));
    ports.push(port2);
    assert.equal(e.ports.length, 1);
  });

  test("ports must be MessagePorts and source a MessagePort or null (sequence<MessagePort>, MessageEventSource?)", () => {
    assert.throws(() => new MessageEvent("message", { ports: [1] }), TypeError);
    assert.throws(() => new MessageEvent("message", { ports: [{}] }), TypeError);
    assert.throws(() => new MessageEvent("message", { ports: 5 as unknown as [] }), TypeError);
    assert.throws(() => new MessageEvent("message", { source: {} }), TypeError);
    assert.throws(() => new MessageEvent("message", { source: "window" }), TypeError);
    assert.equal(new MessageEvent("message", { source: null }).source, null);
  });

  test("each init member is read once, in WebIDL dictionary order (inherited first, then lexicographic)", () => {
    const reads: string[] = [];
    const init = new Proxy(
      {},
      {
        get(_, key) {
          if (typeof key === "string") reads.push(key);
          return undefined;
        },
      },
    );
    new MessageEvent("m", init);
    assert.deepEqual(reads, [
      "bubbles",
      "cancelable",
      "composed",
      "data",
      "lastEventId",
      "origin",
      "ports",
      "source",
    ]);
    reads.length = 0;
    new CloseEvent("close", init);
    assert.deepEqual(reads, ["bubbles", "cancelable", "composed", "code", "reason", "wasClean"]);
  });

  test("no argument → TypeError; a non-object init → TypeError", () => {
    assert.throws(() => new (MessageEvent as unknown as new () => Event)(), TypeError);
    assert.throws(() => new MessageEvent("m", 5 as unknown as undefined), TypeError);
    assert.throws(() => new MessageEvent("m", "x" as unknown as undefined), TypeError);
  });

  test("attributes are read-only getters on the prototype; brand-checked; WebIDL length 1", () => {
    const e = new MessageEvent("m", { data: 1 });
    assert.throws(() => {
      (e as unknown as { data: number }).data = 2;
    }, TypeError);
    assert.equal(e.data, 1);
    for (const name of ["data", "origin", "lastEventId", "source", "ports"]) {
      const d = Object.getOwnPropertyDescriptor(MessageEvent.prototype, name);
      assert.ok(d?.get, `${name} getter`);
      assert.equal(d.set, undefined);
      assert.equal(d.enumerable, true);
      assert.throws(() => d.get!.call({}), TypeError, `${name} on a foreign object`);
    }
    assert.equal(Object.prototype.toString.call(e), "[object MessageEvent]");
    assert.equal(MessageEvent.length, 1);
  });
});

describe("WebSockets §5: new CloseEvent(type, init)", () => {
  test("defaults: wasClean false, code 0, reason ''", () => {
    const e = new CloseEvent("close");
    assert.equal(e.type, "close");
    assert.equal(e.wasClean, false);
    assert.equal(e.code, 0);
    assert.equal(e.reason, "");
  });

  test("init values, with WebIDL conversions (unsigned short wraps, USVString replaces lone surrogates)", () => {
    const e = new CloseEvent("close", { code: 4000, reason: "bye", wasClean: true });
    assert.deepEqual([e.code, e.reason, e.wasClean], [4000, "bye", true]);
    assert.equal(new CloseEvent("c", { code: 1000.9 }).code, 1000);
    assert.equal(new CloseEvent("c", { code: 65537 }).code, 1);
    assert.equal(new CloseEvent("c", { code: -1 }).code, 65535);
    assert.equal(new CloseEvent("c", { code: Number.NaN }).code, 0);
    assert.equal(new CloseEvent("c", { reason: "a\uD800" }).reason, "a\uFFFD");
    assert.equal(new CloseEvent("c", { wasClean: 1 as unknown as boolean }).wasClean, true);
  });

  test("no argument → TypeError; attributes read-only and brand-checked; WebIDL length 1", () => {
    assert.throws(() => new (CloseEvent as unknown as new () => Event)(), TypeError);
    const e = new CloseEvent("close", { code: 1000 });
    assert.throws(() => {
      (e as unknown as { code: number }).code = 1;
    }, TypeError);
    for (const name of ["wasClean", "code", "reason"]) {
      const d = Object.getOwnPropertyDescriptor(CloseEvent.prototype, name);
      assert.ok(d?.get);
      assert.equal(d.enumerable, true);
      assert.throws(() => d.get!.call({}), TypeError);
    }
    assert.equal(Object.prototype.toString.call(e), "[object CloseEvent]");
    assert.equal(CloseEvent.length, 1);
  });

  test("the close event of a real connection is a CloseEvent that does not bubble and cannot be cancelled", async (t) => {
    const peer = await peerServer(t);
    peer.server.on("connection", (socket) => socket.close(1000, "ok"));
    const ws = connect(t, peer.url);
    const event = await within(next<CloseEvent>(ws, "close"), 3000, "close");
    assert.ok(event instanceof CloseEvent);
    assert.equal(event.bubbles, false);
    assert.equal(event.cancelable, false);
    assert.equal(event.target, ws);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });
});
