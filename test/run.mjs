#!/usr/bin/env node
// Runs every test file with node:test through tsx. `--long` runs test/long/ instead of the default suite.
// Node 20's --test has no recursive glob, so the file list is built here.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const long = process.argv.includes("--long");
const filter = process.argv.slice(2).filter((a) => !a.startsWith("--"));

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name === "long" && !long) continue;
      if (name === "fixtures" || name === "fuzz") continue;
      out.push(...collect(path));
    } else if (name.endsWith(".test.ts")) {
      out.push(path);
    }
  }
  return out;
}

let files = long ? collect("test/long") : collect("test");
if (filter.length) files = files.filter((f) => filter.some((p) => f.includes(p)));
// With no files, node --test would run everything it finds under test/, helpers included.
if (files.length === 0) {
  console.error(`no test file matches ${filter.join(" ")}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    "--test-timeout=120000",
    // TAP as before, then a summary of the failures at the very end (see failure-summary.mjs).
    "--test-reporter=tap",
    "--test-reporter-destination=stdout",
    "--test-reporter=./test/failure-summary.mjs",
    "--test-reporter-destination=stdout",
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
