import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ProtocolError } from "../../src/protocol/errors.js";
import { Protocol } from "../../src/protocol/protocol.js";
import type { ProtocolHandler, ProtocolOptions } from "../../src/protocol/protocol-options.js";
import { type FuzzReport, fuzz, type ProtocolFactory, runOne } from "../fuzz/fuzz.js";

// A short run of the fuzzer (npm run fuzz runs 1,000,000 inputs) with a fixed seed, so that `npm test`
// catches a regression the fuzzer would, and a check that the fuzzer notices a broken protocol at all.

/** A Protocol whose handler is wrapped, for the fuzzer's self-test. */
function brokenFactory(wrap: (handler: ProtocolHandler) => ProtocolHandler): ProtocolFactory {
  return (options: ProtocolOptions, handler: ProtocolHandler) => new Protocol(options, wrap(handler));
}

describe("Fuzzing the protocol core (short run)", () => {
  let report: FuzzReport;

  test("20,000 structure-aware and random inputs, server and client, two chunkings each → no crash, no hang", () => {
    // hangMs is generous here: a loaded CI machine must not turn a slow run into a "hang" (a real one never ends).
    report = fuzz({ inputs: 20_000, seed: 0x50c1e7, crashDir: null, hangMs: 2000 });
    assert.deepEqual(
      report.crashes.map((c) => `${c.kind} (${c.role}): ${c.detail} — input ${c.input.toString("hex")}`),
      [],
    );
    assert.equal(report.inputs, 20_000);
    assert.equal(report.runs, 80_000);
  });

  test("the inputs reach every outcome: messages, the peer's Close, and each failure the core can raise", () => {
    assert.ok(report, "runs after the fuzzing test");
    assert.ok(report.messages > 1000, `${report.messages} messages delivered`);
    assert.ok((report.outcomes.close ?? 0) > 100, "Close frames");
    assert.ok((report.outcomes.ok ?? 0) > 100, "inputs used up without failing");
    for (const outcome of [
      "failure:1002:SJ_ERR_EXPECTED_MASK",
      "failure:1002:SJ_ERR_UNEXPECTED_MASK",
      "failure:1002:SJ_ERR_UNEXPECTED_RSV",
      "failure:1002:SJ_ERR_INVALID_OPCODE",
      "failure:1002:SJ_ERR_FRAGMENTED_CONTROL_FRAME",
      "failure:1002:SJ_ERR_CONTROL_FRAME_TOO_LONG",
      "failure:1002:SJ_ERR_UNEXPECTED_CONTINUATION",
      "failure:1002:SJ_ERR_EXPECTED_CONTINUATION",
      "failure:1002:SJ_ERR_INVALID_LENGTH",
      "failure:1002:SJ_ERR_INVALID_CLOSE_CODE",
      "failure:1002:SJ_ERR_INVALID_CLOSE_PAYLOAD",
      "failure:1007:SJ_ERR_INVALID_UTF8",
      "failure:1009:SJ_ERR_MESSAGE_TOO_BIG",
      "failure:1009:SJ_ERR_TOO_MANY_FRAGMENTS",
    ]) {
      assert.ok((report.outcomes[outcome] ?? 0) > 0, `never reached ${outcome}`);
    }
    const codes = Object.keys(report.outcomes).filter((o) => o.startsWith("failure:"));
    assert.ok(
      codes.every((o) => /^failure:(1002|1007|1009):/.test(o)),
      codes.join(", "),
    );
  });

  test("the same seed gives the same run", () => {
    const a = fuzz({ inputs: 500, seed: 42, crashDir: null });
    const b = fuzz({ inputs: 500, seed: 42, crashDir: null });
    assert.deepEqual(a.outcomes, b.outcomes);
    assert.equal(a.messages, b.messages);
  });
});

describe("The fuzzer notices a broken protocol", () => {
  const limits = { maxPayloadBytes: 1024, maxFragmentsPerMessage: 64 };
  const text = (s: string) => Buffer.concat([Buffer.from([0x81, s.length]), Buffer.from(s)]);

  test("an exception thrown out of receive() is a crash", () => {
    const factory = brokenFactory((h) => ({
      ...h,
      onMessage() {
        throw new TypeError("boom");
      },
    }));
    const result = runOne("client", [text("hi")], limits, factory);
    assert.equal(result.outcome, "exception");
    assert.match(result.violation ?? "", /boom/);
  });

  test("a failure with close code 1011, or with a plain Error, is a crash", () => {
    const wrongCode = brokenFactory((h) => ({
      ...h,
      onFailure: () => h.onFailure(new ProtocolError("SJ_ERR_INVALID_OPCODE", "x", 1011)),
    }));
    assert.match(
      runOne("client", [Buffer.from([0x83, 0x00])], limits, wrongCode).violation ?? "",
      /close code 1011/,
    );
    const plainError = brokenFactory((h) => ({
      ...h,
      onFailure: () => h.onFailure(new Error("plain") as ProtocolError),
    }));
    assert.match(
      runOne("client", [Buffer.from([0x83, 0x00])], limits, plainError).violation ?? "",
      /not a ProtocolError/,
    );
  });

  test("text that is not UTF-8, or a message over maxPayloadBytes, is a crash", () => {
    const badText = brokenFactory((h) => ({ ...h, onMessage: () => h.onMessage(Buffer.from([0xff]), true) }));
    assert.match(runOne("client", [text("ok")], limits, badText).violation ?? "", /not UTF-8/);
    const tooBig = brokenFactory((h) => ({ ...h, onMessage: () => h.onMessage(Buffer.alloc(1025), false) }));
    assert.match(runOne("client", [text("ok")], limits, tooBig).violation ?? "", /maxPayloadBytes/);
  });

  test("a ping whose pong is not written first is a crash", () => {
    const noPong = brokenFactory((h) => ({ ...h, write: () => {} }));
    assert.match(runOne("client", [Buffer.from([0x89, 0x01, 0x70])], limits, noPong).violation ?? "", /pong/);
  });

  test("a run that delivers different events in chunks is reported as a chunking crash", () => {
    // A protocol that drops every other chunk behaves differently when the input is cut.
    let calls = 0;
    const factory: ProtocolFactory = (options, handler) => {
      const inner = new Protocol(options, handler);
      return { receive: (data: Buffer) => (calls++ % 2 === 0 ? inner.receive(data) : undefined) };
    };
    const report = fuzz({ inputs: 200, seed: 7, crashDir: null, factory });
    assert.ok(
      report.crashes.some((c) => c.kind === "chunking" || c.kind === "invariant"),
      "a chunking difference was found",
    );
  });
});
