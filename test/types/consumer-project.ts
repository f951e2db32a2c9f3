// A consumer's project in a temporary folder, as `npm install sockjet` would leave it: the package's
// declarations built from src/ with the package's own build config into node_modules/sockjet/dist, next to a
// copy of package.json, so that "sockjet" and "sockjet/redis" resolve through package.json `exports`
// exactly as for a user. @types/node and redis (the optional peer dependency) are linked from this
// repository's node_modules.
//
// The build and the checks run as TypeScript programs in this process (as `tsc -b` runs a set of projects),
// sharing one cache of parsed files: @types/node and the lib files are parsed once, not once per tsc.

import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";

export const REPO = resolve(import.meta.dirname, "../..");

export interface ConsumerProject {
  root: string;
  /** Where the consumer's sources are. */
  dir: string;
}

const parsed = new Map<string, ts.SourceFile | undefined>();

/** A compiler host whose parsed files are shared by every program of this process. */
function sharedHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const parse = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile) => {
    const settings =
      typeof languageVersionOrOptions === "object"
        ? `${languageVersionOrOptions.languageVersion}:${languageVersionOrOptions.impliedNodeFormat}`
        : `${languageVersionOrOptions}`;
    const key = `${fileName}|${settings}`;
    if (!parsed.has(key) || shouldCreateNewSourceFile) {
      parsed.set(key, parse(fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile));
    }
    return parsed.get(key);
  };
  return host;
}

function report(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => REPO,
    getNewLine: () => "\n",
  });
}

/** Builds the package's declarations into a fresh consumer project and copies test/types/fixture into it. */
export function createConsumerProject(): ConsumerProject {
  const root = mkdtempSync(join(tmpdir(), "sockjet-consumer-"));
  const pkg = join(root, "node_modules/sockjet");
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
  const configPath = join(REPO, "tsconfig.build.json");
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    { outDir: join(pkg, "dist"), emitDeclarationOnly: true, sourceMap: false },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assertNoErrors([d]) },
  )!;
  const program = ts.createProgram(config.fileNames, config.options, sharedHost(config.options));
  // Only what the declaration emit reports: `npm run typecheck` checks src/ itself.
  assertNoErrors(program.emit().diagnostics);

  symlinkSync(join(REPO, "node_modules/@types"), join(root, "node_modules/@types"), "dir");
  symlinkSync(join(REPO, "node_modules/redis"), join(root, "node_modules/redis"), "dir");
  const dir = join(root, "consumer");
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  const fixture = join(REPO, "test/types/fixture");
  for (const name of readdirSync(fixture)) copyFileSync(join(fixture, name), join(dir, name));
  return { root, dir };
}

function assertNoErrors(diagnostics: readonly ts.Diagnostic[]): void {
  if (diagnostics.length > 0) throw new Error(`building the package failed:\n${report(diagnostics)}`);
}

export interface TypeCheckResult {
  ok: boolean;
  output: string;
}

/**
 * Type-checks the consumer's sources (and `extraFiles`) as tsc would with a tsconfig.json holding these
 * compiler options, plus: strict, skipLibCheck false (the package's declarations and @types/node are
 * checked), skipDefaultLibCheck (TypeScript's own lib files, which nothing of ours can break, are not).
 */
export function typeCheck(
  project: ConsumerProject,
  compilerOptions: Record<string, unknown>,
  extraFiles: string[] = [],
): TypeCheckResult {
  const json = {
    strict: true,
    skipLibCheck: false,
    skipDefaultLibCheck: true,
    noEmit: true,
    types: ["node"],
  };
  const { options, errors } = ts.convertCompilerOptionsFromJson({ ...json, ...compilerOptions }, project.dir);
  if (errors.length > 0) return { ok: false, output: report(errors) };
  const rootNames = readdirSync(project.dir)
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(project.dir, name));
  const program = ts.createProgram([...rootNames, ...extraFiles], options, sharedHost(options));
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return { ok: diagnostics.length === 0, output: report(diagnostics) };
}
