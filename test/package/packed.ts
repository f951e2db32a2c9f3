// The package as npm publishes it: `npm pack` of the built dist/ into a temporary folder, and a fresh
// consumer project that installed that tarball offline (no dependencies at run time; redis, the optional
// peer dependency, is linked from this repository's node_modules for `sockjet/redis`; Node follows the link
// to find its own dependencies).
//
// `npm test` builds dist/ before the tests run. The pack here skips the lifecycle scripts: `prepack`
// cleans and rebuilds dist/, which other test files read at the same time.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

export interface PackedProject {
  root: string;
  tarball: string;
  /** The consumer project that installed the tarball. */
  consumer: string;
  /** Where the installed package is: consumer/node_modules/sockjet. */
  installed: string;
}

export function packAndInstall(): PackedProject {
  if (!existsSync(join(REPO, "dist/index.js"))) {
    throw new Error("dist/ is not built: run `npm run build` (npm test does) before this test");
  }
  const root = mkdtempSync(join(tmpdir(), "sockjet-packed-"));
  const output = execFileSync(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", root], {
    cwd: REPO,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [{ filename }] = JSON.parse(output) as [{ filename: string }];
  const tarball = join(root, filename);

  const consumer = join(root, "consumer");
  mkdirSync(consumer);
  writeFileSync(join(consumer, "package.json"), `${JSON.stringify({ name: "consumer", private: true })}\n`);
  execFileSync(
    NPM,
    ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--no-save", tarball],
    { cwd: consumer, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  symlinkSync(join(REPO, "node_modules/redis"), join(consumer, "node_modules/redis"), "dir");
  return { root, tarball, consumer, installed: join(consumer, "node_modules/sockjet") };
}

export function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}
