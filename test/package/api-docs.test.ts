import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { REPO } from "./packed.js";

// Issue 20: the API reference is TypeDoc's (`npm run docs` → docs/api/), and every public export of
// `sockjet` and `sockjet/redis` has a doc comment: TypeDoc's notDocumented validation with warnings as errors
// (`npm run docs:check`), with the settings of typedoc.json. The second test shows the check does fail.

const TYPEDOC = join(REPO, "node_modules/typedoc/bin/typedoc");
const scratch: string[] = [];

after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function typedoc(cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TYPEDOC, "--emit", "none", "--treatValidationWarningsAsErrors"],
      { cwd, timeout: 120_000, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe("API reference (TypeDoc)", () => {
  test("every public export of sockjet and sockjet/redis has a doc comment", async () => {
    const { code, output } = await typedoc(REPO);
    assert.equal(output.includes("warning") || output.includes("error"), false, output);
    assert.equal(code, 0, output);
  });

  test("the check fails on an export without a doc comment (the same settings, another entry point)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockjet-typedoc-"));
    scratch.push(dir);
    const settings = JSON.parse(readFileSync(join(REPO, "typedoc.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(
      join(dir, "typedoc.json"),
      JSON.stringify({ ...settings, entryPoints: ["entry.ts"], tsconfig: "tsconfig.json", out: "api" }),
    );
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", types: [] },
        files: ["entry.ts"],
      }),
    );
    writeFileSync(
      join(dir, "entry.ts"),
      "/** Documented. */\nexport const documented = 1;\nexport function undocumented(): void {}\n",
    );
    const { code, output } = await typedoc(dir);
    assert.notEqual(code, 0, output);
    assert.match(output, /undocumented \(CallSignature\).*does not have any documentation/);
    assert.doesNotMatch(output, /documented \(Variable\)/);
  });
});
