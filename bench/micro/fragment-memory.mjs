// What a flood of tiny fragments costs the receiver (issue 14 item 3): feeds one message as N 1-byte frames
// to a Protocol (the built package, dist/) and prints the JS heap and ArrayBuffer memory it holds before the
// last frame. A fragment should cost its byte in one growing buffer, not an object per frame.
//
//   npm run build && node --expose-gc bench/micro/fragment-memory.mjs [fragments=4000000]
import { Protocol } from "../../dist/protocol/protocol.js";

const count = Number(process.argv[2] ?? 4_000_000);
let delivered = -1;
const protocol = new Protocol(
  { role: "server", maxPayloadBytes: 64 * 1024 * 1024 },
  {
    write() {},
    reserve: () => null,
    reservedAt: 0,
    commit() {},
    onMessage: (data) => (delivered = data.length),
    onPing() {},
    onPong() {},
    onCloseFrame() {},
    onFailure: (error) => console.log(`failed: ${error.message}`),
  },
);
// A masked 1-byte frame (the all-zero key leaves the byte as it is).
const frame = (opcode, fin) => Buffer.from([(fin ? 0x80 : 0) | opcode, 0x81, 0, 0, 0, 0, 0x61]);
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

globalThis.gc?.();
const before = process.memoryUsage();
protocol.receive(frame(0x2, false));
const BATCH = 10_000;
for (let sent = 1; sent < count - 1; sent += BATCH) {
  const n = Math.min(BATCH, count - 1 - sent);
  const chunk = Buffer.allocUnsafe(7 * n);
  for (let k = 0; k < n; k++) frame(0x0, false).copy(chunk, 7 * k);
  protocol.receive(chunk);
}
// Twice, a turn apart: ArrayBuffer backing stores are freed after the collection that finds them dead.
globalThis.gc?.();
await new Promise((resolve) => setImmediate(resolve));
globalThis.gc?.();
const held = process.memoryUsage();
protocol.receive(frame(0x0, true));
console.log(
  `${count} 1-byte fragments held: JS heap +${mib(held.heapUsed - before.heapUsed)}, ` +
    `ArrayBuffers +${mib(held.arrayBuffers - before.arrayBuffers)} (payload ${mib(count)}); delivered ${delivered} bytes`,
);
