// Autobahn category 9 (and our limits) — large messages echoed whole, in one frame or in many fragments;
// RFC 6455 §10.4: a message over maxPayloadBytes or a message in more than maxFragmentsPerMessage frames
// fails the connection with 1009, decided from the frame header before any of the payload is sent.

import { describe } from "node:test";
import { OP } from "./peers.js";
import { bothRoles, type Session } from "./session.js";

const LIMITS = {
  server: { maxPayloadBytes: 65536, maxFragmentsPerMessage: 16 },
  client: { maxPayloadBytes: 65536, maxFragmentsPerMessage: 16 },
};

function bytes(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

function text(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 0x20 + (i % 95);
  return b;
}

/** Frames of `size` bytes (the last may be shorter) making one message. */
function fragments(s: Session, opcode: number, payload: Buffer, size: number): Buffer[] {
  const out = [];
  for (let at = 0; at < payload.length; at += size) {
    out.push(
      s.build({
        opcode: at === 0 ? opcode : OP.continuation,
        payload: payload.subarray(at, at + size),
        fin: at + size >= payload.length,
      }),
    );
  }
  return out;
}

describe("RFC 6455 §10.4 maxPayloadBytes (65536 here)", () => {
  bothRoles(
    "echoes a binary message of exactly maxPayloadBytes",
    async (s) => {
      await s.send({ opcode: OP.binary, payload: bytes(65536) });
      await s.expectEcho(OP.binary, bytes(65536));
      await s.closeNormally();
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 on a frame header declaring maxPayloadBytes + 1, before the payload is sent",
    async (s) => {
      await s.send({ opcode: OP.binary, length: 65537 });
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 on a text frame header declaring 2^32 bytes",
    async (s) => {
      await s.send({ opcode: OP.text, length: 2n ** 32n });
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 on a frame header declaring 2^53 - 1 bytes",
    async (s) => {
      await s.send({ opcode: OP.binary, length: 2n ** 53n - 1n });
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1002 on a 64-bit length with the most significant bit set (2^63), header only",
    async (s) => {
      // §5.2: "the most significant bit MUST be 0" — a protocol error, not a size.
      await s.send({ opcode: OP.binary, length: 2n ** 63n });
      await s.expectFailure(1002);
    },
    LIMITS,
  );
  bothRoles(
    "echoes a message of exactly maxPayloadBytes in 16 fragments",
    async (s) => {
      await s.peer.write(Buffer.concat(fragments(s, OP.binary, bytes(65536), 4096)));
      await s.expectEcho(OP.binary, bytes(65536));
      await s.closeNormally();
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 when a fragment's header takes the message past maxPayloadBytes, before its payload",
    async (s) => {
      await s.send({ opcode: OP.binary, payload: bytes(40000), fin: false });
      await s.send({ opcode: OP.continuation, payload: bytes(25536), fin: false });
      // 65536 so far: a 1-byte fragment is one too many; only its header goes out.
      await s.send({ opcode: OP.continuation, length: 1 });
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 on a text message over the limit whose bytes are valid UTF-8",
    async (s) => {
      await s.send({ opcode: OP.text, payload: text(30000), fin: false });
      await s.send({ opcode: OP.continuation, length: 40000 });
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "answers Pings between fragments while a message approaches the limit (control frames do not count)",
    async (s) => {
      await s.send({ opcode: OP.binary, payload: bytes(65000), fin: false });
      await s.send({ opcode: OP.ping, payload: Buffer.alloc(125, 1) });
      await s.expectPong(Buffer.alloc(125, 1));
      await s.send({ opcode: OP.continuation, payload: bytes(536) });
      await s.expectEcho(OP.binary, Buffer.concat([bytes(65000), bytes(536)]));
      await s.closeNormally();
    },
    LIMITS,
  );
  bothRoles(
    "keeps the limit per message: two messages of maxPayloadBytes each are both echoed",
    async (s) => {
      await s.send({ opcode: OP.binary, payload: bytes(65536, 1) });
      await s.send({ opcode: OP.binary, payload: bytes(65536, 2) });
      await s.expectEcho(OP.binary, bytes(65536, 1));
      await s.expectEcho(OP.binary, bytes(65536, 2));
      await s.closeNormally();
    },
    LIMITS,
  );
});

describe("maxPayloadBytes defaults: 1 MiB for the server", () => {
  bothRoles(
    "echoes a 1 MiB binary message with the default limit",
    async (s) => {
      await s.send({ opcode: OP.binary, payload: bytes(1 << 20) });
      await s.expectEcho(OP.binary, bytes(1 << 20));
      await s.closeNormally();
    },
    { sides: ["server"] },
  );
  bothRoles(
    "fails with 1009 on a header declaring 1 MiB + 1 with the default limit",
    async (s) => {
      await s.send({ opcode: OP.binary, length: (1 << 20) + 1 });
      await s.expectFailure(1009);
    },
    { sides: ["server"] },
  );
});

describe("maxFragmentsPerMessage (16 here)", () => {
  bothRoles(
    "echoes a text message in exactly maxFragmentsPerMessage fragments",
    async (s) => {
      await s.peer.write(Buffer.concat(fragments(s, OP.text, text(160), 10)));
      await s.expectEcho(OP.text, text(160));
      await s.closeNormally();
    },
    LIMITS,
  );
  bothRoles(
    "echoes a text message in more than maxFragmentsPerMessage fragments that carry bytes (17 × 10)",
    async (s) => {
      await s.peer.write(Buffer.concat(fragments(s, OP.text, text(170), 10)));
      await s.expectEcho(OP.text, text(170));
      await s.closeNormally();
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 on empty fragment maxFragmentsPerMessage + 1, at its header",
    async (s) => {
      const frames = [s.build({ opcode: OP.text, fin: false })];
      for (let i = 0; i < 15; i++) frames.push(s.build({ opcode: OP.continuation, fin: false }));
      await s.peer.write(Buffer.concat(frames));
      // Only the header of the 17th: it declares no payload, so the header alone is the frame.
      await s.send({ opcode: OP.continuation, fin: false });
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "fails with 1009 on a flood of empty fragments past the limit",
    async (s) => {
      const frames = [s.build({ opcode: OP.binary, fin: false })];
      for (let i = 0; i < 100; i++) frames.push(s.build({ opcode: OP.continuation, fin: false }));
      await s.peer.write(Buffer.concat(frames));
      await s.expectFailure(1009);
    },
    LIMITS,
  );
  bothRoles(
    "does not count control frames between fragments as fragments",
    async (s) => {
      const frames = fragments(s, OP.binary, bytes(160), 10);
      const wire = [];
      for (const f of frames) wire.push(f, s.build({ opcode: OP.pong }));
      await s.peer.write(Buffer.concat(wire));
      await s.expectEcho(OP.binary, bytes(160));
      await s.closeNormally();
    },
    LIMITS,
  );
});

const BIG = {
  server: { maxPayloadBytes: 16 << 20, maxFragmentsPerMessage: 65536 },
  client: {},
  timeout: 60_000,
};

describe("Autobahn 9.1/9.2 · large messages in one frame", () => {
  for (const [opcode, name] of [
    [OP.text, "text"],
    [OP.binary, "binary"],
  ] as const) {
    for (const size of [1 << 16, 1 << 18, 1 << 20, 1 << 22]) {
      bothRoles(
        `echoes a ${size / 1024} KiB ${name} message in one frame`,
        async (s) => {
          const payload = opcode === OP.text ? text(size) : bytes(size);
          await s.send({ opcode, payload });
          await s.expectEcho(opcode, payload, 20_000);
          await s.closeNormally();
        },
        BIG,
      );
    }
  }
});

describe("Autobahn 9.3/9.4 · a 4 MiB message in fragments of 4 KiB to 1 MiB", () => {
  for (const [opcode, name] of [
    [OP.text, "text"],
    [OP.binary, "binary"],
  ] as const) {
    for (const size of [1 << 12, 1 << 16, 1 << 20]) {
      bothRoles(
        `echoes a 4 MiB ${name} message sent in ${size / 1024} KiB fragments`,
        async (s) => {
          const payload = opcode === OP.text ? text(1 << 22) : bytes(1 << 22);
          await s.peer.write(Buffer.concat(fragments(s, opcode, payload, size)));
          await s.expectEcho(opcode, payload, 20_000);
          await s.closeNormally();
        },
        BIG,
      );
    }
  }
});

describe("Autobahn 9.5/9.6 · a 1 MiB message written in chunks of 64 B to 128 KiB", () => {
  for (const chunk of [64, 4096, 131072]) {
    bothRoles(
      `echoes a 1 MiB binary message written in ${chunk}-byte chunks`,
      async (s) => {
        const payload = bytes(1 << 20);
        await s.peer.writeChunked(s.build({ opcode: OP.binary, payload }), chunk);
        await s.expectEcho(OP.binary, payload, 20_000);
        await s.closeNormally();
      },
      BIG,
    );
  }
});
