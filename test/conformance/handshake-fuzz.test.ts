// The short run of the handshake-parser fuzzer (the full one: node --import tsx test/fuzz/handshake.ts):
// mutated valid upgrade requests through validateUpgradeRequest, parseExtensionOffers and parseProtocolList —
// no exception, results within their contract, lists that survive a round trip, and bounded time per input.
// Plus direct timing of the worst inputs we know for list grammars: linear, not quadratic.

import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, test } from "node:test";
import { validateUpgradeRequest } from "../../src/protocol/handshake.js";
import { parseExtensionOffers, parseProtocolList } from "../../src/protocol/header-grammar.js";
import { describeInput, fuzzHandshake } from "../fuzz/handshake-fuzz.js";

function assertNoFindings(report: ReturnType<typeof fuzzHandshake>, seed: number): void {
  const detail = report.findings
    .slice(0, 5)
    .map((f) => `[${f.kind}] ${f.detail}\n  input: ${describeInput(f.input)}`)
    .join("\n");
  assert.equal(report.findings.length, 0, `seed ${seed}:\n${detail}`);
}

describe("handshake parser fuzzing (short run)", () => {
  test("30,000 mutated upgrade requests from a fixed seed: no exception, no contract break, < 50 ms each", () => {
    const seed = 0x5eed;
    const report = fuzzHandshake({ inputs: 30_000, seed, hangMs: 50 });
    assertNoFindings(report, seed);
    // The mutations must reach both outcomes, or the fuzzer is not exploring.
    assert.ok(report.accepted > report.inputs * 0.1, `only ${report.accepted} accepted`);
    assert.ok(report.rejected > report.inputs * 0.1, `only ${report.rejected} rejected`);
  });

  test("20,000 mutated upgrade requests from a random seed (printed for replay)", (t) => {
    const seed = Math.floor(Math.random() * 0x100000000);
    t.diagnostic(
      `seed ${seed}: replay with node --import tsx test/fuzz/handshake.ts --seed ${seed} --inputs 20000`,
    );
    const report = fuzzHandshake({ inputs: 20_000, seed, hangMs: 50 });
    assertNoFindings(report, seed);
    t.diagnostic(`slowest input ${report.slowestMs.toFixed(2)} ms (${report.slowestBytes} bytes)`);
  });
});

describe("list grammars run in linear time on adversarial values", () => {
  const cases: [string, (n: number) => string, (v: string) => unknown][] = [
    ["extensions: 'a;' repeated", (n) => "a;".repeat(n / 2), parseExtensionOffers],
    [
      "extensions: 'a; b=\"' then escapes, unterminated",
      (n) => `a; b="${"\\x".repeat(n / 2)}`,
      parseExtensionOffers,
    ],
    ["extensions: 'x; p=1, ' repeated (valid)", (n) => "x; p=1, ".repeat(n / 8), parseExtensionOffers],
    ["extensions: OWS run between ';' and a name", (n) => `a;${" \t".repeat(n / 2)}b`, parseExtensionOffers],
    ["extensions: commas", (n) => ",".repeat(n), parseExtensionOffers],
    ["protocols: 'a,' repeated (duplicates)", (n) => "a,".repeat(n / 2), parseProtocolList],
    ["protocols: OWS runs around commas", (n) => `a${" , ".repeat(n / 3)}b`, parseProtocolList],
    [
      "protocols: distinct tokens",
      (n) => Array.from({ length: n / 8 }, (_, i) => `p${i}`).join(", "),
      parseProtocolList,
    ],
  ];
  for (const [name, build, parse] of cases) {
    // A quadratic scan of 1 MB is 10^12 steps (minutes); a linear one is milliseconds, plus the garbage
    // collector once the parsed list outgrows the young generation — which makes time/size ratios noisy,
    // so the bounds are absolute: 100 kB under 50 ms, 1 MB under 500 ms.
    test(`${name}: 100 kB under 50 ms and 1 MB under 500 ms`, () => {
      const time = (n: number) => {
        const value = build(n);
        let best = Number.POSITIVE_INFINITY;
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          parse(value);
          best = Math.min(best, performance.now() - t0);
        }
        return best;
      };
      time(10_000); // warm up the JIT
      const small = time(100_000);
      const large = time(1_000_000);
      assert.ok(small < 50, `100 kB took ${small.toFixed(1)} ms`);
      assert.ok(large < 500, `1 MB took ${large.toFixed(1)} ms`);
    });
  }
  test("validateUpgradeRequest answers a 1 MB Sec-WebSocket-Extensions of 'a;' with 400 in under 500 ms", () => {
    const t0 = performance.now();
    const result = validateUpgradeRequest({
      method: "GET",
      httpVersion: "1.1",
      headers: {
        host: "example.com",
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "sec-websocket-extensions": "a;".repeat(500_000),
      },
    });
    const elapsed = performance.now() - t0;
    assert.deepEqual([result.ok, !result.ok && result.status], [false, 400]);
    assert.ok(elapsed < 500, `${elapsed.toFixed(1)} ms`);
  });
});
