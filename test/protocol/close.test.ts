import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isValidWireCloseCode } from "../../src/protocol/close.js";
import { CloseCode } from "../../src/protocol/constants.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import {
  bytes,
  closed,
  closeFrameHex,
  closePayload,
  createClient,
  createPeer,
  createServer,
  failed,
  failure,
  frameTo,
  hex,
  ROLES,
  sentBy,
  text,
  write,
} from "./helpers.js";

const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];
const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];

describe("CloseCode: the names for the codes of RFC 6455 §7.4.1 and the IANA registry", () => {
  test("every name but the three never sent is a code that may go on the wire; those three may not", () => {
    const neverSent = new Set(["NoStatus", "Abnormal", "TlsHandshake"]);
    for (const [name, code] of Object.entries(CloseCode))
      assert.equal(isValidWireCloseCode(code), !neverSent.has(name), `${name} (${code})`);
    // Every registered code below 3000 that may be sent has a name (1012 and 1014 were missing).
    const named = new Set<number>(Object.values(CloseCode));
    for (const code of VALID_CODES.filter((c) => c < 3000)) assert.ok(named.has(code), `${code} has no name`);
  });
});

describe("RFC 6455 §5.5.1 Close: receiving", () => {
  test("server receives 88 80 37 fa 21 3d (no payload) → code 1005, echoes an empty Close 88 00", () => {
    assert.deepEqual(createServer().feed(bytes("88 80 37 fa 21 3d")), [write("88 00"), closed(1005, "")]);
  });

  test("client receives 88 00 → code 1005, echoes a masked empty Close 88 80 37 fa 21 3d", () => {
    assert.deepEqual(createClient().feed(bytes("88 00")), [write("88 80 37 fa 21 3d"), closed(1005, "")]);
  });

  test("server receives Close 1000 'bye' (88 85 37 fa 21 3d 34 12 43 44 52) → echoes 88 05 03 e8 62 79 65", () => {
    assert.deepEqual(createServer().feed(bytes("88 85 37 fa 21 3d 34 12 43 44 52")), [
      write("88 05 03 e8 62 79 65"),
      closed(1000, "bye"),
    ]);
  });

  for (const role of ROLES) {
    test(`${role} receives a Close with a 1-byte payload → fails with 1002`, () => {
      const peer = createPeer(role);
      assert.deepEqual(
        peer.feed(frameTo(role, { opcode: 0x8, payload: bytes("03") })),
        failure(role, 1002, "SJ_ERR_INVALID_CLOSE_PAYLOAD"),
      );
    });

    for (const code of INVALID_CODES) {
      test(`${role} receives Close code ${code} → fails with 1002`, () => {
        const peer = createPeer(role);
        assert.deepEqual(
          peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(code) })),
          failure(role, 1002, "SJ_ERR_INVALID_CLOSE_CODE"),
        );
      });
    }

    for (const code of VALID_CODES) {
      test(`${role} receives Close code ${code} 'why' → accepted, echoed with code ${code} and the reason`, () => {
        const peer = createPeer(role);
        assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(code, "why") })), [
          write(sentBy(role, closeFrameHex(code, "why"))),
          closed(code, "why"),
        ]);
        assert.equal(peer.protocol.closed, true);
      });
    }

    test(`${role} receives Close 1000 with a multi-byte reason "adiós 👋" → reason delivered and echoed intact`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(1000, "adiós 👋") })), [
        write(sentBy(role, closeFrameHex(1000, "adiós 👋"))),
        closed(1000, "adiós 👋"),
      ]);
    });

    test(`${role} receives Close 1000 with a 123-byte reason (125-byte payload, the maximum) → accepted, echoed in full`, () => {
      const peer = createPeer(role);
      const reason = "r".repeat(123);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(1000, reason) })), [
        write(sentBy(role, closeFrameHex(1000, reason))),
        closed(1000, reason),
      ]);
    });

    for (const [name, reasonBytes] of [
      ["a lone continuation byte 80", "80"],
      ["an overlong c0 80", "c0 80"],
      ["a surrogate ed a0 80", "ed a0 80"],
      ["a truncated sequence e2 82", "61 e2 82"],
    ] as const) {
      test(`${role} receives Close 1000 whose reason has ${name} → fails with 1007`, () => {
        const peer = createPeer(role);
        const payload = bytes("03 e8", reasonBytes);
        assert.deepEqual(
          peer.feed(frameTo(role, { opcode: 0x8, payload })),
          failure(role, 1007, "SJ_ERR_INVALID_UTF8"),
        );
      });
    }

    test(`${role} receives data frames after the peer's Close → ignored, in the same chunk and later`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x1, payload: "before" }),
        frameTo(role, { opcode: 0x8, payload: closePayload(1000) }),
        frameTo(role, { opcode: 0x1, payload: "after" }),
        frameTo(role, { opcode: 0x9, payload: "ping" }),
      ]);
      assert.deepEqual(peer.feed(input), [text("before"), write(sentBy(role, "88 02 03 e8")), closed(1000)]);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: "later" })), []);
      assert.deepEqual(peer.feed(bytes("ff ff ff ff")), [], "not even garbage fails the closed connection");
    });

    test(`${role} receives a second Close → ignored, not echoed again`, () => {
      const peer = createPeer(role);
      peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(1000) }));
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(1001) })), []);
    });
  }
});

