import assert from "node:assert/strict";
import { test } from "node:test";
import { cleanText } from "../../src/cli/chat-names.js";

// cleanText's cost is linear in the text's length (attack review, chat-tag-dos: a run of tag characters
// cost O(n²), so a member sending 64 texts of 4,095 tags a second saturated the server's CPU). The check is
// structural, not a time limit: the CPU time of cleaning one text of 8n characters is compared with that of
// cleaning eight texts of n characters — the same characters in all. Linear work gives a ratio near 1,
// quadratic work a ratio near 8; the bound (3) leaves room for a loaded machine, and the best of a few
// rounds is taken so that one garbage collection does not decide.

const TAG_G = "\u{e0067}";

/** CPU time (user + system, µs) of `work`. */
function cpuMicros(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function bestRatio(text: (length: number) => string, n: number): number {
  const small = text(n);
  const big = text(8 * n);
  const repeat = 4;
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const bigCost = cpuMicros(() => {
      for (let i = 0; i < repeat; i++) cleanText(big);
    });
    const smallCost = cpuMicros(() => {
      for (let i = 0; i < 8 * repeat; i++) cleanText(small);
    });
    best = Math.min(best, bigCost / Math.max(smallCost, 1));
  }
  return best;
}

test("cleanText of 16 KiB of tag characters (4,096 tags) is linear work, not quadratic", () => {
  // Warm up, so that the JIT's first compilation is in neither measure.
  for (let i = 0; i < 20; i++) cleanText(TAG_G.repeat(512));
  const cases: [string, (length: number) => string][] = [
    ["lone tags", (length) => TAG_G.repeat(length)],
    ["tags after a black flag", (length) => `\u{1f3f4}${TAG_G.repeat(length - 1)}`],
  ];
  for (const [label, text] of cases) {
    const ratio = bestRatio(text, 512);
    assert.ok(ratio < 3, `${label}: 8n tags cost ${ratio.toFixed(1)}× eight texts of n tags (linear ≈ 1)`);
  }
  // And the result is what it was: tags after a flag stay, lone tags go.
  assert.equal(cleanText(TAG_G.repeat(4096)), "");
  const flag = `\u{1f3f4}${TAG_G.repeat(4095)}`;
  assert.equal(cleanText(flag), flag);
  assert.equal(cleanText(`a${TAG_G}\u{1f3f4}${TAG_G}${TAG_G} ${TAG_G}`), `a\u{1f3f4}${TAG_G}${TAG_G} `);
});
