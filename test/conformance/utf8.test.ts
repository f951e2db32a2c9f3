// Autobahn category 6 — RFC 6455 §8.1 UTF-8 handling: every valid sequence is echoed byte for byte however
// it is cut (one frame, byte by byte, one frame per byte); every invalid one (overlong forms, surrogates,
// code points above U+10FFFF, stray continuation bytes, truncated sequences) fails the connection with 1007
// — and fails it fast: the Close arrives as soon as the bytes can no longer be valid, before the rest of
// the frame or the message is sent. No "non-strict" cases.

import assert from "node:assert/strict";
import { describe } from "node:test";
import { OP } from "./peers.js";
import { bothRoles, type Session } from "./session.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const kosme = Buffer.from("κόσμε", "utf8"); // Autobahn's sample: cebae1bdb9cf83cebcceb5

/** Valid UTF-8 (Unicode Table 3-7), including the boundaries of every sequence length. */
const VALID: [string, Buffer][] = [
  ["ASCII 'Hello-µ@ßöäüàá-UTF-8!!'", Buffer.from("Hello-µ@ßöäüàá-UTF-8!!", "utf8")],
  ["'κόσμε' (2- and 3-byte sequences)", kosme],
  ["U+0000", hex("00")],
  ["U+007F (last 1-byte)", hex("7f")],
  ["U+0080 (first 2-byte)", hex("c2 80")],
  ["U+07FF (last 2-byte)", hex("df bf")],
  ["U+0800 (first 3-byte)", hex("e0 a0 80")],
  ["U+D7FF (before the surrogates)", hex("ed 9f bf")],
  ["U+E000 (after the surrogates)", hex("ee 80 80")],
  ["U+FEFF inside text", Buffer.from("a\u{feff}b", "utf8")],
  ["U+FFFD", hex("ef bf bd")],
  ["U+FFFE and U+FFFF (noncharacters are valid UTF-8)", hex("ef bf be ef bf bf")],
  ["U+10000 (first 4-byte)", hex("f0 90 80 80")],
  ["U+1F600 (emoji)", hex("f0 9f 98 80")],
  ["U+10FFFF (last code point)", hex("f4 8f bf bf")],
  ["U+1FFFE, U+1FFFF … U+10FFFE, U+10FFFF", hex("f0 9f bf be f0 9f bf bf f4 8f bf be f4 8f bf bf")],
  ["a mix of every length", Buffer.from("a¢€𐍈z", "utf8")],
];

/** Invalid UTF-8, each with the index of the first byte at which it can no longer be valid. */
const INVALID: [string, Buffer, number][] = [
  // Overlong forms.
  ["overlong '/' C0 AF", hex("c0 af"), 0],
  ["overlong NUL C0 80", hex("c0 80"), 0],
  ["overlong C1 BF", hex("c1 bf"), 0],
  ["overlong 3-byte E0 80 AF", hex("e0 80 af"), 1],
  ["overlong 3-byte U+07FF E0 9F BF", hex("e0 9f bf"), 1],
  ["overlong 4-byte F0 80 80 AF", hex("f0 80 80 af"), 1],
  ["overlong 4-byte U+FFFF F0 8F BF BF", hex("f0 8f bf bf"), 1],
  ["5-byte form F8 80 80 80 AF", hex("f8 80 80 80 af"), 0],
  ["6-byte form FC 80 80 80 80 AF", hex("fc 80 80 80 80 af"), 0],
  // UTF-16 surrogates.
  ["surrogate U+D800 ED A0 80", hex("ed a0 80"), 1],
  ["surrogate U+DB7F ED AD BF", hex("ed ad bf"), 1],
  ["surrogate U+DC00 ED B0 80", hex("ed b0 80"), 1],
  ["surrogate U+DFFF ED BF BF", hex("ed bf bf"), 1],
  ["surrogate pair U+D800 U+DC00", hex("ed a0 80 ed b0 80"), 1],
  ["surrogate pair U+DBFF U+DFFF", hex("ed af bf ed bf bf"), 1],
  // Above U+10FFFF.
  ["U+110000 F4 90 80 80", hex("f4 90 80 80"), 1],
  ["F4 BF BF BF", hex("f4 bf bf bf"), 1],
  ["F5 80 80 80", hex("f5 80 80 80"), 0],
  ["F7 BF BF BF", hex("f7 bf bf bf"), 0],
  // Stray and missing continuation bytes.
  ["lone continuation 80", hex("80"), 0],
  ["lone continuation BF", hex("bf"), 0],
  ["continuations 80 BF 80 BF", hex("80 bf 80 bf"), 0],
  ["2-byte start followed by a space C2 20", hex("c2 20"), 1],
  ["3-byte start followed by a space E1 20", hex("e1 20"), 1],
  ["4-byte start followed by a space F1 20", hex("f1 20"), 1],
  ["3-byte sequence missing its last byte before ASCII E2 82 41", hex("e2 82 41"), 2],
  // Impossible bytes.
  ["FE", hex("fe"), 0],
  ["FF", hex("ff"), 0],
  ["FE FE FF FF", hex("fe fe ff ff"), 0],
  // Autobahn 6.3.1: valid text with a surrogate inside.
  ["'κόσμε' + U+D800 + 'edited'", Buffer.concat([kosme, hex("ed a0 80"), Buffer.from("edited")]), 12],
];

