// A consumer's project in a temporary folder, as `npm install sockjet` would leave it: the package built from
// src/ by the package's own build config into node_modules/sockjet/dist, next to a copy of package.json, so
// that "sockjet" and "sockjet/redis" resolve through package.json `exports` exactly as for a user. @types/node
// and redis (the optional peer dependency) are linked from this repository's node_modules.

import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const REPO = resolve(import.meta.dirname, "../..");
const TSC = join(REPO, "node_modules/typescript/bin/tsc");

export interface ConsumerProject {
  root: string;
  /** Where the consumer's sources and tsconfig files are. */
  dir: string;
}

/** Builds the package into a fresh consumer project and copies the fixture sources (test/types/fixture). */
export async function createConsumerProject(): Promise<ConsumerProject> {
  const root = mkdtempSync(join(tmpdir(), "sockjet-consumer-"));
  const pkg = join(root, "node_modules/sockjet");
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
  // Declarations only: the consumer's type-check reads nothing else.
  await run(process.execPath, [
    TSC,
    "-p",
    join(REPO, "tsconfig.build.json"),
    "--outDir",
    join(pkg, "dist"),
    "--emitDeclarationOnly",
    "--sourceMap",
    "false",
  ]);
  symlinkSync(join(REPO, "node_modules/@types"), join(root, "node_modules/@types"), "dir");
  symlinkSync(join(REPO, "node_modules/redis"), join(root, "node_modules/redis"), "dir");
  const dir = join(root, "consumer");
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  const fixture = join(REPO, "test/types/fixture");
  for (const name of readdirSync(fixture)) copyFileSync(join(fixture, name), join(dir, name));
  return { root, dir };
}

export interface TypeCheckResult {
  ok: boolean;
  output: string;
}

/**
 * One tsc run over the consumer's sources with the given compiler options: strict, skipLibCheck false (the
 * package's declarations and @types/node are checked), skipDefaultLibCheck (TypeScript's own lib files,
 * which nothing of ours can break, are not: half the time of a DOM-lib check).
 */
export async function typeCheck(
  project: ConsumerProject,
  name: string,
  compilerOptions: Record<string, unknown>,
  include: string[] = ["*.ts"],
): Promise<TypeCheckResult> {
  const config = join(project.dir, `tsconfig.${name}.json`);
  const options = { strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, types: ["node"], ...compilerOptions };
  writeFileSync(config, JSON.stringify({ compilerOptions: options, include }, null, 2));
  try {
    const { stdout } = await run(process.execPath, [TSC, "-p", config, "--pretty", "false"]);
    return { ok: true, output: stdout };
  } catch (error) {
    const { stdout, stderr } = error as { stdout: string; stderr: string };
    return { ok: false, output: `${stdout}${stderr}` };
  }
}
