import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { Role } from "../../src/protocol/protocol-options.js";
import { Utf8StreamValidator } from "../../src/protocol/utf8.js";
import { binary, bytes, createPeer, failure, frameTo, ROLES, splitAt, text } from "./helpers.js";

// ---- the reference: where does a byte string stop being the start of valid UTF-8? ----------------------

// Any incomplete but well-formed sequence can be completed by ≤ 3 bytes drawn from 80, 90, A0: each of the
// ranges Unicode Table 3-7 allows after a lead byte (80–BF, A0–BF, 80–9F, 90–BF, 80–8F) contains one of them.
const COMPLETIONS: Buffer[] = [Buffer.alloc(0)];
for (let n = 1; n <= 3; n++) {
  const grow = COMPLETIONS.filter((c) => c.length === n - 1);
  for (const c of grow)
    for (const b of [0x80, 0x90, 0xa0]) COMPLETIONS.push(Buffer.concat([c, Buffer.from([b])]));
}

/** Whether some continuation makes `prefix` valid UTF-8 (built on the native validator alone). */
function canStartValidUtf8(prefix: Uint8Array): boolean {
  return COMPLETIONS.some((c) => isUtf8(Buffer.concat([prefix, c])));
}

/** Index of the first byte after which `data` can no longer be valid UTF-8, or -1. */
function firstInvalidByte(data: Uint8Array): number {
  if (canStartValidUtf8(data)) return -1;
  // Prefix validity is monotone (a bad prefix stays bad), so binary search for the shortest bad prefix.
  let lo = 1;
  let hi = data.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (canStartValidUtf8(data.subarray(0, mid))) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

test("the reference: firstInvalidByte finds the byte that breaks known sequences", () => {
  assert.equal(firstInvalidByte(bytes("61 62 63")), -1);
  assert.equal(firstInvalidByte(bytes("61 e2 82")), -1, "truncated, but still a valid start");
  assert.equal(firstInvalidByte(bytes("61 c0 80")), 1, "C0 can never start a sequence");
  assert.equal(firstInvalidByte(bytes("61 e0 80 80")), 2, "E0 80 is overlong");
  assert.equal(firstInvalidByte(bytes("ed a0 80")), 1, "ED A0 is a surrogate");
  assert.equal(firstInvalidByte(bytes("f4 90 80 80")), 1, "F4 90 is above U+10FFFF");
  assert.equal(firstInvalidByte(bytes("e2 82 ac 80")), 3, "lone continuation after a complete €");
});

// ---- byte vectors --------------------------------------------------------------------------------------

const VALID = [
  ["ASCII", "hello"],
  ["2-byte é", "héllo"],
  ["3-byte €", "price: 5€"],
  ["4-byte 👋 and 𝄞", "hi 👋 𝄞"],
  ["U+0000", "\u0000"],
  ["U+007F, U+0080", "\u007f\u0080"],
  ["U+07FF, U+0800", "\u07ff\u0800"],
  ["U+D7FF, U+E000 (around the surrogates)", "\ud7ff\ue000"],
  ["U+FFFF, U+10000", "\uffff\u{10000}"],
  ["U+10FFFF (F4 8F BF BF)", "\u{10ffff}"],
  ["the empty string", ""],
] as const;

const INVALID = [
  ["overlong C0 80", "c0 80"],
  ["overlong C1 BF", "c1 bf"],
  ["overlong E0 80 80", "e0 80 80"],
  ["overlong E0 9F BF", "e0 9f bf"],
  ["overlong F0 80 80 80", "f0 80 80 80"],
  ["overlong F0 8F BF BF", "f0 8f bf bf"],
  ["surrogate ED A0 80 (U+D800)", "ed a0 80"],
  ["surrogate ED BF BF (U+DFFF)", "ed bf bf"],
  ["above U+10FFFF: F4 90 80 80", "f4 90 80 80"],
  ["F5 80 80 80", "f5 80 80 80"],
  ["FE", "fe"],
  ["FF", "ff"],
  ["lone continuation 80", "80"],
  ["lone continuation BF after ASCII", "61 bf"],
  ["continuation after a complete sequence: E2 82 AC 80", "e2 82 ac 80"],
  ["lead byte followed by ASCII: C3 41", "c3 41"],
  ["truncated 2-byte C3 at end of message", "61 c3"],
  ["truncated 3-byte E2 82 at end of message", "61 e2 82"],
  ["truncated 4-byte F0 9F 98 at end of message", "61 f0 9f 98"],
] as const;

/** The ways a text message can reach the protocol: three code paths (native at end, streamed, fragmented). */
function deliveries(role: Role, payload: Buffer): [string, Buffer[]][] {
  const whole = frameTo(role, { opcode: 0x1, payload });
  const fragments = Buffer.concat(
    payload.length === 0
      ? [frameTo(role, { opcode: 0x1, payload })]
      : [...payload].map((b, i) =>
          frameTo(role, {
            opcode: i === 0 ? 0x1 : 0x0,
            payload: Buffer.from([b]),
            fin: i === payload.length - 1,
          }),
        ),
  );
  return [
    ["in one frame, one chunk", [whole]],
    ["in one frame, byte by byte", [...whole].map((b) => Buffer.from([b]))],
    ["one byte per fragment", [fragments]],
  ];
}

describe("RFC 6455 §8.1 UTF-8: valid text", () => {
  for (const role of ROLES) {
    for (const [name, str] of VALID) {
      const payload = Buffer.from(str, "utf8");
      for (const [how, chunks] of deliveries(role, payload)) {
        test(`${role} receives text with ${name} ${how} → delivered unchanged`, () => {
          assert.deepEqual(createPeer(role).feed(...chunks), [text(str)]);
        });
      }
    }
  }
});

describe("RFC 6455 §8.1 UTF-8: invalid text fails the connection with 1007", () => {
  for (const role of ROLES) {
    for (const [name, hexBytes] of INVALID) {
      const payload = bytes(hexBytes);
      for (const [how, chunks] of deliveries(role, payload)) {
        test(`${role} receives text with ${name} ${how} → fails with 1007`, () => {
          assert.deepEqual(createPeer(role).feed(...chunks), failure(role, 1007, "SJ_ERR_INVALID_UTF8"));
        });
      }
    }

    test(`${role} receives the same invalid bytes as a binary message → delivered (UTF-8 is only for text)`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x2, payload: bytes("c0 80 ed a0 80 ff") })), [
        binary("c0 80 ed a0 80 ff"),
      ]);
    });
  }
});