describe("RFC 6455 §7.1.2/§5.5.1 Close: after we sent our Close", () => {
  for (const role of ROLES) {
    test(`${role} sends Close 1000 'bye' → one frame 88 05 03 e8 62 79 65 ${role === "client" ? "(masked)" : ""}`, () => {
      const peer = createPeer(role);
      assert.equal(peer.protocol.close(1000, "bye"), true);
      assert.deepEqual(peer.take(), [write(sentBy(role, "88 05 03 e8 62 79 65"))]);
      assert.equal(peer.protocol.closing, true);
      assert.equal(peer.protocol.closed, false, "closed only once the peer's Close arrives");
    });

    test(`${role} sends a message after its Close → send returns false, nothing written`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      peer.take();
      assert.equal(peer.protocol.send(Buffer.from("late"), true), false);
      assert.equal(peer.protocol.send(Buffer.from("late"), false), false);
      assert.equal(peer.protocol.close(1001), false, "a second close() sends nothing");
      assert.deepEqual(peer.take(), []);
    });

    test(`${role} still receives messages after its Close, until the peer's Close`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      peer.take();
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: "in flight" })), [text("in flight")]);
    });

    test(`${role} receives the peer's Close after sending its own → reported, not echoed`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      peer.take();
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x8, payload: closePayload(1000) })), [
        closed(1000),
      ]);
      assert.equal(peer.protocol.closed, true);
    });

    test(`${role} fails the connection after sending its Close → no second Close frame`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      peer.take();
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x3, payload: "" })), [
        failed(1002, "SJ_ERR_INVALID_OPCODE"),
      ]);
    });

    test(`${role} sends close() with no code → empty Close (1005 is never on the wire)`, () => {
      const peer = createPeer(role);
      peer.protocol.close();
      assert.deepEqual(peer.take(), [write(sentBy(role, "88 00"))]);
    });
  }
});

describe("RFC 6455 §7.4 Close: sending an invalid code or reason", () => {
  for (const role of ROLES) {
    for (const code of [0, 999, 1004, 1006, 1015, 1016, 2999, 5000]) {
      test(`${role} sends close(${code}) → RangeError, nothing written, close() still possible`, () => {
        const peer = createPeer(role);
        assert.throws(() => peer.protocol.close(code), RangeError);
        assert.deepEqual(peer.take(), []);
        assert.equal(peer.protocol.closing, false);
        assert.equal(peer.protocol.close(1000), true);
      });
    }

    test(`${role} sends close(1000) with a 124-byte reason → RangeError, nothing written`, () => {
      const peer = createPeer(role);
      assert.throws(() => peer.protocol.close(1000, "x".repeat(124)), RangeError);
      assert.deepEqual(peer.take(), []);
    });

    test(`${role} sends close(1000) with a 123-byte reason → one 125-byte Close frame`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000, "x".repeat(123));
      assert.deepEqual(peer.take(), [
        write(sentBy(role, hex(bytes("88 7d 03 e8", Buffer.from("x".repeat(123)))))),
      ]);
    });

    test(`${role} sends close(1000) with a 62-character reason of 2-byte characters (124 bytes) → RangeError`, () => {
      const peer = createPeer(role);
      assert.throws(() => peer.protocol.close(1000, "é".repeat(62)), RangeError);
    });
  }
});

describe("RFC 6455 §7.1.7 Failing the connection", () => {
  for (const role of ROLES) {
    test(`${role} calls fail() with 1008 → Close 1008 written, onFailure with the same error, input ignored`, () => {
      const peer = createPeer(role);
      const error = new ProtocolError("SJ_ERR_RATE_LIMITED", "policy", 1008);
      peer.protocol.fail(error);
      assert.deepEqual(peer.take(), failure(role, 1008, "SJ_ERR_RATE_LIMITED"));
      assert.equal(peer.errors[0], error);
      assert.equal(peer.protocol.closed, true);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: "ignored" })), []);
      assert.equal(peer.protocol.send(Buffer.from("x"), true), false);
      peer.protocol.fail(error);
      assert.deepEqual(peer.take(), [], "a second fail() does nothing");
    });
  }
});
