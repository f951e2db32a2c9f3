import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, test } from "node:test";
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

  for (const [name] of configurations()) {
    test(`${name}: no errors, every assertion holds`, () => {
      const result = results.get(name)!;
      assert.ok(result.ok, `tsc reported:\n${result.output}`);
    });
  }
});
