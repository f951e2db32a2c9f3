import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { applyMask, MaskKeyPool, maskInto } from "../../src/protocol/mask.js";
import { Protocol } from "../../src/protocol/protocol.js";
import {
  binary,
  bytes,
  clientFrame,
  closePayload,
  counting,
  createClient,
  createServer,
  failure,
  frame,
  hex,
  serverFrame,
  splitAt,
  text,
} from "./helpers.js";

/** The reference: byte i of a payload is XORed with key[i % 4] (§5.3), here offset by `keyOffset`. */
function referenceMask(data: Uint8Array, key: Uint8Array, keyOffset: number): Buffer {
  return Buffer.from(data.map((b, i) => b ^ key[(i + keyOffset) % 4]));
}

describe("RFC 6455 §5.1/§5.3 Masking: what each side accepts", () => {
  const opcodes = [
    ["text", 0x1, "hi"],
    ["binary", 0x2, "hi"],
    ["ping", 0x9, "hi"],
    ["pong", 0xa, "hi"],
    ["close", 0x8, closePayload(1000)],
  ] as const;

  for (const [name, opcode, payload] of opcodes) {
    test(`server receives an unmasked ${name} frame → fails with 1002`, () => {
      const server = createServer();
      assert.deepEqual(
        server.feed(serverFrame({ opcode, payload })),
        failure("server", 1002, "SJ_ERR_EXPECTED_MASK"),
      );
    });

    test(`client receives a masked ${name} frame → fails with 1002`, () => {
      const client = createClient();
      assert.deepEqual(
        client.feed(clientFrame({ opcode, payload })),
        failure("client", 1002, "SJ_ERR_UNEXPECTED_MASK"),
      );
    });
  }

  test("server receives an unmasked continuation inside a masked message → fails with 1002", () => {
    const server = createServer();
    server.feed(clientFrame({ opcode: 0x1, payload: "a", fin: false }));
    assert.deepEqual(
      server.feed(serverFrame({ opcode: 0x0, payload: "b" })),
      failure("server", 1002, "SJ_ERR_EXPECTED_MASK"),
    );
  });

  test("server receives an unmasked empty text frame 81 00 → writes 88 02 03 ea and fails", () => {
    assert.deepEqual(createServer().feed(bytes("81 00")), [
      { type: "write", bytes: "88 02 03 ea" },
      { type: "failure", closeCode: 1002, code: "SJ_ERR_EXPECTED_MASK" },
    ]);
  });

  test("client receives a masked empty text frame 81 80 00 00 00 00 → fails with 1002", () => {
    assert.deepEqual(
      createClient().feed(bytes("81 80 00 00 00 00")),
      failure("client", 1002, "SJ_ERR_UNEXPECTED_MASK"),
    );
  });

  test("server receives a frame masked with key 00 00 00 00 → accepted (the key's value is not checked)", () => {
    assert.deepEqual(createServer().feed(bytes("81 82 00 00 00 00 68 69")), [text("hi")]);
  });

  test("server receives frames with a different key each → each is unmasked with its own key", () => {
    const server = createServer();
    const input = Buffer.concat([
      frame({ opcode: 0x2, payload: counting(9), mask: bytes("01 02 03 04") }),
      frame({ opcode: 0x2, payload: counting(9), mask: bytes("ff 00 ff 00") }),
      frame({ opcode: 0x2, payload: counting(9), mask: bytes("00 00 00 00") }),
    ]);
    assert.deepEqual(server.feed(input), [binary(counting(9)), binary(counting(9)), binary(counting(9))]);
  });
});

describe("RFC 6455 §5.1/§5.3 Masking: what each side sends", () => {
  test("server sends text, binary, ping, pong and close unmasked (mask bit 0, no key)", () => {
    const server = createServer();
    server.protocol.send(Buffer.from("t"), true);
    server.protocol.send(bytes("0b"), false);
    server.protocol.ping(Buffer.from("p"));
    server.protocol.pong(Buffer.from("q"));
    server.protocol.close(1000, "");
    assert.deepEqual(
      server.take().map((e) => (e.type === "write" ? e.bytes : e.type)),
      ["81 01 74", "82 01 0b", "89 01 70", "8a 01 71", "88 02 03 e8"],
    );
  });

  test("client masks every frame it sends, each with a fresh key from the pool", () => {
    const written: Buffer[] = [];
    const client = new Protocol(
      { role: "client" },
      {
        write: (chunk) => written.push(Buffer.from(chunk)),
        onMessage() {},
        onPing() {},
        onPong() {},
        onCloseFrame() {},
        onFailure() {},
      },
    );
    const payload = Buffer.from("same payload");
    for (let i = 0; i < 8; i++) client.send(payload, true);
    client.ping(payload);
    client.close(1000, "bye");
    assert.equal(written.length, 10);
    const keys = new Set<string>();
    for (const out of written) {
      assert.equal(out[1] & 0x80, 0x80, "mask bit set");
      const length = out[1] & 0x7f;
      const key = out.subarray(2, 6);
      keys.add(hex(key));
      const unmasked = referenceMask(out.subarray(6), key, 0);
      assert.equal(unmasked.length, length);
      if (out[0] === 0x88) assert.deepEqual(unmasked, closePayload(1000, "bye"));
      else assert.deepEqual(unmasked, payload);
    }
    // 10 random 32-bit keys collide with probability ~1e-8.
    assert.equal(keys.size, 10, "every frame has its own key");
    assert.equal(payload.toString(), "same payload", "the caller's buffer is left intact");
  });

  for (const length of [0, 1, 31, 32, 125, 126, 1024, 1025, 70000]) {
    test(`client sends a ${length}-byte binary message → masked, caller's bytes intact, server reads it back`, () => {
      const client = createClient();
      // A subarray at an odd offset: masking must not assume alignment of the caller's buffer.
      const backing = randomBytes(length + 3);
      const payload = backing.subarray(3);
      const original = Buffer.from(payload);
      client.protocol.send(payload, false);
      assert.deepEqual(payload, original, "payload not modified");
      const wire = client
        .take()
        .map((e) => (e.type === "write" ? Buffer.from(e.bytes.replace(/ /g, ""), "hex") : bytes()));
      assert.deepEqual(createServer().feed(...wire), [binary(original)]);
    });
  }
});

