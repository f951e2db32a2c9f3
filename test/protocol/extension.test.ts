import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { ProtocolError } from "../../src/protocol/errors.js";
import type { PerMessageExtension, TransformCallback } from "../../src/protocol/extension.js";
import type { Role } from "../../src/protocol/protocol-options.js";
import {
  binary,
  bytes,
  createPeer,
  failure,
  frameTo,
  pinged,
  ROLES,
  sentBy,
  text,
  write,
} from "./helpers.js";

// RFC 6455 §9 / RFC 7692 §6: a negotiated extension owns RSV1 and transforms whole messages. The real
// permessage-deflate is tested on its own; here a stand-in "reverse" extension (it reverses the bytes, so
// the tests can see that the transformed bytes, not the raw ones, are delivered) checks the Protocol's side
// of the contract: which frames may carry RSV1, message order while the transform runs, and failures.

interface ReverseOptions {
  /** Decode asynchronously (like zlib on the thread pool) when this returns true for the raw message. */
  asyncDecode?: (raw: Buffer) => boolean;
  asyncEncode?: boolean;
  decodeError?: Error;
  encodeError?: Error;
}

class ReverseExtension implements PerMessageExtension {
  readonly name = "x-reverse";
  readonly decodeCalls: { parts: Buffer[]; maxBytes: number }[] = [];
  disposed = false;
  constructor(private readonly options: ReverseOptions = {}) {}

  shouldTransform(byteLength: number): boolean {
    return byteLength >= 4;
  }
  encode(payload: Buffer, callback: TransformCallback): void {
    const done = () =>
      this.options.encodeError
        ? callback(this.options.encodeError)
        : callback(null, Buffer.from(payload).reverse());
    if (this.options.asyncEncode) setImmediate(done);
    else done();
  }
  decode(fragments: Buffer[], maxBytes: number, callback: TransformCallback): void {
    this.decodeCalls.push({ parts: fragments.map((f) => Buffer.from(f)), maxBytes });
    const raw = Buffer.concat(fragments);
    const done = () =>
      this.options.decodeError
        ? callback(this.options.decodeError)
        : callback(null, Buffer.from(raw).reverse());
    if (this.options.asyncDecode?.(raw)) setImmediate(done);
    else done();
  }
  dispose(): void {
    this.disposed = true;
  }
}

const reversed = (s: string) => Buffer.from(s).reverse();

