import assert from "node:assert/strict";
import { constants } from "node:buffer";
import { describe, test } from "node:test";
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_PAYLOAD_BYTES } from "../../src/protocol/protocol-options.js";
import {
  binary,
  counting,
  createPeer,
  failure,
  frameTo,
  pinged,
  ROLES,
  sentBy,
  text,
  write,
} from "./helpers.js";

/** The header of a frame claiming `length` bytes, with no payload: what a peer sees before any payload. */
function headerOnly(role: "server" | "client", opcode: number, length: number, fin = true): Buffer {
  const bits = length < 126 ? 7 : length < 65536 ? 16 : 64;
  const header = frameTo(role, { opcode, payload: "", fin, lengthBits: bits });
  if (bits === 7) header[1] |= length;
  else if (bits === 16) header.writeUInt16BE(length, 2);
  else header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}

describe("RFC 6455 §10.4 Limits: maxPayloadBytes", () => {
  for (const role of ROLES) {
    for (const max of [100, 1000, 70000]) {
      test(`${role} with maxPayloadBytes ${max} receives a ${max}-byte message → delivered`, () => {
        const peer = createPeer(role, { maxPayloadBytes: max });
        const payload = counting(max);
        assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x2, payload })), [binary(payload)]);
      });

      test(`${role} with maxPayloadBytes ${max} receives a header claiming ${max + 1} bytes → fails with 1009 on the header alone`, () => {
        const peer = createPeer(role, { maxPayloadBytes: max });
        assert.deepEqual(
          peer.feed(headerOnly(role, 0x2, max + 1)),
          failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"),
        );
        assert.deepEqual(peer.feed(counting(max + 1)), [], "the payload that follows is ignored");
      });
    }

    test(`${role} with the default limit (64 MiB) receives a header claiming 64 MiB + 1 → fails with 1009 before the payload`, () => {
      const peer = createPeer(role);
      assert.equal(DEFAULT_MAX_PAYLOAD_BYTES, 64 * 1024 * 1024);
      assert.deepEqual(
        peer.feed(headerOnly(role, 0x1, DEFAULT_MAX_PAYLOAD_BYTES + 1)),
        failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"),
      );
    });

    test(`${role} receives a header claiming 2^63 - 1 bytes → fails with 1009 before the payload`, () => {
      const peer = createPeer(role);
      const header = headerOnly(role, 0x2, 0);
      header[1] |= 127;
      const big = Buffer.concat([
        header.subarray(0, 2),
        Buffer.from("7fffffffffffffff", "hex"),
        header.subarray(2),
      ]);
      assert.deepEqual(peer.feed(big), failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"));
    });

    test(`${role} with maxPayloadBytes 100 receives fragments of 40 + 40 + 20 → one 100-byte message`, () => {
      const peer = createPeer(role, { maxPayloadBytes: 100 });
      const payload = counting(100);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x2, payload: payload.subarray(0, 40), fin: false }),
        frameTo(role, { opcode: 0x0, payload: payload.subarray(40, 80), fin: false }),
        frameTo(role, { opcode: 0x0, payload: payload.subarray(80) }),
      ]);
      assert.deepEqual(peer.feed(input), [binary(payload)]);
    });

    test(`${role} with maxPayloadBytes 100 receives fragments of 40 + 40 + a header claiming 21 → fails with 1009 on that header`, () => {
      const peer = createPeer(role, { maxPayloadBytes: 100 });
      assert.deepEqual(
        peer.feed(
          frameTo(role, { opcode: 0x1, payload: "a".repeat(40), fin: false }),
          frameTo(role, { opcode: 0x0, payload: "b".repeat(40), fin: false }),
        ),
        [],
      );
      assert.deepEqual(peer.feed(headerOnly(role, 0x0, 21)), failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"));
    });

    test(`${role} with maxPayloadBytes 100 receives two 100-byte messages → both delivered (the limit is per message)`, () => {
      const peer = createPeer(role, { maxPayloadBytes: 100 });
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x1, payload: "x".repeat(100) }),
        frameTo(role, { opcode: 0x1, payload: "y".repeat(50), fin: false }),
        frameTo(role, { opcode: 0x0, payload: "y".repeat(50) }),
      ]);
      assert.deepEqual(peer.feed(input), [text("x".repeat(100)), text("y".repeat(100))]);
    });

    test(`${role} with maxPayloadBytes 10 receives a 125-byte ping → answered (control frames have their own 125-byte limit)`, () => {
      const peer = createPeer(role, { maxPayloadBytes: 10 });
      const payload = counting(125);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x9, payload })), [
        write(sentBy(role, `8a 7d ${payload.toString("hex")}`)),
        pinged(payload),
      ]);
    });

    test(`${role} with maxPayloadBytes Infinity: a header past the largest Buffer (8 GiB) → 1009, not a RangeError (attacker review)`, () => {
      const peer = createPeer(role, { maxPayloadBytes: Number.POSITIVE_INFINITY });
      assert.deepEqual(
        peer.feed(headerOnly(role, 0x2, 8 * 2 ** 30)),
        failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"),
      );
      const atMost = createPeer(role, { maxPayloadBytes: Number.POSITIVE_INFINITY });
      assert.deepEqual(
        atMost.feed(headerOnly(role, 0x2, constants.MAX_LENGTH + 1)),
        failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"),
      );
    });

    test(`${role} with maxPayloadBytes Infinity: a text header past V8's longest string → 1009 (it could not be decoded)`, () => {
      const peer = createPeer(role, { maxPayloadBytes: Number.POSITIVE_INFINITY });
      assert.deepEqual(
        peer.feed(headerOnly(role, 0x1, constants.MAX_STRING_LENGTH + 1)),
        failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"),
      );
    });

    test(`${role} with maxPayloadBytes Infinity: a header announcing 3 GiB, then bytes in pieces → nothing near 3 GiB allocated`, () => {
      const peer = createPeer(role, { maxPayloadBytes: Number.POSITIVE_INFINITY });
      const before = process.memoryUsage().arrayBuffers;
      const header = headerOnly(role, 0x2, 3 * 2 ** 30);
      assert.deepEqual(peer.feed(Buffer.concat([header, counting(100)])), []);
      assert.deepEqual(peer.feed(counting(100)), []);
      assert.deepEqual(peer.feed(counting(100)), []);
      const grown = process.memoryUsage().arrayBuffers - before;
      assert.ok(grown < 256 * 2 ** 20, `array buffers grew by ${grown} bytes`);
    });
  }
});

