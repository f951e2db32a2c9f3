import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { UNMASK_WHILE_COPYING_MIN } from "../../src/protocol/frame-parser.js";
import { codec, referenceCompress, until } from "../deflate/helpers.js";
import { binary, clientFrame, createPeer, createServer, failure, text } from "./helpers.js";

// Large masked pieces of a message in several pieces are unmasked while they are copied into the message
// (FrameSink.onMaskedPayload) instead of in place and then copied. Whatever the fragmentation, the cuts of
// the byte stream and the alignment of the pieces, the server must deliver the bytes the client masked.

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** `message` as masked frames of the given payload sizes (the last one FIN), each with its own key. */
function fragmented(opcode: number, message: Buffer, sizes: readonly number[]): Buffer {
  const frames: Buffer[] = [];
  let at = 0;
  sizes.forEach((size, i) => {
    const last = i === sizes.length - 1;
    const payload = message.subarray(at, last ? message.length : at + size);
    at += payload.length;
    frames.push(clientFrame({ opcode: i === 0 ? opcode : 0, payload, fin: last, mask: randomBytes(4) }));
  });
  return Buffer.concat(frames);
}

/** Feeds `wire` to a fresh server in chunks cut at `cuts`, each chunk at an odd offset of its ArrayBuffer. */
function receive(wire: Buffer, cuts: readonly number[]) {
  const server = createServer({ maxPayloadBytes: 4 * 1024 * 1024 });
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    const backing = Buffer.allocUnsafeSlow(cut - from + 8);
    const chunk = backing.subarray(3, 3 + cut - from);
    wire.copy(chunk, 0, from, cut);
    server.protocol.receive(chunk);
    from = cut;
  }
  return server.events;
}

describe("RFC 6455 §5.3/§5.4 Masked messages in several pieces, unmasked while copied", () => {
  test("server receives a 1.5 MiB binary message in 24 masked fragments, cut into 64 KiB reads", () => {
    const message = randomBytes(1.5 * 1024 * 1024 + 5);
    const sizes = Array.from({ length: 24 }, (_, i) => 65536 + 1 + i);
    const wire = fragmented(0x2, message, sizes);
    const cuts = [];
    for (let at = 65536; at < wire.length; at += 65536) cuts.push(at);
    assert.deepEqual(receive(wire, cuts), [binary(message)]);
  });

  test("server receives one 64 KiB frame split across two reads at every alignment", () => {
    const message = randomBytes(65536);
    const wire = clientFrame({ opcode: 0x2, payload: message, mask: KEY });
    for (let cut = 100; cut < 108; cut++) {
      assert.deepEqual(receive(wire, [cut]), [binary(message)], `cut at ${cut}`);
    }
  });

  test("pieces of any size, fragments and cuts: the same message (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20_000 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 30_000 }), { maxLength: 6 }),
        (length, sizes, cutsRaw) => {
          const message = randomBytes(length);
          const wire = fragmented(0x2, message, sizes);
          const cuts = [...new Set(cutsRaw.filter((c) => c < wire.length))].sort((a, b) => a - b);
          assert.deepEqual(receive(wire, cuts), [binary(message)]);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("server receives multi-byte UTF-8 text of 200 KB in large masked pieces: validated and delivered", () => {
    const message = "aé€😀".repeat(20_000);
    const wire = fragmented(0x1, Buffer.from(message), [50_001, 70_003, 1]);
    assert.deepEqual(receive(wire, [40_000, 100_001, 150_000]), [text(message)]);
  });

  test("server receives invalid UTF-8 inside a large piece of a text message → fails with 1007", () => {
    const bytes = Buffer.from("a".repeat(3 * UNMASK_WHILE_COPYING_MIN));
    bytes[2 * UNMASK_WHILE_COPYING_MIN + 7] = 0xff;
    const wire = fragmented(0x1, bytes, [UNMASK_WHILE_COPYING_MIN, 2 * UNMASK_WHILE_COPYING_MIN]);
    const events = receive(wire, [UNMASK_WHILE_COPYING_MIN + 20]);
    assert.deepEqual(
      events.slice(-failure("server", 1007, "SJ_ERR_INVALID_UTF8").length),
      failure("server", 1007, "SJ_ERR_INVALID_UTF8"),
    );
    assert.ok(!events.some((e) => e.type === "text"), "no text delivered");
  });

  test("server receives a 300 KB compressed message in large masked fragments, cut anywhere → inflated whole (RFC 7692 §7.2.1)", async () => {
    const message = randomBytes(300_000); // incompressible: the compressed bytes are as many
    const compressed = referenceCompress(message); // §7.2.1: without the 00 00 ff ff tail
    const sizes = [40_001, 150_003, 1];
    const frames: Buffer[] = [];
    let at = 0;
    sizes.forEach((size, i) => {
      const lastFrame = i === sizes.length - 1;
      const payload = compressed.subarray(at, lastFrame ? compressed.length : at + size);
      at += payload.length;
      frames.push(
        clientFrame({
          opcode: i === 0 ? 0x2 : 0,
          rsv1: i === 0,
          payload,
          fin: lastFrame,
          mask: randomBytes(4),
        }),
      );
    });
    const wire = Buffer.concat(frames);
    const server = createPeer("server", { extension: codec(), maxPayloadBytes: 1024 * 1024 });
    for (let from = 0; from < wire.length; from += 65536) {
      server.protocol.receive(Buffer.from(wire.subarray(from, from + 65536)));
    }
    await until(() => server.events.length >= 1, 5000, "the inflated message");
    assert.deepEqual(server.events, [binary(message)]);
  });
});
