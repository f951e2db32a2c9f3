// What one received binary message costs to hand out, per binaryType, without any socket: a view of the
// read buffer ("nodebuffer") against a new ArrayBuffer holding a copy ("arraybuffer"). V8 makes every
// ArrayBuffer with its own backing store (allocation, zero-filling, external-memory accounting, and later
// the GC's sweeping), which is why the benchmark reports both types.
//
//   node bench/micro/arraybuffer.mjs        — prints ns per message for 32 B and 1 KiB
const ROUNDS = 3;
const N = 2_000_000;
const read = Buffer.allocUnsafe(64 * 1024).fill(7);
let sink = 0;

function nodebuffer(size) {
  for (let i = 0; i < N; i++) {
    const at = (i & 31) * (size + 6);
    sink += read.subarray(at, at + size).length;
  }
}

function arraybuffer(size) {
  for (let i = 0; i < N; i++) {
    const at = (i & 31) * (size + 6);
    const copy = new ArrayBuffer(size);
    new Uint8Array(copy).set(read.subarray(at, at + size));
    sink += copy.byteLength;
  }
}

for (const size of [32, 1024]) {
  for (const fn of [nodebuffer, arraybuffer]) {
    const times = [];
    for (let r = 0; r < ROUNDS; r++) {
      const start = process.hrtime.bigint();
      fn(size);
      times.push(Number(process.hrtime.bigint() - start) / N);
    }
    times.sort((a, b) => a - b);
    console.log(
      `${String(size).padStart(5)} B  ${fn.name.padEnd(12)} ${times[1].toFixed(0).padStart(5)} ns per message`,
    );
  }
}
if (sink === 0) console.log("");
