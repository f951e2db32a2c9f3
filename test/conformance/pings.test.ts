// Autobahn category 2 — RFC 6455 §5.5.2/§5.5.3 pings and pongs: a Ping is answered by a Pong with the same
// payload (0–125 bytes, any bytes, byte by byte), a control frame over 125 bytes fails the connection with
// 1002, unsolicited Pongs are ignored, and control frames may come between the fragments of a message.

import { describe } from "node:test";
import { closePayload, OP } from "./peers.js";
import { bothRoles } from "./session.js";

const every = Buffer.from(Array.from({ length: 125 }, (_, i) => (i * 53 + 7) & 0xff));

describe("Autobahn 2 · RFC 6455 §5.5.2 Ping → Pong with the same application data", () => {
  bothRoles("answers a Ping without payload with an empty Pong", async (s) => {
    await s.send({ opcode: OP.ping });
    await s.expectPong("");
    await s.closeNormally();
  });
  bothRoles("answers a Ping with a 10-byte text payload with the same Pong", async (s) => {
    await s.send({ opcode: OP.ping, payload: "Hello-ping" });
    await s.expectPong("Hello-ping");
    await s.closeNormally();
  });
  bothRoles("answers a Ping with binary payload (bytes 0x00–0xff) with the same Pong", async (s) => {
    const payload = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
    await s.send({ opcode: OP.ping, payload });
    await s.expectPong(payload);
    await s.closeNormally();
  });
  bothRoles("answers a Ping with a 125-byte payload with the same Pong", async (s) => {
    await s.send({ opcode: OP.ping, payload: every });
    await s.expectPong(every);
    await s.closeNormally();
  });
  bothRoles("fails the connection with 1002 on a Ping with a 126-byte payload", async (s) => {
    await s.send({ opcode: OP.ping, payload: Buffer.alloc(126, 0x61) });
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a Ping whose header alone declares 126 bytes", async (s) => {
    // §5.5: the length is checked from the header; the payload is never sent.
    await s.send({ opcode: OP.ping, length: 126 });
    await s.expectFailure(1002);
  });
  bothRoles("fails the connection with 1002 on a Ping with a 64-bit length of 65536", async (s) => {
    await s.send({ opcode: OP.ping, length: 65536 });
    await s.expectFailure(1002);
  });
  bothRoles("answers a 125-byte Ping sent byte by byte with the same Pong", async (s) => {
    await s.peer.writeBytewise(s.build({ opcode: OP.ping, payload: every }), { awaitFirst: 200 });
    await s.expectPong(every);
    await s.closeNormally();
  });
  bothRoles("ignores an unsolicited empty Pong and echoes the next message", async (s) => {
    await s.send({ opcode: OP.pong });
    await s.send({ opcode: OP.text, payload: "after pong" });
    await s.expectEcho(OP.text, "after pong");
    await s.closeNormally();
  });
  bothRoles("ignores an unsolicited 125-byte Pong and echoes the next message", async (s) => {
    await s.send({ opcode: OP.pong, payload: every });
    await s.send({ opcode: OP.text, payload: "after pong" });
    await s.expectEcho(OP.text, "after pong");
    await s.closeNormally();
  });
  bothRoles("ignores an unsolicited Pong, then answers a Ping with its own payload", async (s) => {
    await s.send({ opcode: OP.pong, payload: "unsolicited" });
    await s.send({ opcode: OP.ping, payload: "solicited" });
    await s.expectPong("solicited");
    await s.closeNormally();
  });
  bothRoles("fails the connection with 1002 on a Pong with a 126-byte payload", async (s) => {
    await s.send({ opcode: OP.pong, payload: Buffer.alloc(126, 0x62) });
    await s.expectFailure(1002);
  });
  bothRoles("answers 10 Pings written in one write with 10 Pongs in order", async (s) => {
    const pings = [];
    for (let i = 0; i < 10; i++) pings.push(s.build({ opcode: OP.ping, payload: `ping ${i}` }));
    await s.peer.write(Buffer.concat(pings));
    for (let i = 0; i < 10; i++) await s.expectPong(`ping ${i}`);
    await s.closeNormally();
  });
  bothRoles("answers 10 Pings of 125 bytes sent byte by byte with 10 Pongs in order", async (s) => {
    const pings = [];
    for (let i = 0; i < 10; i++) pings.push(s.build({ opcode: OP.ping, payload: Buffer.alloc(125, i) }));
    await s.peer.writeBytewise(Buffer.concat(pings), { awaitEvery: 16 });
    for (let i = 0; i < 10; i++) await s.expectPong(Buffer.alloc(125, i));
    await s.closeNormally();
  });
  bothRoles(
    "answers a Ping between the fragments of a text message before echoing the message",
    async (s) => {
      await s.send({ opcode: OP.text, payload: "frag1-", fin: false });
      await s.send({ opcode: OP.ping, payload: "between" });
      await s.send({ opcode: OP.continuation, payload: "frag2" });
      await s.expectPong("between");
      await s.expectEcho(OP.text, "frag1-frag2");
      await s.closeNormally();
    },
  );
  bothRoles("ignores a Pong between the fragments of a binary message", async (s) => {
    await s.send({ opcode: OP.binary, payload: Buffer.from([1, 2]), fin: false });
    await s.send({ opcode: OP.pong, payload: "between" });
    await s.send({ opcode: OP.continuation, payload: Buffer.from([3]), fin: false });
    await s.send({ opcode: OP.continuation, payload: Buffer.from([4]) });
    await s.expectEcho(OP.binary, Buffer.from([1, 2, 3, 4]));
    await s.closeNormally();
  });
  bothRoles(
    "sends no Pong for a Ping that follows the peer's Close (§5.5.1: nothing after Close)",
    async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(1000) });
      await s.send({ opcode: OP.ping, payload: "too late" });
      await s.expectCloseEcho(1000);
    },
  );
});
