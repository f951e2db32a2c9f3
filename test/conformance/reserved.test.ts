// Autobahn categories 3 and 4 — RFC 6455 §5.2: RSV1–3 must be 0 unless an extension defines them (none is
// negotiated here), and opcodes 0x3–0x7 and 0xB–0xF are reserved. Either fails the connection with 1002,
// checked from the header, and whatever follows the bad frame (a Ping, say) gets no answer.

import { describe } from "node:test";
import { OP } from "./peers.js";
import { bothRoles } from "./session.js";

const RSV_CASES: { name: string; rsv: { rsv1?: boolean; rsv2?: boolean; rsv3?: boolean } }[] = [
  { name: "RSV1", rsv: { rsv1: true } },
  { name: "RSV2", rsv: { rsv2: true } },
  { name: "RSV3", rsv: { rsv3: true } },
  { name: "RSV1+RSV2", rsv: { rsv1: true, rsv2: true } },
  { name: "RSV1+RSV3", rsv: { rsv1: true, rsv3: true } },
  { name: "RSV2+RSV3", rsv: { rsv2: true, rsv3: true } },
  { name: "RSV1+RSV2+RSV3", rsv: { rsv1: true, rsv2: true, rsv3: true } },
];

describe("Autobahn 3 · RFC 6455 §5.2 reserved bits without a negotiated extension", () => {
  for (const { name, rsv } of RSV_CASES) {
    bothRoles(`fails the connection with 1002 on a text frame with ${name} set`, async (s) => {
      await s.send({ opcode: OP.text, payload: "Hello", ...rsv });
      await s.expectFailure(1002);
    });
  }
  bothRoles(
    "echoes a valid message, then fails with 1002 on an RSV2 frame and ignores the Ping after it",
    async (s) => {
      await s.send({ opcode: OP.text, payload: "valid" });
      await s.expectEcho(OP.text, "valid");
      await s.peer.write(
        Buffer.concat([
          s.build({ opcode: OP.text, payload: "bad", rsv2: true }),
          s.build({ opcode: OP.ping, payload: "no answer" }),
        ]),
      );
      await s.expectFailure(1002);
    },
  );
  bothRoles("fails with 1002 on an RSV3 text frame sent byte by byte, before its payload", async (s) => {
    const bad = s.build({ opcode: OP.text, payload: "Hello", rsv3: true });
    // Only the header (2 bytes + the mask key from a client) goes out; the Close must come anyway.
    await s.peer.writeBytewise(bad.subarray(0, s.peer.masks ? 6 : 2));
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a binary frame with RSV1+RSV2 set", async (s) => {
    await s.send({ opcode: OP.binary, payload: Buffer.from([0, 0xff]), rsv1: true, rsv2: true });
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a Ping with RSV1+RSV3 set", async (s) => {
    await s.send({ opcode: OP.ping, payload: "Hello", rsv1: true, rsv3: true });
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a Pong with RSV2 set", async (s) => {
    await s.send({ opcode: OP.pong, payload: "Hello", rsv2: true });
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a Close with RSV1 set", async (s) => {
    await s.send({ opcode: OP.close, payload: Buffer.from([0x03, 0xe8]), rsv1: true });
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a continuation frame with RSV1 set", async (s) => {
    await s.send({ opcode: OP.text, payload: "frag1", fin: false });
    await s.send({ opcode: OP.continuation, payload: "frag2", rsv1: true });
    await s.expectFailure(1002);
  });
});

describe("Autobahn 4 · RFC 6455 §5.2/§11.8 reserved opcodes", () => {
  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    const hex = `0x${opcode.toString(16).toUpperCase()}`;
    bothRoles(`fails the connection with 1002 on a frame with reserved opcode ${hex}`, async (s) => {
      await s.send({ opcode });
      await s.expectFailure(1002);
    });
    bothRoles(
      `echoes a message, then fails with 1002 on opcode ${hex} with payload and ignores the Ping after it`,
      async (s) => {
        await s.send({ opcode: OP.text, payload: "valid" });
        await s.expectEcho(OP.text, "valid");
        await s.peer.write(
          Buffer.concat([
            s.build({ opcode, payload: "reserved opcode payload" }),
            s.build({ opcode: OP.ping, payload: "no answer" }),
          ]),
        );
        await s.expectFailure(1002);
      },
    );
  }
  bothRoles("fails with 1002 on a non-final frame with reserved opcode 0x3", async (s) => {
    await s.send({ opcode: 0x3, payload: "x", fin: false });
    await s.expectFailure(1002);
  });
  bothRoles("fails with 1002 on reserved opcode 0xB between the fragments of a message", async (s) => {
    await s.send({ opcode: OP.text, payload: "frag1", fin: false });
    await s.send({ opcode: 0xb, payload: "" });
    await s.expectFailure(1002);
  });
});

describe("RFC 6455 §5.1 masking is required of clients and forbidden to servers", () => {
  bothRoles("fails with 1002 on a frame masked the wrong way for the peer's role", async (s) => {
    // The raw client sends unmasked (our server: §5.1 "close the connection upon receiving a frame that is
    // not masked"); the raw server sends masked (our client: "close ... if it detects a masked frame").
    await s.peer.write(
      s.peer.masks
        ? Buffer.from([0x81, 0x02, 0x68, 0x69])
        : Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6b]),
    );
    await s.expectFailure(1002);
  });
});
