// Micro-benchmark of the masking primitives: ns per call of maskInto, applyMask and a masked writeFrame at
// 32 B, 1 KiB, 64 KiB and 1 MiB, next to the previous implementations (copied below) where useful.
// Run: npm run build && node bench/micro/mask.mjs   (each figure is the median of 11 rounds of ~20 ms)
import { writeFrame } from "../../dist/protocol/frame-writer.js";
import { applyMask, MaskKeyPool, maskInto } from "../../dist/protocol/mask.js";

// ---- The previous implementation (commit a9817ef): in-place XOR unrolled by 8; maskInto = copy + mask ----

/** Self-contained (no outer references), so that it can be instantiated twice from its source. */
function makeOld() {
  const oldKeyWord = new Uint32Array(1);
  const oldKeyBytes = new Uint8Array(oldKeyWord.buffer);
  let oldCachedBuffer = null;
  let oldCachedView = new Uint32Array(0);

  function oldWordView(buffer) {
    if (buffer === oldCachedBuffer) return oldCachedView;
    const view = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    if (buffer.byteLength <= 1024 * 1024) {
      oldCachedBuffer = buffer;
      oldCachedView = view;
    }
    return view;
  }

  function oldApplyMask(buf, key, keyOffset = 0) {
    const len = buf.length;
    if (len < 64) {
      const k0 = key[keyOffset & 3];
      const k1 = key[(keyOffset + 1) & 3];
      const k2 = key[(keyOffset + 2) & 3];
      const k3 = key[(keyOffset + 3) & 3];
      let i = 0;
      for (; i + 3 < len; i += 4) {
        buf[i] ^= k0;
        buf[i + 1] ^= k1;
        buf[i + 2] ^= k2;
        buf[i + 3] ^= k3;
      }
      for (; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
      return;
    }
    let i = 0;
    const misalign = (4 - (buf.byteOffset & 3)) & 3;
    for (; i < misalign; i++) buf[i] ^= key[(i + keyOffset) & 3];
    for (let j = 0; j < 4; j++) oldKeyBytes[j] = key[(i + j + keyOffset) & 3];
    const mask = oldKeyWord[0];
    const view = oldWordView(buf.buffer);
    const first = (buf.byteOffset + i) >>> 2;
    const words = (len - i) >>> 2;
    const last = first + words;
    let w = first;
    for (const end8 = last - 7; w < end8; w += 8) {
      view[w] ^= mask;
      view[w + 1] ^= mask;
      view[w + 2] ^= mask;
      view[w + 3] ^= mask;
      view[w + 4] ^= mask;
      view[w + 5] ^= mask;
      view[w + 6] ^= mask;
      view[w + 7] ^= mask;
    }
    for (; w < last; w++) view[w] ^= mask;
    for (i += words << 2; i < len; i++) buf[i] ^= key[(i + keyOffset) & 3];
  }

  function oldMaskInto(src, dst, dstOffset, key) {
    dst.set(src, dstOffset);
    oldApplyMask(dst.subarray(dstOffset, dstOffset + src.length), key);
  }

  return { oldApplyMask, oldMaskInto };
}

// Two instances compiled from the source, so that the "applyMask old" row does not share type feedback
// with the applyMask inside "maskInto old".
const instantiate = () => new Function(`return (${makeOld.toString()})();`)();
const { oldApplyMask } = instantiate();
const { oldMaskInto } = instantiate();

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
const write = (chunk) => {
  sink += chunk.length;
};

const NAMES = [
  "maskInto old, aligned",
  "maskInto new, aligned",
  "maskInto old, skewed",
  "maskInto new, skewed",
  "applyMask old",
  "applyMask new",
  "writeFrame masked (dist)",
];
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
      for (let i = 0; i < n; i++) oldMaskInto(src, dst, aligned, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) maskInto(src, dst, aligned, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) oldMaskInto(src, dst, skewed, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) maskInto(src, dst, skewed, key);
    },
    (n) => {
      for (let i = 0; i < n; i++) oldApplyMask(inPlace, key, 0);
    },
    (n) => {
      for (let i = 0; i < n; i++) applyMask(inPlace, key, 0);
    },
    (n) => {
      for (let i = 0; i < n; i++) writeFrame(0x2, src, frameOptions, write);
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
        oldMaskInto(s, b, at, key);
        oldMaskInto(s, b, at + 1, key);
        applyMask(s, key, at);
        oldApplyMask(s, key, at);
        writeFrame(0x2, s, frameOptions, write);
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