/** Truncated sequences: only invalid once the message ends. */
const TRUNCATED: [string, Buffer][] = [
  ["a 2-byte sequence missing its last byte (C2)", hex("c2")],
  ["a 3-byte sequence missing its last byte (E2 82)", hex("e2 82")],
  ["a 3-byte sequence missing 2 bytes (E0 A0)", hex("e0 a0")],
  ["a 4-byte sequence missing its last byte (F0 9F 98)", hex("f0 9f 98")],
  ["'κόσμε' + F4 8F BF (U+10FFFF cut short)", Buffer.concat([kosme, hex("f4 8f bf")])],
];

/** Sends `payload` as a text message of one frame per byte. */
async function sendFramePerByte(s: Session, payload: Buffer): Promise<void> {
  const frames = [];
  for (let i = 0; i < payload.length; i++) {
    frames.push(
      s.build({
        opcode: i === 0 ? OP.text : OP.continuation,
        payload: payload.subarray(i, i + 1),
        fin: i === payload.length - 1,
      }),
    );
  }
  await s.peer.write(Buffer.concat(frames));
}

describe("Autobahn 6.2–6.23 · RFC 6455 §8.1 valid UTF-8 is echoed byte for byte", () => {
  bothRoles("echoes an empty text message", async (s) => {
    await s.send({ opcode: OP.text, payload: "" });
    await s.expectEcho(OP.text, "");
    await s.closeNormally();
  });
  for (const [name, bytes] of VALID) {
    bothRoles(`echoes ${name} in one frame, one frame per byte, and one frame byte by byte`, async (s) => {
      await s.send({ opcode: OP.text, payload: bytes });
      await s.expectEcho(OP.text, bytes);
      await sendFramePerByte(s, bytes);
      await s.expectEcho(OP.text, bytes);
      await s.peer.writeBytewise(s.build({ opcode: OP.text, payload: bytes }), { awaitFirst: 64 });
      await s.expectEcho(OP.text, bytes);
      await s.closeNormally();
    });
  }
  bothRoles("echoes a 4-byte sequence split over 4 fragments, one byte each", async (s) => {
    const emoji = hex("f0 9f 98 80");
    await sendFramePerByte(s, emoji);
    await s.expectEcho(OP.text, emoji);
    await s.closeNormally();
  });
  bothRoles("echoes 64 KiB of 3-byte sequences cut at every offset by 997-byte chunks", async (s) => {
    const text = Buffer.from("€".repeat(21846), "utf8").subarray(0, 65535);
    await s.peer.writeChunked(s.build({ opcode: OP.text, payload: text }), 997);
    await s.expectEcho(OP.text, text);
    await s.closeNormally();
  });
});

