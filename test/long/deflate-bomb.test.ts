import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import zlib from "node:zlib";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { RawPeer } from "../deflate/helpers.js";

// The bomb at full size: a message of ~1 MiB that inflates to 1 GiB, sent over a real socket to a
// server allowing 64 MiB messages. The server must answer 1009 having held at most about the limit: its RSS
// (this process; the raw client holds only the 1 MiB it sends) may not grow by 2× the limit.

/** 1 GiB of zeros as raw DEFLATE with a sync flush, minus the 00 00 ff ff tail (RFC 7692 §7.2.1). */
async function gigabyteBomb(): Promise<Buffer> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => chunks.push(chunk));
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < 1024; i++) {
    if (!deflate.write(zeros)) await once(deflate, "drain");
  }
  await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  deflate.close();
  const out = Buffer.concat(chunks);
  assert.equal(out.subarray(-4).toString("hex"), "0000ffff");
  return out.subarray(0, -4);
}

test("a 1 MiB message inflating to 1 GiB, maxPayloadBytes 64 MiB → Close 1009; server RSS grows < 128 MiB", async (t) => {
  const limit = 64 << 20;
  const bomb = await gigabyteBomb();
  assert.ok(bomb.length < 1.1 * (1 << 20), `bomb is ${bomb.length} bytes`);

  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    maxPayloadBytes: limit,
    perMessageDeflate: true,
  });
  await once(server, "listening");
  const peer = await RawPeer.connect((server.address() as AddressInfo).port, "permessage-deflate");
  t.after(async () => {
    peer.destroy();
    await server.close();
  });
  assert.match(peer.header("sec-websocket-extensions") ?? "", /^permessage-deflate/);

  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  const started = Date.now();
  peer.send({ opcode: 2, rsv1: true, payload: bomb });
  try {
    assert.equal(await peer.closeCode(30_000), 1009);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const grew = peak - before;
  assert.ok(
    grew < 2 * limit,
    `RSS grew ${(grew / 1048576).toFixed(1)} MiB for a ${limit / 1048576} MiB limit`,
  );
  t.diagnostic(`RSS grew ${(grew / 1048576).toFixed(1)} MiB; 1009 after ${Date.now() - started} ms`);
});