describe("RFC 6455 §5.3 Masking: applyMask at every alignment", () => {
  const key = bytes("37 fa 21 3d");
  const lengths = [...Array.from({ length: 101 }, (_, i) => i), 127, 128, 1000, 4099, 65537];

  for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
    test(`applyMask on a subarray at byteOffset ${byteOffset}, keyOffset 0..3, lengths 0..100 and large → matches the byte-wise XOR and round-trips`, () => {
      for (const length of lengths) {
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const backing = randomBytes(byteOffset + length + 8);
          const before = Buffer.from(backing);
          const view = new Uint8Array(backing.buffer, backing.byteOffset + byteOffset, length);
          const original = Buffer.from(view);
          applyMask(view, key, keyOffset);
          const expected = referenceMask(original, key, keyOffset);
          if (!Buffer.from(view).equals(expected)) {
            assert.fail(`length ${length}, keyOffset ${keyOffset}: masked bytes differ from byte-wise XOR`);
          }
          assert.ok(
            backing.subarray(0, byteOffset).equals(before.subarray(0, byteOffset)) &&
              backing.subarray(byteOffset + length).equals(before.subarray(byteOffset + length)),
            `length ${length}, keyOffset ${keyOffset}: bytes outside the view changed`,
          );
          applyMask(view, key, keyOffset);
          assert.ok(
            Buffer.from(view).equals(original),
            `length ${length}, keyOffset ${keyOffset}: no round trip`,
          );
        }
      }
    });
  }

  test("applyMask of a payload in two pieces, the second with keyOffset = first length % 4 → same as in one piece", () => {
    const payload = randomBytes(300);
    const whole = referenceMask(payload, key, 0);
    for (let cut = 0; cut <= payload.length; cut++) {
      const copy = Buffer.from(payload);
      applyMask(copy.subarray(0, cut), key, 0);
      applyMask(copy.subarray(cut), key, cut & 3);
      if (!copy.equals(whole)) assert.fail(`cut at ${cut}: pieces masked differently from the whole`);
    }
  });

  test("maskInto writes src XOR key at every destination offset, leaving src and the rest of dst intact", () => {
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [0, 3, 31, 32, 33, 100, 1000]) {
        const src = randomBytes(length);
        const srcCopy = Buffer.from(src);
        const dst = Buffer.alloc(offset + length + 5, 0xee);
        maskInto(src, dst, offset, key);
        assert.deepEqual(src, srcCopy);
        assert.deepEqual(dst.subarray(offset, offset + length), referenceMask(src, key, 0));
        assert.ok(dst.subarray(0, offset).every((b) => b === 0xee));
        assert.ok(dst.subarray(offset + length).every((b) => b === 0xee));
      }
    }
  });

  test("server receives a 2000-byte masked frame in chunks cut at every offset 1..7 → unmasked correctly", () => {
    const payload = randomBytes(2000);
    const wire = clientFrame({ opcode: 0x2, payload });
    for (let first = 1; first < 8; first++) {
      for (let size = 1; size < 8; size++) {
        const cuts: number[] = [];
        for (let at = 8 + first; at < wire.length; at += 1000 + size) cuts.push(at);
        const server = createServer();
        assert.deepEqual(
          server.feed(...splitAt(wire, cuts)),
          [binary(payload)],
          `first ${first}, size ${size}`,
        );
      }
    }
  });
});

describe("RFC 6455 §5.3/§10.3 Masking: MaskKeyPool", () => {
  test("gives 4-byte keys, each different from the last, across several pool refills", () => {
    const pool = new MaskKeyPool();
    const seen = new Set<string>();
    let previous = "";
    // 10,000 keys span five refills of the 8 KiB pool.
    for (let i = 0; i < 10_000; i++) {
      const key = pool.next();
      assert.equal(key.length, 4);
      const keyHex = key.toString("hex");
      assert.notEqual(keyHex, previous, `key ${i} repeats key ${i - 1}`);
      previous = keyHex;
      seen.add(keyHex);
    }
    // Random 32-bit keys: about 0.01 expected collisions among 10,000.
    assert.ok(seen.size >= 9990, `only ${seen.size} distinct keys out of 10,000`);
  });

  test("two pools do not hand out the same sequence", () => {
    const a = new MaskKeyPool();
    const b = new MaskKeyPool();
    const seqA = Array.from({ length: 16 }, () => a.next().toString("hex")).join();
    const seqB = Array.from({ length: 16 }, () => b.next().toString("hex")).join();
    assert.notEqual(seqA, seqB);
  });
});
