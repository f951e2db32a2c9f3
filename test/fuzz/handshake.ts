// node --import tsx test/fuzz/handshake.ts [--inputs N] [--seed S] [--hang-ms MS] [--max-length L]
//
// Structure-aware fuzzing of the opening-handshake parsers (validateUpgradeRequest, parseExtensionOffers,
// parseProtocolList); see handshake-fuzz.ts for what counts as a finding. Default 1,000,000 inputs. Exit
// code 1 when there is any finding; each is printed with its input.

import { parseArgs } from "node:util";
import { describeInput, fuzzHandshake } from "./handshake-fuzz.js";

const { values } = parseArgs({
  options: {
    inputs: { type: "string", default: "1000000" },
    seed: { type: "string" },
    "hang-ms": { type: "string", default: "50" },
    "max-length": { type: "string", default: "100000" },
  },
});

const inputs = Number(values.inputs);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 0x100000000);
const hangMs = Number(values["hang-ms"]);
const maxLength = Number(values["max-length"]);
if (!Number.isInteger(inputs) || inputs < 0 || !Number.isFinite(seed) || !(hangMs > 0) || !(maxLength > 0)) {
  console.error(
    "usage: node --import tsx test/fuzz/handshake.ts [--inputs N] [--seed S] [--hang-ms MS] [--max-length L]",
  );
  process.exit(2);
}

const format = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`fuzzing the handshake parsers: ${format(inputs)} inputs, seed ${seed}`);
const report = fuzzHandshake({
  inputs,
  seed,
  hangMs,
  maxLength,
  onProgress: (done, r) =>
    console.log(
      `  ${format(done)} inputs, ${format(r.accepted)} accepted, ${r.findings.length} findings, slowest ${r.slowestMs.toFixed(1)} ms`,
    ),
});
console.log(
  `${format(report.inputs)} inputs (${format(report.bytes / 1e6)} MB of header values) in ${(report.elapsedMs / 1000).toFixed(1)} s: ` +
    `${format(report.accepted)} accepted, ${format(report.rejected)} rejected; slowest input ${report.slowestMs.toFixed(2)} ms ` +
    `(${format(report.slowestBytes)} bytes); ${report.findings.length} findings`,
);
for (const f of report.findings) console.log(`\n[${f.kind}] ${f.detail}\n  input: ${describeInput(f.input)}`);
process.exit(report.findings.length === 0 ? 0 : 1);
