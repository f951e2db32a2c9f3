import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  binary,
  bytes,
  counting,
  createClient,
  createPeer,
  createServer,
  failure,
  frame,
  frameTo,
  hex,
  RFC_KEY,
  ROLES,
  sentBy,
  text,
  write,
} from "./helpers.js";

// The length boundaries of §5.2: 7-bit up to 125, 16-bit from 126 to 65535, 64-bit from 65536.
const LENGTHS = [
  { length: 0, header: "82 00" },
  { length: 125, header: "82 7d" },
  { length: 126, header: "82 7e 00 7e" },
  { length: 65535, header: "82 7e ff ff" },
  { length: 65536, header: "82 7f 00 00 00 00 00 01 00 00" },
];

describe("RFC 6455 §5.2 Base framing: payload length", () => {
  for (const { length, header } of LENGTHS) {
    test(`client receives a ${length}-byte binary frame (header ${header}) → one ${length}-byte message`, () => {
      const payload = counting(length);
      const client = createClient();
      assert.deepEqual(client.feed(bytes(header), payload), [binary(payload)]);
    });

    test(`server receives a masked ${length}-byte binary frame (header ${header} + mask bit + key) → one ${length}-byte message`, () => {
      const payload = counting(length);
      const head = bytes(header);
      head[1] |= 0x80;
      const maskedPayload = Buffer.from(payload.map((b, i) => b ^ RFC_KEY[i % 4]));
      const server = createServer();
      assert.deepEqual(server.feed(head, RFC_KEY, maskedPayload), [binary(payload)]);
    });

    test(`server sends a ${length}-byte binary message with header ${header}`, () => {
      const payload = counting(length);
      const server = createServer();
      assert.equal(server.protocol.send(payload, false), true);
      // A large payload may be written as header + payload; the bytes on the wire are what counts.
      const written = server.take().map((event) => {
        assert.equal(event.type, "write");
        return event.type === "write" ? event.bytes : "";
      });
      assert.equal(written.join(" ").trim(), hex(bytes(header, payload)));
    });
  }
});

describe("RFC 6455 §5.2 Base framing: the minimal number of bytes MUST be used to encode the length", () => {
  // Chromium's frame parser fails such a frame with 1002 (net/websockets/websocket_frame_parser.cc), in both
  // roles here. Each case: the length, the form it is written in, and whether that form is the shortest.
  const cases: [number, 16 | 64, boolean][] = [
    [3, 64, false],
    [125, 16, false],
    [126, 16, true],
    [125, 64, false],
    [65535, 64, false],
    [65536, 64, true],
  ];
  for (const role of ROLES) {
    for (const [length, bits, minimal] of cases) {
      test(`${role} receives ${length} bytes with a ${bits}-bit length → ${minimal ? "delivered" : "fails with 1002 on the header"}`, () => {
        const peer = createPeer(role);
        const payload = counting(length);
        const frame = frameTo(role, { opcode: 0x2, payload, lengthBits: bits });
        if (minimal) {
          assert.deepEqual(peer.feed(frame), [binary(payload)]);
          return;
        }
        const headerSize = (bits === 16 ? 4 : 10) + (role === "server" ? 4 : 0);
        const events = peer.feed(frame.subarray(0, headerSize));
        assert.deepEqual(events, failure(role, 1002, "SJ_ERR_INVALID_LENGTH"));
        assert.deepEqual(peer.feed(frame.subarray(headerSize)), [], "the payload is ignored");
      });
    }
  }
});

describe("RFC 6455 §5.2 Base framing: 64-bit length with the most significant bit set", () => {
  for (const role of ROLES) {
    test(`${role} receives a 64-bit length with the top bit set → fails with 1002 on the header alone`, () => {
      const peer = createPeer(role);
      // Header only: 82 7f 80 00 00 00 00 00 00 05 (plus mask key for a server). No payload byte is fed.
      const header = frameTo(role, { opcode: 0x2, payload: "", lengthBits: 64 });
      header[2] = 0x80;
      header[9] = 0x05;
      assert.deepEqual(peer.feed(header), failure(role, 1002, "SJ_ERR_INVALID_LENGTH"));
      assert.deepEqual(peer.feed(bytes("01 02 03 04 05")), [], "the payload is ignored");
    });

    test(`${role} receives 64-bit length ff ff ff ff ff ff ff ff → fails with 1002, not 1009`, () => {
      const peer = createPeer(role);
      const header = frameTo(role, { opcode: 0x2, payload: "", lengthBits: 64 });
      header.fill(0xff, 2, 10);
      assert.deepEqual(peer.feed(header), failure(role, 1002, "SJ_ERR_INVALID_LENGTH"));
    });
  }
});

