// npm run fuzz -- [--inputs N] [--seed S] [--hang-ms MS]      fuzz the protocol core (default 1,000,000 inputs)
// npm run fuzz -- --replay test/fuzz/crashes/<file>.hex        re-run one saved crash and print what happens
//
// Crashing inputs are written to test/fuzz/crashes/ as hex; the exit code is 1 when there is any.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type FuzzReport, fuzz, parseCrash, runOne } from "./fuzz.js";

const { values } = parseArgs({
  options: {
    inputs: { type: "string", default: "1000000" },
    seed: { type: "string" },
    "hang-ms": { type: "string", default: "100" },
    replay: { type: "string" },
  },
});

const crashDir = fileURLToPath(new URL("./crashes/", import.meta.url));

if (values.replay !== undefined) {
  const crash = parseCrash(readFileSync(values.replay, "utf8"));
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of [...crash.cuts, crash.input.length]) {
    chunks.push(Buffer.from(crash.input.subarray(from, cut)));
    from = cut;
  }
  console.log(
    `replaying ${crash.kind} (${crash.role}, ${crash.input.length} bytes in ${chunks.length} chunks)`,
  );
  const result = runOne(crash.role, chunks, crash.limits);
  console.log(result);
  process.exit(result.violation === null ? 0 : 1);
}

const inputs = Number(values.inputs);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 0x100000000);
if (!Number.isInteger(inputs) || inputs < 0 || !Number.isFinite(seed)) {
  console.error("usage: npm run fuzz -- [--inputs N] [--seed S] [--hang-ms MS] | --replay FILE");
  process.exit(2);
}

const format = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`fuzzing the protocol core: ${format(inputs)} inputs, seed ${seed}`);

const report: FuzzReport = fuzz({
  inputs,
  seed,
  hangMs: Number(values["hang-ms"]),
  crashDir,
  progressEvery: 100_000,
  onProgress: (r) =>
    console.log(
      `  ${format(r.inputs)} inputs, ${format(r.inputsPerSecond)} inputs/s, ${format(r.messages)} messages, ${r.crashes.length} crashes`,
    ),
});

console.log("");
console.log(
  `inputs:       ${format(report.inputs)} (valid ${format(report.kinds.valid)}, mutated ${format(report.kinds.mutated)}, random ${format(report.kinds.random)})`,
);
console.log(`protocol runs: ${format(report.runs)} (server and client, one chunk and random chunks)`);
console.log(
  `time:         ${(report.elapsedMs / 1000).toFixed(1)} s, ${format(report.inputsPerSecond)} inputs/s, slowest input ${report.slowestMs.toFixed(1)} ms`,
);
console.log(`messages:     ${format(report.messages)} delivered (one-chunk runs)`);
console.log("outcomes (one-chunk runs):");
for (const [outcome, count] of Object.entries(report.outcomes).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${outcome.padEnd(52)} ${format(count).padStart(10)}`);
}
if (report.crashes.length === 0) {
  console.log("crashes:      none");
} else {
  console.log(`crashes:      ${report.crashes.length} (written to ${crashDir})`);
  for (const crash of report.crashes) {
    console.log(`  ${crash.kind} (${crash.role}): ${crash.detail.split("\n")[0]}`);
  }
  console.log(`re-run one with: npm run fuzz -- --replay ${crashDir}<file>.hex   (seed ${seed})`);
  process.exit(1);
}