describe("RFC 6455 §9 / RFC 7692 §6 Extensions: RSV1 on received frames", () => {
  for (const role of ROLES) {
    const f = (spec: Parameters<typeof frameTo>[1]) => frameTo(role, spec);

    test(`${role} with an extension receives text with RSV1 → decoded, then delivered`, () => {
      const extension = new ReverseExtension();
      const peer = createPeer(role, { extension, maxPayloadBytes: 5000 });
      assert.deepEqual(peer.feed(f({ opcode: 0x1, payload: reversed("héllo"), rsv1: true })), [
        text("héllo"),
      ]);
      assert.equal(extension.decodeCalls[0].maxBytes, 5000, "the decoder is told maxPayloadBytes");
    });

    test(`${role} with an extension receives a fragmented RSV1 message whose raw bytes are not UTF-8 → not failed before decoding`, () => {
      const extension = new ReverseExtension();
      const peer = createPeer(role, { extension });
      // Reversed "é" is A9 C3: invalid UTF-8 as raw bytes, valid once decoded.
      const input = Buffer.concat([
        f({ opcode: 0x1, payload: bytes("a9"), rsv1: true, fin: false }),
        f({ opcode: 0x0, payload: bytes("c3") }),
      ]);
      assert.deepEqual(peer.feed(input), [text("é")]);
      assert.deepEqual(Buffer.concat(extension.decodeCalls[0].parts), bytes("a9 c3"));
    });

    test(`${role} with an extension receives text without RSV1 → delivered as is, decoder not called`, () => {
      const extension = new ReverseExtension();
      const peer = createPeer(role, { extension });
      assert.deepEqual(peer.feed(f({ opcode: 0x1, payload: "plain" })), [text("plain")]);
      assert.equal(extension.decodeCalls.length, 0);
    });

    test(`${role} with an extension receives RSV1 on a continuation frame → fails with 1002`, () => {
      const peer = createPeer(role, { extension: new ReverseExtension() });
      const input = Buffer.concat([
        f({ opcode: 0x1, payload: "a", rsv1: true, fin: false }),
        f({ opcode: 0x0, payload: "b", rsv1: true }),
      ]);
      assert.deepEqual(peer.feed(input), failure(role, 1002, "SJ_ERR_UNEXPECTED_RSV"));
    });

    for (const [name, opcode] of [
      ["ping", 0x9],
      ["pong", 0xa],
      ["close", 0x8],
    ] as const) {
      test(`${role} with an extension receives a ${name} with RSV1 → fails with 1002`, () => {
        const peer = createPeer(role, { extension: new ReverseExtension() });
        assert.deepEqual(
          peer.feed(f({ opcode, payload: "", rsv1: true })),
          failure(role, 1002, "SJ_ERR_UNEXPECTED_RSV"),
        );
      });
    }

    for (const rsv of [{ rsv2: true }, { rsv3: true }]) {
      test(`${role} with an extension receives ${Object.keys(rsv)[0].toUpperCase()} → fails with 1002 (no extension of ours defines it)`, () => {
        const peer = createPeer(role, { extension: new ReverseExtension() });
        assert.deepEqual(
          peer.feed(f({ opcode: 0x1, payload: "x", ...rsv })),
          failure(role, 1002, "SJ_ERR_UNEXPECTED_RSV"),
        );
      });
    }

    test(`${role}'s decoder fails with a ProtocolError 1009 → the connection fails with 1009`, () => {
      const decodeError = new ProtocolError("SJ_ERR_MESSAGE_TOO_BIG", "too big", 1009);
      const peer = createPeer(role, { extension: new ReverseExtension({ decodeError }) });
      assert.deepEqual(
        peer.feed(f({ opcode: 0x2, payload: "zzzz", rsv1: true })),
        failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"),
      );
      assert.equal(peer.errors[0], decodeError);
    });

    test(`${role}'s decoder fails with a plain Error → the connection fails with 1007`, () => {
      const peer = createPeer(role, {
        extension: new ReverseExtension({ decodeError: new Error("bad data") }),
      });
      assert.deepEqual(
        peer.feed(f({ opcode: 0x2, payload: "zzzz", rsv1: true })),
        failure(role, 1007, "SJ_ERR_EXTENSION_FAILED"),
      );
    });

    test(`${role} receives RSV1 text that decodes to invalid UTF-8 → fails with 1007`, () => {
      const peer = createPeer(role, { extension: new ReverseExtension() });
      assert.deepEqual(
        peer.feed(f({ opcode: 0x1, payload: bytes("80 61"), rsv1: true })),
        failure(role, 1007, "SJ_ERR_INVALID_UTF8"),
      );
    });
  }
});

describe("RFC 7692 Extensions: received messages keep their order while the decoder runs", () => {
  for (const role of ROLES) {
    const f = (spec: Parameters<typeof frameTo>[1]) => frameTo(role, spec);

    test(`${role} receives an async-decoded message, then a ping and a plain message → events wait for the decoder, in wire order`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncDecode: () => true }) });
      const rest = Buffer.concat([f({ opcode: 0x9, payload: "p" }), f({ opcode: 0x1, payload: "second" })]);
      assert.deepEqual(peer.feed(f({ opcode: 0x1, payload: reversed("first"), rsv1: true }), rest), []);
      assert.equal(peer.protocol.pendingReceiveBytes, rest.length, "the rest waits, unparsed");
      await nextTurn();
      assert.deepEqual(peer.take(), [
        text("first"),
        write(sentBy(role, "8a 01 70")),
        pinged("p"),
        text("second"),
      ]);
      assert.equal(peer.protocol.pendingReceiveBytes, 0);
    });

    test(`${role}: decoder answering synchronously while later chunks wait → wire order kept (regression: resume() drained the backlog re-entrantly)`, async () => {
      // "a…" messages decode asynchronously, others synchronously. While the first decodes, two chunks
      // queue up; the first of them holds a message decoded synchronously followed by a plain message. The
      // plain one used to be delivered after the whole second chunk.
      const extension = new ReverseExtension({ asyncDecode: (raw) => raw.at(-1) === 0x61 });
      const peer = createPeer(role, { extension });
      const chunkA = Buffer.concat([
        f({ opcode: 0x1, payload: reversed("sync"), rsv1: true }),
        f({ opcode: 0x1, payload: "plain after sync" }),
      ]);
      const chunkB = f({ opcode: 0x1, payload: "from the next chunk" });
      peer.feed(f({ opcode: 0x1, payload: reversed("async"), rsv1: true }), chunkA, chunkB);
      await nextTurn();
      assert.deepEqual(peer.take(), [
        text("async"),
        text("sync"),
        text("plain after sync"),
        text("from the next chunk"),
      ]);
    });

    test(`${role} receives two async-decoded messages in one chunk → delivered one after the other, in order`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncDecode: () => true }) });
      peer.feed(
        Buffer.concat([
          f({ opcode: 0x1, payload: reversed("one"), rsv1: true }),
          f({ opcode: 0x2, payload: reversed("two"), rsv1: true }),
        ]),
      );
      await nextTurn();
      await nextTurn();
      assert.deepEqual(peer.take(), [text("one"), binary(Buffer.from("two"))]);
    });
  }
});

