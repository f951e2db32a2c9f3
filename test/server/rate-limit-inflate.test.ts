import assert from "node:assert/strict";
import { describe, test } from "node:test";
import zlib from "node:zlib";
import {
  clientFrame,
  nextConnection,
  OP,
  onMessage,
  RawClient,
  type ServerFrame,
  startServer,
  waitFor,
} from "./helpers.js";

// The byte rate bounds what a compressed message inflates to, not only its bytes on the wire (attack review,
// echo-inflate-amp: 1 KB frames inflating to 1 MiB passed `--byte-rate 64k`, 200 MiB in about a second).
// What inflating adds is charged to the byte bucket once the message is decoded (RFC 6455 §10.4, RFC 7692
// §8.1). Real compressed frames (RSV1, RFC 7692 §7.2.1) on real sockets.

/** A masked text frame with a permessage-deflate payload (RSV1 set, the 00 00 ff ff tail removed). */
function compressedTextFrame(text: string): Buffer {
  const deflated = zlib.deflateRawSync(Buffer.from(text), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const frame = clientFrame(OP.text, deflated.subarray(0, deflated.length - 4));
  frame[0] |= 0x40;
  return frame;
}

async function deflateClient(t: Parameters<typeof startServer>[0], port: number): Promise<RawClient> {
  const raw = await RawClient.connect(t, port);
  const head = await raw.handshake("/", { "Sec-WebSocket-Extensions": "permessage-deflate" });
  assert.match(head.header("sec-websocket-extensions") ?? "", /permessage-deflate/);
  return raw;
}

async function readUntilClose(raw: RawClient, ms = 5000): Promise<ServerFrame[]> {
  const frames: ServerFrame[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const frame = await raw.readFrame(Math.max(1, deadline - Date.now()));
    frames.push(frame);
    if (frame.opcode === OP.close) return frames;
  }
}

describe("rateLimit.bytesPerSecond counts what a compressed message inflates to", () => {
  test('"close": messages of 200 KB inflated from a few hundred bytes each are cut with 1008 after the first', async (t) => {
    const { server, port } = await startServer(t, {
      perMessageDeflate: true,
      rateLimit: { bytesPerSecond: 64_000 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await deflateClient(t, port);
    const [socket] = await accepted;
    const sizes: number[] = [];
    onMessage(socket, (data: string) => sizes.push(data.length));
    const bomb = compressedTextFrame("a".repeat(200_000));
    assert.ok(bomb.length < 1000, `${bomb.length} bytes on the wire`);
    raw.write(Buffer.concat(Array.from({ length: 5 }, () => bomb)));
    const frames = await readUntilClose(raw);
    const close = frames.at(-1)!;
    assert.equal(close.payload.readUInt16BE(0), 1008);
    assert.equal(close.payload.subarray(2).toString(), "rate limit exceeded (64000 bytes/s)");
    // The first passed on a full bucket (larger than the burst, not refused forever); it left a debt.
    assert.deepEqual(sizes, [200_000]);
  });

  test('"close": a message that inflates past what the bucket holds is refused and not delivered', async (t) => {
    const { server, port } = await startServer(t, {
      perMessageDeflate: true,
      rateLimit: { bytesPerSecond: 1000, byteBurst: 50_000 },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await deflateClient(t, port);
    const [socket] = await accepted;
    const sizes: number[] = [];
    onMessage(socket, (data: string) => sizes.push(data.length));
    // 30,000 then 30,000 inflated: the second does not fit in the 20,000 left (and 1,000/s of refill).
    raw.write(
      Buffer.concat([compressedTextFrame("b".repeat(30_000)), compressedTextFrame("c".repeat(30_000))]),
    );
    const frames = await readUntilClose(raw);
    assert.equal(frames.at(-1)!.payload.readUInt16BE(0), 1008);
    assert.deepEqual(sizes, [30_000]);
  });

  test('"pause": inflated messages are delivered at the byte rate, in order, none lost', async (t) => {
    const rate = 200_000;
    const size = 100_000;
    const { server, port } = await startServer(t, {
      perMessageDeflate: true,
      rateLimit: { bytesPerSecond: rate, onExceeded: "pause" },
      pingIntervalMs: 0,
    });
    const accepted = nextConnection(server);
    const raw = await deflateClient(t, port);
    const [socket] = await accepted;
    const received: string[] = [];
    let overLimit = "";
    const started = performance.now();
    onMessage(socket, (data: string) => {
      received.push(data[0]);
      const elapsed = performance.now() - started;
      // What may have been delivered by now: the burst, the refill since, and one message of slack.
      const allowed = rate + (rate * elapsed) / 1000 + size;
      if (received.length * size > allowed && overLimit === "")
        overLimit = `${received.length * size} bytes delivered after ${elapsed.toFixed(0)} ms`;
    });
    const letters = ["d", "e", "f", "g", "h"];
    raw.write(Buffer.concat(letters.map((letter) => compressedTextFrame(letter.repeat(size)))));
    await waitFor(() => received.length === letters.length, 10_000, "every message");
    assert.deepEqual(received, letters);
    assert.equal(overLimit, "", "the inflated bytes were not charged");
  });
});
