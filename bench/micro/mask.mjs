// Micro-benchmark of the masking primitives: ns per call of maskInto, applyMask and a masked writeFrame at
// 32 B, 1 KiB, 64 KiB and 1 MiB. (The implementation before the 64-bit and one-pass paths, commit a9817ef,
// measured 93–101 / 239–254 / 9,600 / 156,000 ns for maskInto and 24 / 168–200 / 8,250 / 132,000 ns for
// applyMask on this machine.)
// Run: npm run build && node bench/micro/mask.mjs   (each figure is the median of 11 rounds of ~20 ms)
import { writeFrame } from "../../dist/protocol/frame-writer.js";
import { applyMask, MaskKeyPool, maskInto } from "../../dist/protocol/mask.js";

// ---- Harness ----

const ROUNDS = 11;
const TARGET_NS = 20e6;

/** Calibrates `run(n)` (n calls) to ~20 ms; every case is calibrated before any is timed (JIT settled). */
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

/** Times all cases round-robin (so load changes hit all alike); the median ns per call of each. */
function measureAll(cases) {
  const counts = cases.map(([, run]) => calibrate(run));
  for (const [i, [, run]] of cases.entries()) run(counts[i]);
  const samples = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    cases.forEach(([, run], i) => {
      const t0 = process.hrtime.bigint();
      run(counts[i]);
      samples[i].push(Number(process.hrtime.bigint() - t0) / counts[i]);
    });
  }
  return samples.map((s) => s.sort((a, b) => a - b)[ROUNDS >> 1]);
}

const SIZES = [
  ["32 B", 32],
  ["1 KiB", 1024],
  ["64 KiB", 64 * 1024],
  ["1 MiB", 1024 * 1024],
];
const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const keys = new MaskKeyPool();
const frameOptions = { fin: true, rsv1: false, maskKeys: keys };
let sink = 0;
const out = {
  write(chunk) {
    sink += chunk.length;
  },
};

const NAMES = ["maskInto, aligned", "maskInto, skewed", "applyMask", "writeFrame masked"];
const cases = [];
for (const [, size] of SIZES) {
  // A payload the way callers pass it: a Buffer (pooled below 4 KiB, so at an arbitrary offset).
  const src = Buffer.allocUnsafe(size).fill(0x5a);
  // Destinations at the same alignment as src mod 8 (the word path) and one byte off (the copy + mask).
  const dst = Buffer.allocUnsafe(size + 16);
  const aligned = (src.byteOffset - dst.byteOffset) & 7;
  const skewed = aligned ^ 1;
  const inPlace = Buffer.allocUnsafe(size).fill(0x5a);
  const runs = [
    (n) => {
      for (let i = 0; i < n; i++) maskInto(src, dst, aligned, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) maskInto(src, dst, skewed, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) applyMask(inPlace, key, 0);
    },
    (n) => {
      for (let i = 0; i < n; i++) writeFrame(0x2, src, frameOptions, out);
    },
  ];
  for (const [i, run] of runs.entries()) cases.push([`${NAMES[i]} ${size}`, run]);
}

// Warm-up with every length 0..300 at every alignment (and both key offsets) so that each function has
// seen all its paths before it is timed, as in real traffic; without it a loop tail never taken during
// warm-up can deopt the optimized code on every call.
{
  const a = Buffer.allocUnsafe(8192);
  const b = Buffer.allocUnsafe(8192);
  for (let rep = 0; rep < 20; rep++) {
    for (let len = 0; len < 300; len++) {
      for (let at = 0; at < 4; at++) {
        const s = a.subarray(at, at + len);
        maskInto(s, b, at, key);
        maskInto(s, b, at + 1, key);
        applyMask(s, key, at);
        writeFrame(0x2, s, frameOptions, out);
      }
    }
  }
}

const medians = measureAll(cases);
const fmt = (ns) => (ns < 100 ? ns.toFixed(1) : ns.toFixed(0));
const width = Math.max(...NAMES.map((n) => n.length));
console.log(`ns per call (median of ${ROUNDS}), node ${process.version}`);
console.log(`${"".padEnd(width)}  ${SIZES.map(([label]) => label.padStart(9)).join("  ")}`);
NAMES.forEach((name, row) => {
  const cells = SIZES.map((_, col) => fmt(medians[col * NAMES.length + row]).padStart(9));
  console.log(`${name.padEnd(width)}  ${cells.join("  ")}`);
});
if (sink === -1) console.log(sink);
