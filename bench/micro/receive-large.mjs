// Micro-benchmark of the receive path for large masked messages, without sockets: a server-side Protocol
// fed masked binary frames in fresh chunks of 64 KiB (what a TCP read gives), so most messages arrive in
// several pieces. µs per message, the minimum and median of 15 rounds (on a busy machine the minimum is the
// steadier figure), for 64 KiB and 1 MiB messages. Given several builds
// (dist folders), it interleaves them round by round in one process, so that load changes hit all alike.
// Run: npm run build && node bench/micro/receive-large.mjs [dist …]   (default: this tree's dist/)
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const ROUNDS = 15;
const READ = 64 * 1024;
const dists = process.argv.slice(2).map((d) => resolve(d));
if (dists.length === 0) dists.push(resolve(new URL("../../dist", import.meta.url).pathname));

/** A masked binary frame (RFC 6455 §5.2), built here so that the writer under test plays no part. */
function maskedFrame(payload) {
  const key = randomBytes(4);
  const head = Buffer.alloc(payload.length < 65536 ? 4 : 10);
  head[0] = 0x82;
  if (payload.length < 65536) {
    head[1] = 0xfe;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head[1] = 0xff;
    head.writeUInt32BE(Math.floor(payload.length / 2 ** 32), 2);
    head.writeUInt32BE(payload.length >>> 0, 6);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

let received = 0;
const protocols = [];
for (const dist of dists) {
  const { Protocol } = await import(pathToFileURL(`${dist}/protocol/protocol.js`).href);
  const handler = {
    write() {},
    onMessage(data) {
      received += data.length;
    },
    onPing() {},
    onPong() {},
    onCloseFrame() {},
    onFailure(error) {
      throw error;
    },
  };
  protocols.push(new Protocol({ role: "server", maxPayloadBytes: 64 * 1024 * 1024 }, handler));
}

for (const size of [64 * 1024, 1024 * 1024]) {
  // 4 MiB of frames, received over and over; each 64 KiB read is a fresh buffer, as Node's reads are (its
  // copy is part of the time, as the kernel's copy into it is part of a real read).
  const frames = (4 * 1024 * 1024) / size;
  const wire = Buffer.concat(Array.from({ length: frames }, () => maskedFrame(randomBytes(size))));
  const passes = 4;
  const samples = dists.map(() => []);
  for (let round = 0; round < ROUNDS + 2; round++) {
    protocols.forEach((protocol, i) => {
      const t0 = process.hrtime.bigint();
      for (let pass = 0; pass < passes; pass++) {
        for (let at = 0; at < wire.length; at += READ) {
          protocol.receive(Buffer.from(wire.subarray(at, at + READ)));
        }
      }
      if (round >= 2) samples[i].push(Number(process.hrtime.bigint() - t0) / (frames * passes));
    });
  }
  dists.forEach((dist, i) => {
    const sorted = samples[i].sort((a, b) => a - b);
    const [min, med] = [sorted[0], sorted[ROUNDS >> 1]].map((ns) => (ns / 1000).toFixed(2));
    console.log(`${size} B: ${min} µs per message (min), ${med} (median)  ${dist}`);
  });
}
if (received === -1) console.log(received);
