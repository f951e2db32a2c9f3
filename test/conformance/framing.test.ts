// Autobahn category 1 — RFC 6455 §5.2 base framing: text and binary messages of every length encoding
// (7-bit, 16-bit and 64-bit), in one write and byte by byte, echoed byte for byte by both of our roles.

import { describe } from "node:test";
import { OP } from "./peers.js";
import { bothRoles } from "./session.js";

/** Deterministic text of `n` bytes (ASCII, so any cut is valid UTF-8). */
function text(n: number): string {
  let s = "";
  while (s.length < n) s += "Hello, sockjet! 0123456789 abcdefghijklmnopqrstuvwxyz ";
  return s.slice(0, n);
}

/** Deterministic bytes covering every value. */
function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

// 7-bit lengths up to 125, 126 switches to the 16-bit form, 65536 to the 64-bit form (§5.2 "Payload length").
const LENGTHS = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537, 200_000];

describe("Autobahn 1.1 · RFC 6455 §5.2 text messages of every length encoding", () => {
  for (const n of LENGTHS) {
    bothRoles(`echoes a ${n}-byte text message sent in one write`, async (s) => {
      await s.send({ opcode: OP.text, payload: text(n) });
      await s.expectEcho(OP.text, text(n));
      await s.closeNormally();
    });
  }
  for (const n of LENGTHS) {
    bothRoles(`echoes a ${n}-byte text message sent byte by byte`, async (s) => {
      await s.peer.writeBytewise(s.build({ opcode: OP.text, payload: text(n) }));
      await s.expectEcho(OP.text, text(n));
      await s.closeNormally();
    });
  }
});

describe("Autobahn 1.2 · RFC 6455 §5.2 binary messages of every length encoding", () => {
  for (const n of LENGTHS) {
    bothRoles(`echoes a ${n}-byte binary message sent in one write`, async (s) => {
      await s.send({ opcode: OP.binary, payload: bytes(n) });
      await s.expectEcho(OP.binary, bytes(n));
      await s.closeNormally();
    });
  }
  for (const n of LENGTHS) {
    bothRoles(`echoes a ${n}-byte binary message sent byte by byte`, async (s) => {
      await s.peer.writeBytewise(s.build({ opcode: OP.binary, payload: bytes(n) }));
      await s.expectEcho(OP.binary, bytes(n));
      await s.closeNormally();
    });
  }
  bothRoles("echoes a 65536-byte binary message sent in 997-byte chunks", async (s) => {
    await s.peer.writeChunked(s.build({ opcode: OP.binary, payload: bytes(65536) }), 997);
    await s.expectEcho(OP.binary, bytes(65536));
    await s.closeNormally();
  });
  bothRoles("echoes 100 binary messages written back to back in one write, in order", async (s) => {
    const frames = [];
    for (let i = 0; i < 100; i++) frames.push(s.build({ opcode: OP.binary, payload: bytes(i * 7) }));
    await s.peer.write(Buffer.concat(frames));
    for (let i = 0; i < 100; i++) await s.expectEcho(OP.binary, bytes(i * 7));
    await s.closeNormally();
  });
});

describe("RFC 6455 §5.2 the minimal number of bytes MUST be used to encode the length", () => {
  // Autobahn does not test the receiving side of this; Chromium fails such a frame with 1002
  // (net/websockets/websocket_frame_parser.cc), and so do we, in both roles.
  bothRoles(
    "fails with 1002 on a 5-byte text message whose length is written in the 16-bit form",
    async (s) => {
      const f = s.build({ opcode: OP.text, payload: "hello" });
      // Rebuild the header by hand with length 126 + 0x0005.
      const masked = s.peer.masks;
      const head = Buffer.from([0x81, (masked ? 0x80 : 0) | 126, 0, 5]);
      await s.peer.write(Buffer.concat([head, f.subarray(2)]));
      await s.expectFailure(1002);
    },
  );
  bothRoles(
    "fails with 1002 on a 200-byte binary message whose length is written in the 64-bit form",
    async (s) => {
      const f = s.build({ opcode: OP.binary, payload: bytes(200) });
      // The 16-bit form (126, 0x00c8) rewritten as the 64-bit one (127, 0x00000000000000c8).
      const head = Buffer.from([0x82, f[1] | 1, 0, 0, 0, 0, 0, 0, 0, 200]);
      await s.peer.write(Buffer.concat([head, f.subarray(4)]));
      await s.expectFailure(1002);
    },
  );
  bothRoles(
    "echoes 126 bytes in the 16-bit form and 65,536 in the 64-bit form (the shortest ones)",
    async (s) => {
      for (const size of [126, 65536]) {
        await s.peer.write(s.build({ opcode: OP.binary, payload: bytes(size) }));
        await s.expectEcho(OP.binary, bytes(size));
      }
      await s.closeNormally();
    },
  );
});