describe("RFC 6455 §5.4/§10.4 Limits: maxFragmentsPerMessage", () => {
  for (const role of ROLES) {
    const fragmented = (count: number, payload: (i: number) => string) =>
      Array.from({ length: count }, (_, i) =>
        frameTo(role, { opcode: i === 0 ? 0x1 : 0x0, payload: payload(i), fin: i === count - 1 }),
      );

    test(`${role} with maxFragmentsPerMessage 4 receives a message in 4 frames → delivered`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 4 });
      assert.deepEqual(peer.feed(...fragmented(4, (i) => `${i}`)), [text("0123")]);
    });

    test(`${role} with maxFragmentsPerMessage 4 receives a message in 5 one-byte frames → delivered (frames that carry bytes are bounded by maxPayloadBytes alone)`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 4 });
      assert.deepEqual(peer.feed(...fragmented(5, (i) => `${i}`)), [text("01234")]);
    });

    test(`${role} with maxFragmentsPerMessage 4 receives a 5th empty frame header → fails with 1009 before its payload`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 4 });
      const frames = fragmented(5, () => "");
      assert.deepEqual(peer.feed(...frames.slice(0, 4)), []);
      const fifthHeader = frames[4].subarray(0, 1);
      assert.deepEqual(peer.feed(fifthHeader), []);
      assert.deepEqual(peer.feed(frames[4].subarray(1)), failure(role, 1009, "SJ_ERR_TOO_MANY_FRAGMENTS"));
    });

    test(`${role} with maxFragmentsPerMessage 4 receives 5 empty fragments → fails with 1009 (empty frames count)`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 4 });
      assert.deepEqual(
        peer.feed(...fragmented(5, () => "")),
        failure(role, 1009, "SJ_ERR_TOO_MANY_FRAGMENTS"),
      );
    });

    test(`${role} with maxFragmentsPerMessage 4 receives "ab" then 3 empty frames (5 frames for 2 bytes) → fails with 1009`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 4 });
      assert.deepEqual(
        peer.feed(...fragmented(5, (i) => (i === 0 ? "ab" : ""))),
        failure(role, 1009, "SJ_ERR_TOO_MANY_FRAGMENTS"),
      );
    });

    test(`${role} with maxFragmentsPerMessage 2 receives pings between 2 fragments → delivered (control frames do not count)`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 2 });
      const [first, last] = fragmented(2, (i) => `${i}`);
      const ping = frameTo(role, { opcode: 0x9, payload: "" });
      const events = peer.feed(first, ping, ping, ping, last);
      assert.deepEqual(events.at(-1), text("01"));
      assert.equal(events.length, 7);
    });

    test(`${role} with maxFragmentsPerMessage 3 receives three 3-frame messages → all delivered (the count is per message)`, () => {
      const peer = createPeer(role, { maxFragmentsPerMessage: 3 });
      const three = fragmented(3, (i) => `${i}`);
      assert.deepEqual(peer.feed(...three, ...three, ...three), [text("012"), text("012"), text("012")]);
    });
  }

  test(`the default maxFragmentsPerMessage is ${DEFAULT_MAX_FRAGMENTS}: a message of that many empty frames is delivered, one more fails with 1009; twice as many 1-byte frames are delivered`, () => {
    const role = "client";
    const wireOf = (count: number, payload: string) =>
      Buffer.concat([
        frameTo(role, { opcode: 0x2, payload, fin: false }),
        ...Array.from({ length: count - 2 }, () => frameTo(role, { opcode: 0x0, payload, fin: false })),
        frameTo(role, { opcode: 0x0, payload }),
      ]);
    const ok = createPeer(role).feed(wireOf(DEFAULT_MAX_FRAGMENTS, ""));
    assert.deepEqual(
      ok.map((event) => event.type),
      ["binary"],
    );
    assert.deepEqual(
      createPeer(role).feed(wireOf(DEFAULT_MAX_FRAGMENTS + 1, "")),
      failure(role, 1009, "SJ_ERR_TOO_MANY_FRAGMENTS"),
    );
    const bytes = createPeer(role).feed(wireOf(2 * DEFAULT_MAX_FRAGMENTS, "m"));
    assert.equal(bytes.length, 1);
    assert.equal(bytes[0].type, "binary");
  });
});
