import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { encodeFrame } from "../../src/protocol/frame-writer.js";
import { MaskKeyPool } from "../../src/protocol/mask.js";
import type { Role } from "../../src/protocol/protocol-options.js";
import {
  binary,
  closed,
  closeFrameHex,
  closePayload,
  createPeer,
  type Event,
  FixedMaskKeys,
  failure,
  frame,
  hex,
  pinged,
  ponged,
  RFC_KEY,
  ROLES,
  sentBy,
  splitAt,
  text,
  write,
} from "./helpers.js";

const other = (role: Role): Role => (role === "server" ? "client" : "server");

/** Sorted, distinct cut points into `n` bytes. */
const cutsFor = (n: number, max = 6) =>
  fc.uniqueArray(fc.integer({ min: 0, max: n }), { maxLength: max }).map((c) => c.sort((a, b) => a - b));

const controlArb = fc.record({
  opcode: fc.constantFrom(0x9, 0xa),
  payload: fc.uint8Array({ maxLength: 125 }),
  after: fc.nat(),
});

const messageArb = fc
  .oneof(
    fc.record({ isText: fc.constant(true as const), data: fc.string({ unit: "binary", maxLength: 60 }) }),
    fc.record({ isText: fc.constant(false as const), data: fc.uint8Array({ maxLength: 300 }) }),
  )
  .chain((m) => {
    const payload = m.isText ? Buffer.from(m.data) : Buffer.from(m.data);
    return fc.record({
      isText: fc.constant(m.isText),
      payload: fc.constant(payload),
      fragmentCuts: cutsFor(payload.length, 4),
      controls: fc.array(controlArb, { maxLength: 2 }),
    });
  });

type Message = typeof messageArb extends fc.Arbitrary<infer T> ? T : never;

/** Serializes messages with the writer under test, as `sender` sends them, and lists what the receiver sees. */
function serialize(
  sender: Role,
  messages: Message[],
  closeCode: number | null,
): { wire: Buffer; expected: Event[] } {
  const receiver = other(sender);
  const maskKeys = sender === "client" ? new MaskKeyPool() : null;
  const frames: Buffer[] = [];
  const expected: Event[] = [];
  for (const m of messages) {
    const fragments = splitAt(m.payload, m.fragmentCuts);
    fragments.forEach((piece, i) => {
      const opcode = i === 0 ? (m.isText ? 0x1 : 0x2) : 0x0;
      const fin = i === fragments.length - 1;
      frames.push(encodeFrame(opcode, piece, { fin, rsv1: false, maskKeys }));
      if (fin) expected.push(m.isText ? text(m.payload.toString("utf8")) : binary(m.payload));
      // Control frames may come between fragments (§5.4); the receiver handles them at once.
      for (const c of m.controls.filter((c) => c.after % fragments.length === i)) {
        frames.push(encodeFrame(c.opcode, c.payload, { fin: true, rsv1: false, maskKeys }));
        if (c.opcode === 0x9) {
          expected.push(write(sentBy(receiver, hex(frame({ opcode: 0xa, payload: c.payload })))));
          expected.push(pinged(c.payload));
        } else {
          expected.push(ponged(c.payload));
        }
      }
    });
  }
  if (closeCode !== null) {
    frames.push(encodeFrame(0x8, closePayload(closeCode, "bye"), { fin: true, rsv1: false, maskKeys }));
    expected.push(write(sentBy(receiver, closeFrameHex(closeCode, "bye"))), closed(closeCode, "bye"));
  }
  return { wire: Buffer.concat(frames), expected };
}

