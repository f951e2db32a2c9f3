import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { javascriptBlocks } from "../web/readme-snippets.js";
import { REPO } from "./packed.js";

// Issue 20: the guides in docs/ stay usable: their JavaScript blocks are valid modules (node --check) and
// their links to other files of the repository lead somewhere.

const GUIDES = ["docs/migrating-from-ws.md", "docs/migrating-from-socket-io.md", "docs/production.md"];
const scratch = mkdtempSync(join(tmpdir(), "sockjet-guides-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("the guides in docs/", () => {
  for (const guide of GUIDES) {
    test(`${guide}: every JavaScript block parses as an ES module`, () => {
      const blocks = javascriptBlocks(readFileSync(join(REPO, guide), "utf8"));
      assert.ok(blocks.length >= 1, "the guide's JavaScript blocks were found");
      for (const block of blocks) {
        const file = join(scratch, `${guide.replace(/\W/g, "-")}-line-${block.line}.mjs`);
        writeFileSync(file, block.code);
        const result = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
        assert.equal(result.status, 0, `${guide} line ${block.line}:\n${result.stderr}`);
      }
    });

    test(`${guide}: every relative link names a file of the repository`, () => {
      const markdown = readFileSync(join(REPO, guide), "utf8");
      const targets = [...markdown.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)]
        .map((match) => match[1]!)
        .filter((target) => !/^[a-z]+:/.test(target));
      for (const target of targets) {
        assert.ok(
          existsSync(join(REPO, dirname(guide), target)),
          `${guide} links to ${target}, which is missing`,
        );
      }
    });
  }
});
