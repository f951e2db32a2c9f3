import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { killAll, type Served, serve } from "../cli/helpers.js";
import { OP } from "./peers.js";
import { StreamPeer } from "./stream-peer.js";

// Issue 14 item 3: a message within maxPayloadBytes is accepted however it is fragmented (the shapes of
// Autobahn 9.3 and 9.4: 4 MiB in frames of 64 B … 4 KiB), against `sockjet serve --max-payload 16m` itself;
// a flood of 1-byte or empty fragments still ends with the right close, memory bounded by the payload limit.

const MIB = 1024 * 1024;
let served: Served;
const peers: StreamPeer[] = [];

before(async () => {
  served = await serve(["--max-payload", "16m"]);
});
after(() => {
  for (const peer of peers) peer.destroy();
  killAll();
});

async function open(): Promise<StreamPeer> {
  const peer = await StreamPeer.open(served.port);
  peers.push(peer);
  return peer;
}

function pattern(size: number): Buffer {
  const payload = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) payload.writeUInt32BE(i >>> 2, i);
  return payload;
}

describe("Autobahn 9.3/9.4 shapes: 4 MiB messages in small fragments, against sockjet serve --max-payload 16m", () => {
  for (const [opcode, name] of [
    [OP.text, "text (9.3)"],
    [OP.binary, "binary (9.4)"],
  ] as const) {
    for (const fragmentBytes of [64, 256, 1024, 4096]) {
      const frames = (4 * MIB) / fragmentBytes;
      // More than 1024 frames were refused with 1009 before (the old default count limit).
      const label = frames > 1024 ? "regression: " : "";
      test(`${label}server receives a 4 MiB ${name} message in ${fragmentBytes}-byte fragments (${frames} frames) → echoed whole`, async () => {
        const peer = await open();
        // Text must be UTF-8: ASCII digits; binary gets a counting pattern.
        const payload = opcode === OP.text ? Buffer.alloc(4 * MIB, "0123456789") : pattern(4 * MIB);
        peer.sendMessage(opcode, payload, fragmentBytes);
        const echo = await peer.readMessage(20_000);
        assert.equal(echo.opcode, opcode);
        assert.equal(echo.payload.length, payload.length);
        assert.ok(echo.payload.equals(payload), "the echo differs from what was sent");
        peer.destroy();
      });
    }
  }
});

describe("floods of tiny fragments still end with the right close", () => {
  test("server receives 1-byte fragments past maxPayloadBytes (16 MiB + 1 frames) → Close 1009 with a reason", async () => {
    const peer = await open();
    const one = Buffer.from([0x61]);
    const batch = 64 * 1024;
    // Sent in batches, so the test's own memory stays small; the server fails us right after 16 MiB.
    peer.sendFrame(OP.binary, one, false);
    let sent = 1;
    while (!peer.closed && sent <= 16 * MIB) {
      const frames: Buffer[] = [];
      for (let i = 0; i < batch; i++) frames.push(Buffer.from([0x00, 0x81, 0, 0, 0, 0, 0x61]));
      peer.socket.write(Buffer.concat(frames));
      sent += batch;
      if (!peer.socket.writableNeedDrain) continue;
      await new Promise((resolve) => peer.socket.once("drain", resolve));
    }
    const close = await peer.readFrame(10_000);
    assert.equal(close.opcode, OP.close);
    assert.equal(close.payload.readUInt16BE(0), 1009);
    assert.ok(close.payload.length > 2, "the Close frame carries a reason");
  });

  test("server receives empty fragments: after maxFragmentsPerMessage (1024) of them → Close 1009 with a reason", async () => {
    const peer = await open();
    peer.sendFrame(OP.binary, Buffer.alloc(0), false);
    const empty = Buffer.from([0x00, 0x80, 0, 0, 0, 0]);
    peer.socket.write(Buffer.concat(Array.from({ length: 100_000 }, () => empty)));
    const close = await peer.readFrame(10_000);
    assert.equal(close.opcode, OP.close);
    assert.equal(close.payload.readUInt16BE(0), 1009);
    assert.ok(close.payload.length > 2, "the Close frame carries a reason");
    await peer.waitClosed();
  });
});
