import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { javascriptBlocks } from "../web/readme-snippets.js";
import {
  type ConsumerProject,
  createConsumerProject,
  type TypeCheckResult,
  typeCheck,
} from "./consumer-project.js";

// Issue 14 item 1: the shipped declarations type-check in a consumer's project (skipLibCheck false) under
// every module resolution a Node or bundler user has, with and without the DOM lib, and give the events,
// server, pub/sub and sockjet/redis their documented types (assertions in test/types/fixture/*.ts: type
// equalities and `@ts-expect-error` lines, which fail the check when the error they expect is missing).

const RESOLUTIONS = {
  node16: { module: "node16", moduleResolution: "node16" },
  nodenext: { module: "nodenext", moduleResolution: "nodenext" },
  bundler: { module: "esnext", moduleResolution: "bundler" },
} as const;
const LIBS = { "no DOM lib": ["ES2022"], "DOM lib": ["ES2022", "DOM"] } as const;

function configurations(): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  for (const [resolution, resolutionOptions] of Object.entries(RESOLUTIONS)) {
    for (const [libName, lib] of Object.entries(LIBS)) {
      out.push([
        `moduleResolution ${resolution}, ${libName}`,
        { target: "ES2022", lib, ...resolutionOptions },
      ]);
    }
  }
  return out;
}

describe("the published types, as a consumer compiles them", () => {
  let project: ConsumerProject | null = null;
  const results = new Map<string, TypeCheckResult>();
  // The package is built once, then one program per configuration (they share parsed files).
  before(() => {
    project = createConsumerProject();
    for (const [name, options] of configurations()) results.set(name, typeCheck(project, options));
  });
  after(() => {
    if (project !== null) rmSync(project.root, { recursive: true, force: true });
  });

  test("README.md's JavaScript blocks type-check against the built package (as TypeScript, strict: nodenext, no DOM lib)", () => {
    const files = javascriptBlocks().map((snippet) => {
      const file = join(project!.dir, `readme-line-${snippet.line}.ts`);
      writeFileSync(file, snippet.code);
      return file;
    });
    assert.ok(files.length >= 5, "the README's JavaScript blocks were found");
    const options = {
      target: "ES2022",
      lib: LIBS["no DOM lib"],
      ...RESOLUTIONS.nodenext,
      allowJs: true,
      checkJs: true,
    };
    const result = typeCheck(project!, options, files);
    assert.ok(result.ok, `tsc reported:\n${result.output}`);
  });

  for (const [name] of configurations()) {
    test(`${name}: no errors, every assertion holds`, () => {
      const result = results.get(name)!;
      assert.ok(result.ok, `tsc reported:\n${result.output}`);
    });
  }
});