describe("RFC 6455 §5.2 Base framing: FIN", () => {
  for (const role of ROLES) {
    test(`${role} receives a text frame with FIN=1 → the message is delivered at once`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: "fin" })), [text("fin")]);
    });

    test(`${role} receives a text frame with FIN=0 → nothing until the final frame`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: "no", fin: false })), []);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x0, payload: " fin" })), [text("no fin")]);
    });
  }
});

describe("RFC 6455 §5.2 Base framing: RSV bits without a negotiated extension", () => {
  for (const role of ROLES) {
    for (const [bit, rsv] of [
      ["RSV1", { rsv1: true }],
      ["RSV2", { rsv2: true }],
      ["RSV3", { rsv3: true }],
    ] as const) {
      for (const opcode of [0x1, 0x2, 0x9]) {
        test(`${role} receives opcode 0x${opcode.toString(16)} with ${bit} set → fails with 1002`, () => {
          const peer = createPeer(role);
          const bad = frameTo(role, { opcode, payload: "x", ...rsv });
          assert.deepEqual(peer.feed(bad), failure(role, 1002, "SJ_ERR_UNEXPECTED_RSV"));
        });
      }
    }

    test(`${role} receives a continuation with RSV1 set → fails with 1002`, () => {
      const peer = createPeer(role);
      peer.feed(frameTo(role, { opcode: 0x1, payload: "a", fin: false }));
      assert.deepEqual(
        peer.feed(frameTo(role, { opcode: 0x0, payload: "b", rsv1: true })),
        failure(role, 1002, "SJ_ERR_UNEXPECTED_RSV"),
      );
    });
  }

  test("server fails on RSV1 with exact bytes: c1 81 37 fa 21 3d 56 → writes 88 02 03 ea", () => {
    const server = createServer();
    assert.deepEqual(server.feed(bytes("c1 81 37 fa 21 3d 56")), [
      write("88 02 03 ea"),
      { type: "failure", closeCode: 1002, code: "SJ_ERR_UNEXPECTED_RSV" },
    ]);
  });
});

describe("RFC 6455 §5.2/§11.8 Base framing: reserved opcodes", () => {
  for (const role of ROLES) {
    for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
      test(`${role} receives reserved opcode 0x${opcode.toString(16)} → fails with 1002`, () => {
        const peer = createPeer(role);
        assert.deepEqual(
          peer.feed(frameTo(role, { opcode, payload: "" })),
          failure(role, 1002, "SJ_ERR_INVALID_OPCODE"),
        );
      });
    }

    test(`${role} receives a reserved opcode after a valid message → the message is kept, then 1002`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x1, payload: "ok" }),
        frameTo(role, { opcode: 0x3, payload: "?" }),
        frameTo(role, { opcode: 0x1, payload: "never" }),
      ]);
      assert.deepEqual(peer.feed(input), [text("ok"), ...failure(role, 1002, "SJ_ERR_INVALID_OPCODE")]);
    });
  }
});

describe("RFC 6455 §5.2 Base framing: several frames in one chunk", () => {
  for (const role of ROLES) {
    test(`${role} receives three frames in one chunk → three messages in order`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x1, payload: "one" }),
        frameTo(role, { opcode: 0x2, payload: bytes("02") }),
        frameTo(role, { opcode: 0x1, payload: "three" }),
      ]);
      assert.deepEqual(peer.feed(input), [text("one"), binary("02"), text("three")]);
    });
  }

  test("client sends text: 81 85 + key + masked payload (checked against the hand-built frame)", () => {
    const client = createClient();
    client.protocol.send(Buffer.from("Hello"), true);
    assert.deepEqual(client.take(), [write(hex(frame({ opcode: 0x1, payload: "Hello", mask: RFC_KEY })))]);
    assert.deepEqual(client.take(), []);
    client.protocol.send(Buffer.from("Hello"), true);
    assert.deepEqual(client.take(), [write(sentBy("client", "81 05 48 65 6c 6c 6f"))]);
  });
});
