import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net, { type AddressInfo } from "node:net";
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

/**
 * A raw server (node:net) that answers the opening handshake, then writes `after` (server frames) and reads
 * whatever comes without answering it.
 */
async function rawAfterHandshake(after: Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk) => {
      if (head.endsWith("\r\n\r\n")) return;
      head += chunk.toString("latin1");
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
      if (!head.includes("\r\n\r\n") || key === undefined) return;
      // RFC 6455 §4.2.2: the accept value from the key and the protocol's GUID.
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      socket.write(after);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("sockjet bench: how connections ended (review of fb59a5e)", { concurrency: 3 }, () => {
  test("regression: a server's Close whose handshake never completes is reported with its code, exit 1", async () => {
    // Close 1011 "boom" (RFC 6455 §5.5.1), then the server never closes TCP: bench's close wait ends it.
    const server = await rawAfterHandshake(Buffer.from([0x88, 0x06, 0x03, 0xf3, ...Buffer.from("boom")]));
    try {
      const result = await run(["bench", "-c", "2", "-d", "0.3", server.url]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, /closed by the server \(1011\) +2$/m);
      assert.match(result.stderr, /^sockjet bench: the server closed 2 connections with 1011 "boom"$/m);
    } finally {
      await server.close();
    }
  });

  test("regression: a connection bench's client failed (invalid UTF-8) is not blamed on the server as 1006", async () => {
    // A text frame that is not UTF-8 (RFC 6455 §8.1): the client fails the connection itself.
    const server = await rawAfterHandshake(Buffer.from([0x81, 0x02, 0xc3, 0x28]));
    try {
      const result = await run(["bench", "-c", "2", "-d", "0.3", server.url]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /connection failed: invalid UTF-8 in text message +2$/m);
      assert.doesNotMatch(result.stdout + result.stderr, /1006/);
    } finally {
      await server.close();
    }
  });

  test("regression: connections the server closes as they open count once each, not also as failed", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    server.on("connection", (socket) => socket.close(1008, "at connect"));
    await new Promise<void>((resolve) => server.once("listening", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const result = await run(["bench", "-c", "4", "-d", "0.3", `ws://127.0.0.1:${port}/`]);
      assert.equal(result.code, 1);
      assert.match(result.stdout, /^ {2}errors +4$/m);
      assert.match(result.stdout, /closed by the server \(1008\) +4$/m);
      assert.doesNotMatch(result.stdout, /connection failed/);
    } finally {
      await server.close();
    }
  });
});