describe("RFC 6455 §8.1 UTF-8: fail fast", () => {
  for (const role of ROLES) {
    test(`${role} receives an invalid byte in the first of three fragments → fails before the others arrive`, () => {
      const peer = createPeer(role);
      const first = frameTo(role, { opcode: 0x1, payload: bytes("61 62 ff 63"), fin: false });
      assert.deepEqual(peer.feed(first), failure(role, 1007, "SJ_ERR_INVALID_UTF8"));
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x0, payload: "def", fin: false })), []);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x0, payload: "ghi" })), []);
    });

    test(`${role} receives a frame in chunks with an invalid byte in the second → fails on that chunk, before the frame is complete`, () => {
      const peer = createPeer(role);
      const payload = Buffer.concat([
        Buffer.from("valid start "),
        bytes("ed a0 80"),
        Buffer.from(" and more"),
      ]);
      const wire = frameTo(role, { opcode: 0x1, payload });
      const headerLength = wire.length - payload.length;
      const [head, bad, rest] = splitAt(wire, [headerLength + 5, headerLength + 14]);
      assert.deepEqual(peer.feed(head), []);
      assert.deepEqual(peer.feed(bad), failure(role, 1007, "SJ_ERR_INVALID_UTF8"));
      assert.deepEqual(peer.feed(rest), []);
    });

    test(`${role} receives E0 at the end of one chunk and 80 at the start of the next → fails on the second chunk, mid-frame`, () => {
      const peer = createPeer(role);
      const payload = bytes("61 e0 80 80 62 63");
      const wire = frameTo(role, { opcode: 0x1, payload });
      const headerLength = wire.length - payload.length;
      const [head, second, rest] = splitAt(wire, [headerLength + 2, headerLength + 3]);
      assert.deepEqual(peer.feed(head), []);
      assert.deepEqual(peer.feed(second), failure(role, 1007, "SJ_ERR_INVALID_UTF8"));
      assert.deepEqual(peer.feed(rest), []);
    });

    test(`${role} receives F4 ending one fragment and 90 starting the next → fails on the second fragment, before FIN`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: bytes("61 f4"), fin: false })), []);
      assert.deepEqual(
        peer.feed(frameTo(role, { opcode: 0x0, payload: bytes("90 80 80"), fin: false })),
        failure(role, 1007, "SJ_ERR_INVALID_UTF8"),
      );
    });

    test(`${role} receives a fragmented message ending in a truncated sequence → fails on the final fragment`, () => {
      const peer = createPeer(role);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x1, payload: bytes("61 e2"), fin: false })), []);
      assert.deepEqual(peer.feed(frameTo(role, { opcode: 0x0, payload: bytes("82"), fin: false })), []);
      assert.deepEqual(
        peer.feed(frameTo(role, { opcode: 0x0, payload: "" })),
        failure(role, 1007, "SJ_ERR_INVALID_UTF8"),
      );
    });

    for (const [name, str] of [
      ["€ (E2 82 AC)", "€"],
      ["👋 (F0 9F 91 8B)", "👋"],
      ["é (C3 A9)", "é"],
    ] as const) {
      const encoded = Buffer.from(`a${str}b`);
      for (let cut = 1; cut < encoded.length; cut++) {
        test(`${role} receives ${name} split across two fragments at byte ${cut} → accepted`, () => {
          const peer = createPeer(role);
          const input = Buffer.concat([
            frameTo(role, { opcode: 0x1, payload: encoded.subarray(0, cut), fin: false }),
            frameTo(role, { opcode: 0x0, payload: encoded.subarray(cut) }),
          ]);
          assert.deepEqual(peer.feed(input), [text(`a${str}b`)]);
        });

        test(`${role} receives ${name} split across two chunks of one frame at payload byte ${cut} → accepted`, () => {
          const peer = createPeer(role);
          const wire = frameTo(role, { opcode: 0x1, payload: encoded });
          assert.deepEqual(peer.feed(...splitAt(wire, [wire.length - encoded.length + cut])), [
            text(`a${str}b`),
          ]);
        });
      }
    }

    test(`${role} receives 👋 one byte per fragment, each fragment in two chunks → accepted`, () => {
      const peer = createPeer(role);
      const encoded = Buffer.from("👋");
      const frames = [...encoded].map((b, i) =>
        frameTo(role, { opcode: i === 0 ? 0x1 : 0x0, payload: Buffer.from([b]), fin: i === 3 }),
      );
      const chunks = frames.flatMap((f) => splitAt(f, [f.length - 1]));
      assert.deepEqual(peer.feed(...chunks), [text("👋")]);
    });

    test(`${role} receives a binary message ending in E2, then a text message starting with 82 AC → 1007 (no state leaks between messages)`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x2, payload: bytes("e2"), fin: false }),
        frameTo(role, { opcode: 0x0, payload: bytes("e2") }),
        frameTo(role, { opcode: 0x1, payload: bytes("82 ac"), fin: false }),
        frameTo(role, { opcode: 0x0, payload: "" }),
      ]);
      assert.deepEqual(peer.feed(input), [binary("e2 e2"), ...failure(role, 1007, "SJ_ERR_INVALID_UTF8")]);
    });

    test(`${role} receives two fragmented text messages → the second is validated from a clean state`, () => {
      const peer = createPeer(role);
      const input = Buffer.concat([
        frameTo(role, { opcode: 0x1, payload: bytes("e2 82"), fin: false }),
        frameTo(role, { opcode: 0x0, payload: bytes("ac") }),
        frameTo(role, { opcode: 0x1, payload: bytes("f0 9f"), fin: false }),
        frameTo(role, { opcode: 0x0, payload: bytes("91 8b") }),
      ]);
      assert.deepEqual(peer.feed(input), [text("€"), text("👋")]);
    });
  }
});

