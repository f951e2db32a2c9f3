import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { killAll, run, type Served, serve } from "./helpers.js";

// `sockjet bench` against the echo endpoint of `sockjet serve`, briefly.

let served: Served;
before(async () => {
  served = await serve(["--quiet"]);
});
after(killAll);

describe("sockjet bench", { concurrency: 2 }, () => {
  test("--json: round trips counted, throughput and latency reported, no errors, exit 0", async () => {
    const result = await run([
      "bench",
      "-c",
      "3",
      "-w",
      "4",
      "-s",
      "1k",
      "-d",
      "0.5",
      "--json",
      `${served.ws}/`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.url, `${served.ws}/`);
    assert.equal(report.connections, 3);
    assert.equal(report.inFlight, 4);
    assert.equal(report.payloadBytes, 1024);
    assert.equal(report.text, false);
    assert.equal(report.errors, 0);
    assert.ok(report.messages > 0, "some messages came back");
    assert.equal(report.bytes, report.messages * 1024);
    assert.ok(report.durationSeconds >= 0.49 && report.durationSeconds < 5, String(report.durationSeconds));
    const rate = report.messages / report.durationSeconds;
    assert.ok(
      Math.abs(report.messagesPerSecond - rate) / rate < 0.01,
      `${report.messagesPerSecond} vs ${rate}`,
    );
    const { p50, p99, max } = report.latencyMs;
    assert.ok(p50 > 0 && p50 <= p99 && p99 <= max, JSON.stringify(report.latencyMs));
  });

  test("the summary table: msgs/s, MB/s, latency p50/p99/max, errors", async () => {
    const result = await run([
      "bench",
      "--text",
      "-c",
      "1",
      "-w",
      "1",
      "-s",
      "100",
      "-d",
      "0.3",
      `${served.ws}/`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^sockjet bench ws:\/\/127\.0\.0\.1:\d+\/\n {2}1 connection × 1 in flight, 100-byte text messages, 0\.3 s\n\n/,
    );
    for (const row of [
      /msgs\/s +[\d,]+$/m,
      /MB\/s +\d+\.\d\d$/m,
      /latency p50 +\d+\.\d{3} ms$/m,
      /latency p99 +\d+\.\d{3} ms$/m,
      /latency max +\d+\.\d{3} ms$/m,
      /errors +0$/m,
    ])
      assert.match(result.stdout, row);
    // Not a terminal: no progress line.
    assert.equal(result.stderr, "");
  });

  test("an endpoint that answers differently counts errors and exits 1", async () => {
    const result = await run(["bench", "-c", "1", "-w", "1", "-d", "0.3", `${served.ws}/chat`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /errors +[1-9]\d*\n +wrong size echoed +[1-9]/);
  });

  test("a refused connection exits 1 with one line; a bad size exits 2", async () => {
    const [refused, badSize] = await Promise.all([
      run(["bench", "-d", "0.2", "ws://127.0.0.1:1/"]),
      run(["bench", "-s", "12q", `${served.ws}/`]),
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^sockjet bench: error: cannot connect to ws:\/\/127\.0\.0\.1:1\/: connection refused.*\n$/,
    );
    assert.equal(badSize.code, 2);
    assert.match(badSize.stderr, /^sockjet bench: invalid value for -s: "12q"/);
  });
});
