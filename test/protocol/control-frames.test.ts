import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bytes,
  closePayload,
  counting,
  createClient,
  createPeer,
  createServer,
  failure,
  frameTo,
  hex,
  pinged,
  ponged,
  ROLES,
  sentBy,
  text,
  write,
} from "./helpers.js";

const CONTROL = [
  ["close", 0x8],
  ["ping", 0x9],
  ["pong", 0xa],
] as const;

describe("RFC 6455 §5.5 Control frames: length and fragmentation", () => {
  for (const role of ROLES) {
    for (const [name, opcode] of CONTROL) {
      test(`${role} receives a ${name} with a 126-byte payload → fails with 1002 on the header, before the payload`, () => {
        const peer = createPeer(role);
        const whole = frameTo(role, { opcode, payload: counting(126) });
        const headerLength = role === "server" ? 8 : 4; // 16-bit length (+ key)
        assert.deepEqual(
          peer.feed(whole.subarray(0, headerLength)),
          failure(role, 1002, "SJ_ERR_CONTROL_FRAME_TOO_LONG"),
        );
        assert.deepEqual(peer.feed(whole.subarray(headerLength)), []);
      });

      test(`${role} receives a ${name} with FIN=0 → fails with 1002`, () => {
        const peer = createPeer(role);
        const payload = opcode === 0x8 ? closePayload(1000) : "x";
        assert.deepEqual(
          peer.feed(frameTo(role, { opcode, payload, fin: false })),
          failure(role, 1002, "SJ_ERR_FRAGMENTED_CONTROL_FRAME"),
        );
      });
    }

    test(`${role} receives a ping with a 64-bit length of 65,536 → fails with 1002 before the payload`, () => {
      const peer = createPeer(role);
      const header = frameTo(role, { opcode: 0x9, payload: "", lengthBits: 64 });
      header.writeBigUInt64BE(65536n, 2);
      assert.deepEqual(peer.feed(header), failure(role, 1002, "SJ_ERR_CONTROL_FRAME_TOO_LONG"));
    });

    test(`${role} receives a ping with a 125-byte payload (the maximum) → pong with the same 125 bytes`, () => {
      const peer = createPeer(role);
      const payload = counting(125);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x9, payload })), [
        write(sentBy(role, hex(bytes("8a 7d", payload)))),
        pinged(payload),
      ]);
    });
  }
});

describe("RFC 6455 §5.5.2 Ping", () => {
  test("server receives ping 89 83 37 fa 21 3d 56 98 42 ('abc') → writes pong 8a 03 61 62 63, then reports the ping", () => {
    assert.deepEqual(createServer().feed(bytes("89 83 37 fa 21 3d 56 98 42")), [
      write("8a 03 61 62 63"),
      pinged("abc"),
    ]);
  });

  test("server receives an empty ping 89 80 37 fa 21 3d → writes 8a 00", () => {
    assert.deepEqual(createServer().feed(bytes("89 80 37 fa 21 3d")), [write("8a 00"), pinged("")]);
  });

  test("client receives ping 89 03 61 62 63 → writes a masked pong 8a 83 37 fa 21 3d 56 98 42", () => {
    assert.deepEqual(createClient().feed(bytes("89 03 61 62 63")), [
      write("8a 83 37 fa 21 3d 56 98 42"),
      pinged("abc"),
    ]);
  });

  test("client receives a ping with binary payload 00 ff 80 → pong echoes the exact bytes", () => {
    assert.deepEqual(createClient().feed(bytes("89 03 00 ff 80")), [
      write(sentBy("client", "8a 03 00 ff 80")),
      pinged(bytes("00 ff 80")),
    ]);
  });

  for (const role of ROLES) {
    test(`${role} receives three pings in one chunk → three pongs, in order`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat(["1", "22", "333"].map((p) => frameTo(role, { opcode: 0x9, payload: p })));
      assert.deepEqual(peer.feed(input), [
        write(sentBy(role, "8a 01 31")),
        pinged("1"),
        write(sentBy(role, "8a 02 32 32")),
        pinged("22"),
        write(sentBy(role, "8a 03 33 33 33")),
        pinged("333"),
      ]);
    });

    test(`${role} receives a ping after sending its Close → pong (§5.5.2: until a Close is received)`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      assert.deepEqual(peer.take(), [write(sentBy(role, "88 02 03 e8"))]);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x9, payload: "late" })), [
        write(sentBy(role, "8a 04 6c 61 74 65")),
        pinged("late"),
      ]);
    });

    test(`${role} receives a ping after the peer's Close → ping reported, no pong sent`, () => {
      const peer = createPeer(role);
      peer.feed(frameTo(role, { opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }));
      peer.take();
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x9, payload: "late" })), []);
    });

    test(`${role} receives a ping split across chunks → one pong once the payload is complete`, () => {
      const peer = createPeer(role);
      const ping = frameTo(role, { opcode: 0x9, payload: "split" });
      assert.deepEqual(peer.feed(ping.subarray(0, ping.length - 2)), []);
      assert.deepEqual(peer.feed(ping.subarray(ping.length - 2)), [
        write(sentBy(role, "8a 05 73 70 6c 69 74")),
        pinged("split"),
      ]);
    });
  }
});

describe("RFC 6455 §5.5.3 Pong", () => {
  for (const role of ROLES) {
    test(`${role} receives an unsolicited pong → pong reported, nothing written`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0xa, payload: "hb" })), [ponged("hb")]);
    });

    test(`${role} receives a pong after sending its Close → still reported`, () => {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      peer.take();
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0xa, payload: "" })), [ponged("")]);
    });

    test(`${role} receives a pong, then text → both, in order`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0xa, payload: "p" }),
        frameTo(role, { opcode: 0x1, payload: "t" }),
      ]);
      assert.deepEqual(peer.feed(input), [ponged("p"), text("t")]);
    });
  }
});

describe("RFC 6455 §5.5 Control frames: sending", () => {
  for (const role of ROLES) {
    for (const method of ["ping", "pong"] as const) {
      test(`${role} sends a ${method} with a 126-byte payload → RangeError, nothing written`, () => {
        const peer = createPeer(role);
        assert.throws(() => peer.protocol[method](counting(126)), RangeError);
        assert.deepEqual(peer.take(), []);
      });

      test(`${role} sends a ${method} with a 125-byte payload → one frame with length 7d`, () => {
        const peer = createPeer(role);
        const opcode = method === "ping" ? "89" : "8a";
        assert.equal(peer.protocol[method](counting(125)), true);
        assert.deepEqual(peer.take(), [write(sentBy(role, hex(bytes(`${opcode} 7d`, counting(125)))))]);
      });

      test(`${role} sends a ${method} after its Close → returns false, nothing written`, () => {
        const peer = createPeer(role);
        peer.protocol.close(1000);
        peer.take();
        assert.equal(peer.protocol[method](Buffer.from("x")), false);
        assert.deepEqual(peer.take(), []);
      });
    }

    test(`${role} sends an empty ping → ${role === "server" ? "89 00" : "89 80 + key"}`, () => {
      const peer = createPeer(role);
      peer.protocol.ping();
      assert.deepEqual(peer.take(), [write(sentBy(role, "89 00"))]);
    });
  }
});