describe("Round trip: what one side serializes, the other parses back, for any payloads, fragments and chunks", () => {
  for (const sender of ROLES) {
    test(`${sender} → ${other(sender)}: messages (text and binary, fragmented, with pings/pongs between fragments) survive any chunking`, () => {
      fc.assert(
        fc.property(
          fc.array(messageArb, { maxLength: 5 }),
          fc.option(fc.constantFrom(1000, 1001, 1011, 3000, 4999), { nil: null }),
          fc.uniqueArray(fc.nat(), { maxLength: 8 }),
          (messages, closeCode, chunkSeeds) => {
            const { wire, expected } = serialize(sender, messages, closeCode);
            const cuts = [...new Set(chunkSeeds.map((s) => s % (wire.length + 1)))].sort((a, b) => a - b);
            const receiver = createPeer(other(sender));
            assert.deepEqual(receiver.feed(...splitAt(wire, cuts)), expected);
          },
        ),
        { numRuns: 300 },
      );
    });

    test(`${sender}'s Protocol.send → ${other(sender)} receives the same messages, any chunking`, () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc
                .string({ unit: "binary", maxLength: 200 })
                .map((s) => ({ isText: true, payload: Buffer.from(s) })),
              fc.uint8Array({ maxLength: 2000 }).map((b) => ({ isText: false, payload: Buffer.from(b) })),
            ),
            { maxLength: 5 },
          ),
          fc.uniqueArray(fc.nat(), { maxLength: 8 }),
          (messages, chunkSeeds) => {
            const written: Buffer[] = [];
            const senderPeer = createPeer(sender, sender === "client" ? { maskKeys: new MaskKeyPool() } : {});
            for (const m of messages) assert.equal(senderPeer.protocol.send(m.payload, m.isText), true);
            for (const e of senderPeer.take())
              if (e.type === "write") written.push(Buffer.from(e.bytes.replace(/ /g, ""), "hex"));
            const wire = Buffer.concat(written);
            const cuts = [...new Set(chunkSeeds.map((s) => s % (wire.length + 1)))].sort((a, b) => a - b);
            assert.deepEqual(
              createPeer(other(sender)).feed(...splitAt(wire, cuts)),
              messages.map((m) => (m.isText ? text(m.payload.toString("utf8")) : binary(m.payload))),
            );
          },
        ),
        { numRuns: 200 },
      );
    });
  }

  test("sendText(string) writes the same bytes as send(Buffer.from(string)), for any string incl. lone surrogates and 16/64-bit lengths", () => {
    const anyString = fc.oneof(
      fc.string({ unit: "binary", maxLength: 100 }),
      // UTF-16 code units, so lone surrogates too (encoded as U+FFFD by both paths).
      fc
        .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 50 })
        .map((units) => String.fromCharCode(...units)),
      fc.integer({ min: 120, max: 70000 }).map((n) => "é".repeat(n >> 1) + "x".repeat(n & 1)),
    );
    fc.assert(
      fc.property(anyString, fc.constantFrom(...ROLES), (str, role) => {
        const viaText = createPeer(role);
        const viaBuffer = createPeer(role);
        assert.equal(viaText.protocol.sendText(str), Buffer.byteLength(str));
        assert.equal(viaBuffer.protocol.send(Buffer.from(str, "utf8"), true), true);
        const joined = (events: Event[]) =>
          events.map((e) => (e.type === "write" ? e.bytes : e.type)).join(" ");
        assert.equal(joined(viaText.take()), joined(viaBuffer.take()));
      }),
      { numRuns: 300 },
    );
  });

  test("sendText after close() returns false and writes nothing", () => {
    for (const role of ROLES) {
      const peer = createPeer(role);
      peer.protocol.close(1000);
      peer.take();
      assert.equal(peer.protocol.sendText("late"), -1);
      assert.deepEqual(peer.take(), []);
    }
  });

  test("encodeFrame equals the hand-built §5.2 frame for any opcode, FIN, RSV1, length (7/16/64-bit) and key", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa),
        fc.boolean(),
        fc.boolean(),
        fc.oneof(
          fc.integer({ min: 0, max: 130 }),
          fc.integer({ min: 65530, max: 65540 }),
          fc.integer({ min: 0, max: 70000 }),
        ),
        fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: null }),
        (opcode, fin, rsv1, length, key) => {
          const payload = Buffer.alloc(length, 0x5a);
          for (let i = 0; i < length; i += 97) payload[i] = i & 0xff;
          const actual = encodeFrame(opcode, payload, {
            fin,
            rsv1,
            maskKeys: key ? new FixedMaskKeys(key) : null,
          });
          const expected = frame({ opcode, payload, fin, rsv1, mask: key });
          assert.ok(actual.equals(expected), `opcode ${opcode} length ${length}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("encodeFrame leaves the payload untouched when masking (the caller may reuse it)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
        const payload = Buffer.from(data);
        encodeFrame(0x2, payload, { fin: true, rsv1: false, maskKeys: new FixedMaskKeys(RFC_KEY) });
        assert.ok(payload.equals(Buffer.from(data)));
      }),
      { numRuns: 100 },
    );
  });
});

// ---- hostile input -------------------------------------------------------------------------------------

const MAX = 1024;
const ALLOWED_CLOSE_CODES = new Set([1002, 1007, 1009]);

/** Checks what must hold for any input: the recorder already throws on events after the end. */
function checkOutcome(events: Event[]): void {
  const failures = events.filter((e) => e.type === "failure");
  assert.ok(failures.length <= 1, "at most one failure");
  if (failures.length === 1) {
    assert.equal(events.at(-1)?.type, "failure", "the failure is the last event");
    const f = failures[0];
    assert.ok(
      f.type === "failure" && ALLOWED_CLOSE_CODES.has(f.closeCode),
      `close code ${JSON.stringify(f)}`,
    );
  }
  for (const e of events) {
    // Hex has 3 characters per byte (less one): a message never exceeds maxPayloadBytes.
    if (e.type === "binary") assert.ok((e.bytes.length + 1) / 3 <= MAX, "binary message within the limit");
    if (e.type === "text") assert.ok(Buffer.byteLength(e.data) <= MAX, "text message within the limit");
  }
}

/** A random frame header: any bits, any length encoding, maybe a mask, with a short payload. */
const frameishArb = fc
  .record({
    b0: fc.integer({ min: 0, max: 255 }),
    masked: fc.boolean(),
    length: fc.oneof(
      fc.integer({ min: 0, max: 130 }),
      fc.integer({ min: 0, max: 2 * MAX }),
      fc.constant(2 ** 53),
    ),
    bits: fc.constantFrom(7, 16, 64),
    payload: fc.uint8Array({ maxLength: 40 }),
  })
  .map(({ b0, masked, length, bits, payload }) => {
    const head = [b0];
    const m = masked ? 0x80 : 0;
    if (bits === 7 && length < 126) head.push(m | length);
    else if (bits !== 64 && length < 65536) head.push(m | 126, length >> 8, length & 0xff);
    else {
      const big = Buffer.alloc(8);
      big.writeBigUInt64BE(BigInt(length));
      head.push(m | 127, ...big);
    }
    if (masked) head.push(1, 2, 3, 4);
    return Buffer.concat([Buffer.from(head), payload]);
  });

describe("Hostile input: never a throw, never more than one failure, only 1002/1007/1009", () => {
  for (const role of ROLES) {
    test(`${role} fed random bytes in random chunks → events, then at most one ProtocolError failure`, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 300 }),
          fc.uniqueArray(fc.nat(), { maxLength: 8 }),
          (data, seeds) => {
            const cuts = [...new Set(seeds.map((s) => s % (data.length + 1)))].sort((a, b) => a - b);
            const peer = createPeer(role, { maxPayloadBytes: MAX, maxFragmentsPerMessage: 16 });
            peer.feed(...splitAt(data, cuts));
            checkOutcome(peer.events);
          },
        ),
        { numRuns: 2000 },
      );
    });

    test(`${role} fed random frame headers with random bits and lengths → same guarantees, and the outcome does not depend on chunking`, () => {
      fc.assert(
        fc.property(
          fc.array(frameishArb, { maxLength: 8 }),
          fc.uniqueArray(fc.nat(), { maxLength: 8 }),
          (frames, seeds) => {
            const wire = Buffer.concat(frames);
            const cuts = [...new Set(seeds.map((s) => s % (wire.length + 1)))].sort((a, b) => a - b);
            const whole = createPeer(role, { maxPayloadBytes: MAX, maxFragmentsPerMessage: 4 });
            whole.feed(wire);
            checkOutcome(whole.events);
            const chunked = createPeer(role, { maxPayloadBytes: MAX, maxFragmentsPerMessage: 4 });
            chunked.feed(...splitAt(wire, cuts));
            assert.deepEqual(chunked.events, whole.events);
          },
        ),
        { numRuns: 2000 },
      );
    });

    test(`${role} receives valid messages then a data frame header claiming more than maxPayloadBytes → fails with 1009 on the header, before any of that payload`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: MAX }), { maxLength: 3 }),
          fc.integer({ min: 0, max: MAX }),
          fc.oneof(fc.integer({ min: 1, max: 70000 }), fc.integer({ min: 1, max: 2 ** 52 })),
          (sizes, alreadyBuffered, excess) => {
            const peer = createPeer(role, { maxPayloadBytes: MAX });
            const f = (spec: Parameters<typeof frame>[0]) =>
              frame({ ...spec, mask: role === "server" ? RFC_KEY : null });
            for (const size of sizes)
              assert.deepEqual(peer.feed(f({ opcode: 0x2, payload: Buffer.alloc(size) })).length, 1);
            // A fragment already holding some bytes, then a continuation that would overflow the message.
            assert.deepEqual(
              peer.feed(f({ opcode: 0x2, payload: Buffer.alloc(alreadyBuffered), fin: false })),
              [],
            );
            const claimed = MAX - alreadyBuffered + excess;
            // The header alone, its length in the shortest form (§5.2; a longer one is a 1002).
            const bits = claimed < 126 ? 7 : claimed < 65536 ? 16 : 64;
            const header = f({ opcode: 0x0, payload: Buffer.alloc(0), lengthBits: bits });
            if (bits === 7) header[1] |= claimed;
            else if (bits === 16) header.writeUInt16BE(claimed, 2);
            else header.writeBigUInt64BE(BigInt(claimed), 2);
            assert.deepEqual(peer.feed(header), failure(role, 1009, "SJ_ERR_MESSAGE_TOO_BIG"));
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});