describe("Autobahn 6.3–6.21 · RFC 6455 §8.1 invalid UTF-8 fails the connection with 1007", () => {
  for (const [name, bytes] of INVALID) {
    bothRoles(`fails with 1007 on ${name} in one frame`, async (s) => {
      await s.send({ opcode: OP.text, payload: bytes });
      await s.expectFailure(1007);
    });
    bothRoles(`fails with 1007 on ${name} sent one frame per byte`, async (s) => {
      await sendFramePerByte(s, bytes);
      await s.expectFailure(1007);
    });
  }
  for (const [name, bytes] of TRUNCATED) {
    bothRoles(`fails with 1007 on a text message ending in ${name}`, async (s) => {
      await s.send({ opcode: OP.text, payload: bytes });
      await s.expectFailure(1007);
    });
    bothRoles(
      `fails with 1007 on a fragmented text message whose final fragment ends in ${name}`,
      async (s) => {
        await s.send({ opcode: OP.text, payload: "start ", fin: false });
        await s.send({ opcode: OP.continuation, payload: bytes });
        await s.expectFailure(1007);
      },
    );
  }
  bothRoles(
    "fails with 1007 on invalid UTF-8 in the first of two fragments even though the second is valid",
    async (s) => {
      await s.send({
        opcode: OP.text,
        payload: hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80"),
        fin: false,
      });
      await s.send({ opcode: OP.continuation, payload: "edited" });
      await s.expectFailure(1007);
    },
  );
  bothRoles("does not check binary messages for UTF-8: echoes FF FE as binary", async (s) => {
    await s.send({ opcode: OP.binary, payload: hex("ff fe c0 80 ed a0 80") });
    await s.expectEcho(OP.binary, hex("ff fe c0 80 ed a0 80"));
    await s.closeNormally();
  });
});

describe("Autobahn 6.4 · RFC 6455 §8.1 fail fast: the Close comes before the rest of the message", () => {
  for (const [name, bytes, at] of INVALID) {
    bothRoles(`fails with 1007 on ${name} in fragment 1 of 3 before fragment 2 is sent`, async (s) => {
      await s.send({ opcode: OP.text, payload: Buffer.concat([kosme, bytes]), fin: false });
      // The Close must arrive now: fragments 2 and 3 are only sent if it does not (and then it fails).
      await s.expectFailure(1007);
    });
    bothRoles(`fails with 1007 on ${name} inside a frame whose rest has not been sent`, async (s) => {
      // A frame declaring 1000 bytes; only "κόσμε" and the invalid sequence up to its first bad byte go out.
      const whole = Buffer.alloc(1000, 0x61);
      const sent = Buffer.concat([kosme, bytes.subarray(0, at + 1)]);
      sent.copy(whole);
      const f = s.build({ opcode: OP.text, payload: whole });
      const headerSize = f.length - whole.length;
      await s.peer.write(f.subarray(0, headerSize + kosme.length));
      assert.ok(await s.peer.quietFor(20), "valid UTF-8 so far: no Close yet");
      await s.peer.write(f.subarray(headerSize + kosme.length, headerSize + sent.length));
      await s.expectFailure(1007);
    });
  }
  bothRoles(
    "fails with 1007 on F4 90 80 80 sent in 1-byte chunks 20 ms apart, at the 90 (6.4.4)",
    async (s) => {
      const payload = Buffer.concat([kosme, hex("f4 90 80 80"), Buffer.from("edited")]);
      const f = s.build({ opcode: OP.text, payload });
      const headerSize = f.length - payload.length;
      await s.peer.write(f.subarray(0, headerSize + kosme.length + 1)); // through the F4: still possibly valid
      assert.ok(await s.peer.quietFor(20), "F4 alone may start U+100000..U+10FFFF: no Close yet");
      await s.peer.write(f.subarray(headerSize + kosme.length + 1, headerSize + kosme.length + 2)); // the 90
      await s.expectFailure(1007);
    },
  );
  bothRoles(
    "fails with 1007 on κόσμε | F4 | 90 80 80 split over fragments, at the fragment holding 90 (6.4.2)",
    async (s) => {
      await s.send({ opcode: OP.text, payload: Buffer.concat([kosme, hex("f4")]), fin: false });
      assert.ok(await s.peer.quietFor(20), "F4 at the end of a fragment may still be valid");
      await s.send({ opcode: OP.continuation, payload: hex("90"), fin: false });
      await s.expectFailure(1007);
    },
  );
  bothRoles(
    "fails with 1007 on an invalid byte at the start of a 1 MB frame before the rest is sent",
    async (s) => {
      const f = s.build({ opcode: OP.text, payload: Buffer.alloc(1_000_000, 0x61) });
      const headerSize = f.length - 1_000_000;
      const chunk = Buffer.from(f.subarray(0, headerSize + 10));
      // Corrupt the 6th payload byte (XOR with the mask key byte when masked, so the unmasked byte is 0xFF).
      chunk[headerSize + 5] ^= 0x61 ^ 0xff;
      await s.peer.write(chunk);
      await s.expectFailure(1007);
    },
  );
});