// ---- properties ----------------------------------------------------------------------------------------

const INTERESTING = [
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef,
  0xf0, 0xf1, 0xf4, 0xf5, 0xff,
];

/** Byte strings that are often valid UTF-8, often almost valid, and sometimes random. */
const utf8ish = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  fc.string({ unit: "binary", maxLength: 16 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc
    .tuple(
      fc.string({ unit: "binary", minLength: 1, maxLength: 16 }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INTERESTING)), { minLength: 1, maxLength: 2 }),
    )
    .map(([s, edits]) => {
      const out = new Uint8Array(Buffer.from(s));
      for (const [at, b] of edits) out[at % out.length] = b;
      return out;
    }),
  fc.array(fc.constantFrom(...INTERESTING), { maxLength: 12 }).map((a) => new Uint8Array(a)),
);

/** Sorted cut points into a byte string of length `n`. */
const cutsFor = (n: number) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: n }), { maxLength: Math.min(n + 1, 8) })
    .map((c) => c.sort((a, b) => a - b));

const withCuts = utf8ish.chain((data) => fc.tuple(fc.constant(data), cutsFor(data.length)));

describe("Utf8StreamValidator (RFC 6455 §8.1 fail fast), against the native validator", () => {
  test("accepts Buffer.from(string) of any string, in any pieces, and the bytes decode back to the string", () => {
    fc.assert(
      fc.property(
        fc
          .string({ unit: "binary", maxLength: 40 })
          .chain((s) => fc.tuple(fc.constant(s), cutsFor(Buffer.byteLength(s)))),
        ([s, cuts]) => {
          const encoded = Buffer.from(s, "utf8");
          const validator = new Utf8StreamValidator();
          for (const piece of splitAt(encoded, cuts)) assert.equal(validator.feed(piece), true);
          assert.equal(validator.complete, true);
          assert.equal(encoded.toString("utf8"), s);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("for any bytes and any split: feed(all pieces) && complete === isUtf8(all)", () => {
    fc.assert(
      fc.property(withCuts, ([data, cuts]) => {
        const validator = new Utf8StreamValidator();
        let ok = true;
        for (const piece of splitAt(data, cuts)) if (ok) ok = validator.feed(piece);
        assert.equal(ok && validator.complete, isUtf8(data));
      }),
      { numRuns: 2000 },
    );
  });

  test("for any bytes and any split: feed returns false exactly on the piece holding the first impossible byte", () => {
    fc.assert(
      fc.property(withCuts, ([data, cuts]) => {
        const bad = firstInvalidByte(data);
        const validator = new Utf8StreamValidator();
        let offset = 0;
        for (const piece of splitAt(data, cuts)) {
          const ok = validator.feed(piece);
          const holdsBad = bad >= offset && bad < offset + piece.length;
          assert.equal(
            ok,
            !holdsBad,
            `piece at ${offset} (length ${piece.length}), first bad byte at ${bad}`,
          );
          if (!ok) return;
          offset += piece.length;
        }
        assert.equal(bad, -1);
      }),
      { numRuns: 2000 },
    );
  });

  test("every 1- and 2-byte string, whole and byte by byte → same verdict as isUtf8 and the reference", () => {
    for (let a = 0; a < 256; a++) {
      for (let b = -1; b < 256; b++) {
        const data = b < 0 ? Buffer.from([a]) : Buffer.from([a, b]);
        const whole = new Utf8StreamValidator();
        const wholeOk = whole.feed(data) && whole.complete;
        if (wholeOk !== isUtf8(data)) assert.fail(`${data.toString("hex")}: whole ${wholeOk}`);
        const bytewise = new Utf8StreamValidator();
        let failedAt = -1;
        for (let i = 0; i < data.length && failedAt < 0; i++)
          if (!bytewise.feed(data.subarray(i, i + 1))) failedAt = i;
        if (failedAt !== firstInvalidByte(data))
          assert.fail(`${data.toString("hex")}: failed at ${failedAt}`);
      }
    }
  });

  test("every lead byte C0–FF followed by boundary continuation bytes, 3 and 4 long → same verdict as isUtf8", () => {
    const edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
    for (let lead = 0xc0; lead < 0x100; lead++) {
      for (const b of edges) {
        for (const c of edges) {
          for (const d of [-1, ...edges]) {
            const data = Buffer.from(d < 0 ? [lead, b, c] : [lead, b, c, d]);
            const v = new Utf8StreamValidator();
            const ok = v.feed(data.subarray(0, 1)) && v.feed(data.subarray(1)) && v.complete;
            if (ok !== isUtf8(data)) assert.fail(`${data.toString("hex")}: ${ok}`);
          }
        }
      }
    }
  });

  test("reset() after an open sequence starts clean", () => {
    const validator = new Utf8StreamValidator();
    assert.equal(validator.feed(bytes("e2 82")), true);
    assert.equal(validator.complete, false);
    validator.reset();
    assert.equal(validator.complete, true);
    assert.equal(validator.feed(bytes("41")), true, "41 would be invalid inside E2 82 __");
  });
});

describe("RFC 6455 §8.1 UTF-8: fail fast through the protocol, for any bytes, fragments and chunks", () => {
  for (const role of ROLES) {
    test(`${role} fails with 1007 on the chunk holding the first impossible byte (or the message's end), else delivers`, () => {
      fc.assert(
        fc.property(
          utf8ish.chain((data) =>
            fc.tuple(fc.constant(data), cutsFor(data.length), fc.uniqueArray(fc.nat(), { maxLength: 6 })),
          ),
          ([data, fragmentCuts, chunkSeeds]) => {
            const payload = Buffer.from(data);
            // Frame the payload as fragments, remembering where each payload byte lands on the wire.
            const pieces = splitAt(payload, fragmentCuts);
            const frames: Buffer[] = [];
            const wireOffset: number[] = [];
            let at = 0;
            pieces.forEach((piece, i) => {
              const f = frameTo(role, {
                opcode: i === 0 ? 0x1 : 0x0,
                payload: piece,
                fin: i === pieces.length - 1,
              });
              const start = at + f.length - piece.length;
              for (let j = 0; j < piece.length; j++) wireOffset.push(start + j);
              frames.push(f);
              at += f.length;
            });
            const wire = Buffer.concat(frames);
            const chunkCuts = [...new Set(chunkSeeds.map((s) => s % (wire.length + 1)))].sort(
              (a, b) => a - b,
            );
            const bad = firstInvalidByte(payload);
            // The wire byte after which the verdict is known: the bad byte, or the message's last byte.
            const decisive = bad >= 0 ? wireOffset[bad] : wire.length - 1;

            const peer = createPeer(role);
            let offset = 0;
            for (const chunk of splitAt(wire, chunkCuts)) {
              const events = peer.feed(chunk);
              const holdsDecisive = decisive >= offset && decisive < offset + chunk.length;
              if (!holdsDecisive) {
                assert.deepEqual(events, [], `no event before the decisive byte (chunk at ${offset})`);
              } else if (isUtf8(payload)) {
                assert.deepEqual(events, [text(payload.toString("utf8"))]);
              } else {
                assert.deepEqual(events, failure(role, 1007, "SJ_ERR_INVALID_UTF8"));
              }
              offset += chunk.length;
            }
          },
        ),
        { numRuns: 1000 },
      );
    });
  }
});
