// Micro-benchmark: the WebAssembly SIMD masker against the JS loops, in place (applyMask) and from one buffer
// into another (maskInto, src and dst aligned alike mod 8 and misaligned), at sizes around the thresholds
// in src/protocol/mask.ts and up to 1 MiB. ns per call, the median of 11 rounds of ~20 ms, all cases
// interleaved round by round.
// Run: npm run build && node bench/micro/mask-simd.mjs

import { applyMaskJs, maskIntoJs } from "../../dist/protocol/mask.js";
import { loadSimdMasker } from "../../dist/protocol/mask-simd.js";

const ROUNDS = 11;
const TARGET_NS = 20e6;
const simd = loadSimdMasker(globalThis.WebAssembly);
if (simd === null) {
  console.log("WebAssembly SIMD is not available here: the JS loops are used.");
  process.exit(0);
}

function calibrate(run) {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(n);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 5e6) return Math.max(1, Math.ceil((n * TARGET_NS) / ns));
    n *= 4;
  }
}

const SIZES = [256, 512, 1024, 2048, 4096, 16384, 65536, 1 << 20];
const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const word = key.readInt32LE(0);
const NAMES = ["in place, JS", "in place, SIMD", "into aligned, JS", "into misaligned, JS", "into, SIMD"];
const cases = [];
for (const size of SIZES) {
  const buf = Buffer.alloc(size + 16, 0x5a).subarray(8, 8 + size);
  const src = Buffer.alloc(size + 16, 0x5a).subarray(8, 8 + size);
  const dst = Buffer.alloc(size + 16);
  const aligned = (src.byteOffset - dst.byteOffset) & 7;
  const misaligned = aligned ^ 1;
  cases.push(
    (n) => {
      for (let i = 0; i < n; i++) applyMaskJs(buf, key, 0);
    },
    (n) => {
      for (let i = 0; i < n; i++) simd.maskInto(buf, buf, 0, word);
    },
    (n) => {
      for (let i = 0; i < n; i++) maskIntoJs(src, dst, aligned, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) maskIntoJs(src, dst, misaligned, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) simd.maskInto(src, dst, misaligned, word);
    },
  );
}
const counts = cases.map(calibrate);
const samples = cases.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  cases.forEach((run, i) => {
    const t0 = process.hrtime.bigint();
    run(counts[i]);
    samples[i].push(Number(process.hrtime.bigint() - t0) / counts[i]);
  });
}
const medians = samples.map((s) => s.sort((a, b) => a - b)[ROUNDS >> 1]);
const width = Math.max(...NAMES.map((n) => n.length));
console.log(`ns per call (median of ${ROUNDS}), node ${process.version}`);
console.log(`${"".padEnd(width)}  ${SIZES.map((s) => String(s).padStart(8)).join("  ")}`);
NAMES.forEach((name, row) => {
  const cells = SIZES.map((_, col) => medians[col * NAMES.length + row].toFixed(0).padStart(8));
  console.log(`${name.padEnd(width)}  ${cells.join("  ")}`);
});
