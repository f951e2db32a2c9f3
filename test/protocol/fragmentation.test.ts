import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  binary,
  closed,
  closeFrameHex,
  closePayload,
  createPeer,
  failure,
  frameTo,
  pinged,
  ponged,
  ROLES,
  sentBy,
  text,
  write,
} from "./helpers.js";

describe("RFC 6455 §5.4 Fragmentation", () => {
  for (const role of ROLES) {
    const f = (spec: Parameters<typeof frameTo>[1]) => frameTo(role, spec);

    test(`${role} receives text in three fragments → one message when the FIN frame arrives`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(f({ opcode: 0x1, payload: "Hel", fin: false })), []);
      assert.deepEqual(peer.feed(f({ opcode: 0x0, payload: "l", fin: false })), []);
      assert.deepEqual(peer.feed(f({ opcode: 0x0, payload: "o" })), [text("Hello")]);
    });

    test(`${role} receives binary in fragments → binary message (the first frame's opcode decides)`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        f({ opcode: 0x2, payload: Buffer.from([0xff, 0x00]), fin: false }),
        f({ opcode: 0x0, payload: Buffer.from([0xfe]) }),
      ]);
      assert.deepEqual(peer.feed(input), [binary("ff 00 fe")]);
    });

    test(`${role} receives empty fragments (text FIN=0 "", continuation "", continuation FIN=1 "") → one empty text message`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        f({ opcode: 0x1, payload: "", fin: false }),
        f({ opcode: 0x0, payload: "", fin: false }),
        f({ opcode: 0x0, payload: "" }),
      ]);
      assert.deepEqual(peer.feed(input), [text("")]);
    });

    test(`${role} receives a fragmented message then a single-frame one → two messages, the second not mixed with the first`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        f({ opcode: 0x1, payload: "ab", fin: false }),
        f({ opcode: 0x0, payload: "cd" }),
        f({ opcode: 0x2, payload: Buffer.from([1, 2]) }),
        f({ opcode: 0x1, payload: "e", fin: false }),
        f({ opcode: 0x0, payload: "f" }),
      ]);
      assert.deepEqual(peer.feed(input), [text("abcd"), binary("01 02"), text("ef")]);
    });

    for (const fin of [true, false]) {
      test(`${role} receives a continuation (FIN=${fin ? 1 : 0}) with no message started → fails with 1002`, () => {
        const peer = createPeer(role);
        assert.deepEqual(
          peer.feed(f({ opcode: 0x0, payload: "x", fin })),
          failure(role, 1002, "SJ_ERR_UNEXPECTED_CONTINUATION"),
        );
      });
    }

    test(`${role} receives a continuation after a complete message → fails with 1002`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([f({ opcode: 0x1, payload: "done" }), f({ opcode: 0x0, payload: "more" })]);
      assert.deepEqual(peer.feed(input), [
        text("done"),
        ...failure(role, 1002, "SJ_ERR_UNEXPECTED_CONTINUATION"),
      ]);
    });

    for (const [name, opcode] of [
      ["text", 0x1],
      ["binary", 0x2],
    ] as const) {
      test(`${role} receives a new ${name} frame inside a fragmented message → fails with 1002`, () => {
        const peer = createPeer(role);
        assert.deepEqual(peer.feed(f({ opcode: 0x1, payload: "part", fin: false })), []);
        assert.deepEqual(
          peer.feed(f({ opcode, payload: "new" })),
          failure(role, 1002, "SJ_ERR_EXPECTED_CONTINUATION"),
        );
      });
    }

    test(`${role} receives a ping between fragments → pong sent and ping reported at once, message after its last fragment`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(f({ opcode: 0x1, payload: "Hel", fin: false })), []);
      assert.deepEqual(peer.feed(f({ opcode: 0x9, payload: "p" })), [
        write(sentBy(role, "8a 01 70")),
        pinged("p"),
      ]);
      assert.deepEqual(peer.feed(f({ opcode: 0x0, payload: "lo" })), [text("Hello")]);
    });

    test(`${role} receives a pong and a ping between fragments in one chunk → both handled, message intact`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        f({ opcode: 0x2, payload: Buffer.from([1]), fin: false }),
        f({ opcode: 0xa, payload: "a" }),
        f({ opcode: 0x0, payload: Buffer.from([2]), fin: false }),
        f({ opcode: 0x9, payload: "" }),
        f({ opcode: 0x0, payload: Buffer.from([3]) }),
      ]);
      assert.deepEqual(peer.feed(input), [
        ponged("a"),
        write(sentBy(role, "8a 00")),
        pinged(""),
        binary("01 02 03"),
      ]);
    });

    test(`${role} receives a close between fragments → Close echoed, the unfinished message is never delivered`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        f({ opcode: 0x1, payload: "unfinished", fin: false }),
        f({ opcode: 0x8, payload: closePayload(1001, "away") }),
        f({ opcode: 0x0, payload: "!" }),
      ]);
      assert.deepEqual(peer.feed(input), [
        write(sentBy(role, closeFrameHex(1001, "away"))),
        closed(1001, "away"),
      ]);
    });
  }
});