describe("RFC 7692 Extensions: sending", () => {
  for (const role of ROLES) {
    const sendAll = (peer: ReturnType<typeof createPeer>) => {
      peer.protocol.send(Buffer.from("long text"), true); // transformed: ≥ 4 bytes
      peer.protocol.send(Buffer.from("ab"), true); // not transformed, but must wait its turn
      peer.protocol.ping(Buffer.from("p"));
      peer.protocol.send(Buffer.from("long binary"), false, true);
      peer.protocol.send(Buffer.from("forced off"), false, false);
    };
    const expectedWire = (r: Role) => [
      write(sentBy(r, `c1 09 ${reversed("long text").toString("hex")}`)),
      write(sentBy(r, "81 02 61 62")),
      write(sentBy(r, "89 01 70")),
      write(sentBy(r, `c2 0b ${reversed("long binary").toString("hex")}`)),
      write(sentBy(r, `82 0a ${Buffer.from("forced off").toString("hex")}`)),
    ];

    test(`${role} sends with a synchronous encoder → RSV1 on transformed messages only, in send order`, () => {
      const peer = createPeer(role, { extension: new ReverseExtension() });
      sendAll(peer);
      assert.deepEqual(peer.take(), expectedWire(role));
    });

    test(`${role} sends with an asynchronous encoder → messages and control frames wait their turn, same wire order`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncEncode: true }) });
      sendAll(peer);
      assert.deepEqual(peer.take(), []);
      await nextTurn();
      await nextTurn();
      assert.deepEqual(peer.take(), expectedWire(role));
    });

    test(`${role} sends text with sendText and an extension → transformed like send(), in order with pending sends`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncEncode: true }) });
      peer.protocol.send(Buffer.from("long text"), true);
      peer.protocol.sendText("ab");
      peer.protocol.sendText("long string");
      await nextTurn();
      await nextTurn();
      assert.deepEqual(peer.take(), [
        write(sentBy(role, `c1 09 ${reversed("long text").toString("hex")}`)),
        write(sentBy(role, "81 02 61 62")),
        write(sentBy(role, `c1 0b ${reversed("long string").toString("hex")}`)),
      ]);
    });

    test(`${role} calls close() while the encoder runs → the Close follows the pending message`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncEncode: true }) });
      peer.protocol.send(Buffer.from("long text"), true);
      peer.protocol.close(1000);
      assert.equal(peer.protocol.send(Buffer.from("late"), true), false);
      await nextTurn();
      assert.deepEqual(peer.take(), [
        write(sentBy(role, `c1 09 ${reversed("long text").toString("hex")}`)),
        write(sentBy(role, "88 02 03 e8")),
      ]);
    });

    test(`${role}'s encoder fails → the connection fails with 1011`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ encodeError: new Error("zlib") }) });
      peer.protocol.send(Buffer.from("long text"), true);
      assert.deepEqual(peer.take(), failure(role, 1011, "SJ_ERR_EXTENSION_FAILED"));
    });

    test(`${role} fails the connection while the encoder runs → its Close 1002 is still written (regression: it was queued behind the encoder and lost)`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncEncode: true }) });
      peer.protocol.send(Buffer.from("long text"), true);
      peer.protocol.send(Buffer.from("queued"), true);
      assert.deepEqual(
        peer.feed(frameTo(role, { opcode: 0x3, payload: "" })),
        failure(role, 1002, "SJ_ERR_INVALID_OPCODE"),
      );
      await nextTurn();
      assert.deepEqual(peer.take(), [], "the messages pending when it failed are dropped");
    });

    test(`${role} calls close(1001) while the encoder runs, then fails → the queued Close 1001 is written`, async () => {
      const peer = createPeer(role, { extension: new ReverseExtension({ asyncEncode: true }) });
      peer.protocol.send(Buffer.from("long text"), true);
      peer.protocol.close(1001);
      assert.deepEqual(peer.take(), []);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x3, payload: "" })), [
        write(sentBy(role, "88 02 03 e9")),
        { type: "failure", closeCode: 1002, code: "SJ_ERR_INVALID_OPCODE" },
      ]);
      await nextTurn();
      assert.deepEqual(peer.take(), []);
    });

    test(`${role}.dispose() → the extension is disposed`, () => {
      const extension = new ReverseExtension();
      createPeer(role, { extension }).protocol.dispose();
      assert.equal(extension.disposed, true);
    });
  }
});
