import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { WebSocketServer } from "../../src/index.js";
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
      "-i",
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
      "-i",
      "1",
      "-s",
      "100",
      "-d",
      "0.3",
      `${served.ws}/`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    // The duration is the one measured: at least the 0.3 s asked for (a loaded machine stretches it).
    const header =
      /^sockjet bench ws:\/\/127\.0\.0\.1:\d+\/\n {2}1 connection × 1 in flight, 100-byte text messages, (\d+\.\d) s\n\n/.exec(
        result.stdout,
      );
    assert.ok(header, result.stdout);
    assert.ok(Number(header[1]) >= 0.3, header[1]);
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
    const result = await run(["bench", "-c", "1", "-i", "1", "-d", "0.3", `${served.ws}/chat`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /errors +[1-9][\d,]*\n +wrong size echoed +[1-9]/);
    assert.match(result.stdout, /^ {2}messages +0$/m);
    assert.match(result.stderr, /answer\(s\) were not the message sent; is this an echo endpoint\?\n/);
  });

  test("a refused connection exits 1 with one line; a bad size exits 2", async () => {
    const [refused, badSize] = await Promise.all([
      run(["bench", "-d", "0.2", "ws://127.0.0.1:2/"]),
      run(["bench", "-s", "12q", `${served.ws}/`]),
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^sockjet bench: error: cannot connect to ws:\/\/127\.0\.0\.1:2\/: connection refused.*\n$/,
    );
    assert.equal(badSize.code, 2);
    assert.match(badSize.stderr, /^sockjet bench: invalid value for -s: "12q"/);
  });
});

describe("sockjet bench: results that are not what they seem", () => {
  test("echoes of the right size but other bytes are errors, not throughput: exit 1", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    server.on("connection", (socket) => {
      socket.binaryType = "nodebuffer";
      socket.onmessage = (event) => socket.send(Buffer.from(event.data as Buffer).reverse());
    });
    await new Promise<void>((resolve) => server.once("listening", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await run(["bench", "-c", "1", "-i", "1", "-d", "0.3", `ws://127.0.0.1:${port}/`]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, /^ {4}wrong bytes echoed +[1-9]/m);
      assert.match(result.stdout, /^ {2}messages +0$/m);
      assert.match(result.stderr, /were not the message sent; is this an echo endpoint\?\n/);
    } finally {
      await server.close();
    }
  });

  test("a 1009 from the server suggests --max-payload; numbers have thousands separators", async () => {
    const small = await serve(["--quiet", "--max-payload", "1k"]);
    // One message in flight: the server has read all of it when it closes, so its Close frame is not lost to
    // a TCP reset (unread input at close).
    const result = await run(["bench", "-c", "2", "-i", "1", "-s", "2k", "-d", "0.5", `${small.ws}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /2,048-byte binary messages/);
    assert.match(result.stdout, /closed by the server \(1009\) +2$/m);
    assert.match(
      result.stderr,
      /^sockjet bench: the server closed 2 connections with 1009 "message too big.*": use a smaller --size, or raise the server's limit \(sockjet serve --max-payload 2k\)\n/m,
    );
    small.cli.kill("SIGTERM");
    await small.cli.exit();
  });

  test("regression: a 1009 whose Close waits behind megabytes in flight is still reported (it came after the run)", async () => {
    // 4 × 2 MiB in flight per connection: the server stops reading at the first, and its closing handshake
    // ends after the run (a newcomer saw "messages 0, errors 0" and "is this an echo endpoint?").
    const small = await serve(["--quiet", "--max-payload", "1k"]);
    const result = await run(["bench", "-c", "2", "-i", "4", "-s", "2m", "-d", "0.3", `${small.ws}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /closed by the server \(1009\) +2$/m);
    assert.match(
      result.stderr,
      /^sockjet bench: the server closed 2 connections with 1009 .*--max-payload 2m\)\n/m,
    );
    assert.doesNotMatch(result.stderr, /is this an echo endpoint/);
    small.cli.kill("SIGTERM");
    await small.cli.exit();
  });

  test("-w is not --in-flight (it is connect's --wait): a usage error", async () => {
    const result = await run(["bench", "-w", "4", `${served.ws}/`]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "sockjet bench: unknown flag -w\nsee sockjet bench --help\n");
  });
});
