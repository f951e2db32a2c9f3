import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { WebSocketServer, type WebSocketServerOptions } from "../../src/index.js";
import { killAll, onTerminal, run } from "./helpers.js";

// What `sockjet bench` says where its figures would mislead (a newcomer's review): a progress line of "1
// connections", latencies of "0.000 ms" when nothing came back, a 1008 of a rate limit without advice.

after(killAll);

async function withServer(
  options: Omit<WebSocketServerOptions, "port">,
  onMessage: ((socket: import("../../src/index.js").WebSocket, data: unknown) => void) | null,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const server = new WebSocketServer({ ...options, port: 0, host: "127.0.0.1" });
  if (onMessage !== null)
    server.on("connection", (socket) => (socket.onmessage = (event) => onMessage(socket, event.data)));
  await new Promise<void>((resolve) => server.once("listening", resolve));
  try {
    await body(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    await server.close();
  }
}

describe("sockjet bench: what it says", { concurrency: 2 }, () => {
  test("the progress line of one connection says '1 connection', not '1 connections'", async () => {
    await withServer(
      {},
      (socket, data) => socket.send(data as ArrayBuffer),
      async (url) => {
        const { code, output } = await onTerminal(["bench", "-c", "1", "-i", "1", "-d", "1.5", url]);
        assert.equal(code, 0, output);
        // The progress line is written every second, on stderr, before the table.
        assert.match(output, /msgs\/s {3}[\d.,]+ MB\/s {3}1 connection {3}0 errors/, JSON.stringify(output));
        assert.doesNotMatch(output, /1 connections/);
      },
    );
  });

  test("no message back: the latencies are '–', not '0.000 ms'", async () => {
    await withServer({}, null, async (url) => {
      const result = await run(["bench", "-c", "1", "-i", "1", "-d", "0.3", url]);
      assert.equal(result.code, 1);
      for (const row of ["p50", "p99", "max"])
        assert.match(result.stdout, new RegExp(`^ {2}latency ${row} +–$`, "m"));
      assert.doesNotMatch(result.stdout, /0\.000 ms/);
      assert.match(result.stderr, /no message came back; is this an echo endpoint\?/);
    });
  });

  test("a 1008 of the server's rate limit says how to lift it for the run", async () => {
    await withServer(
      { rateLimit: { framesPerSecond: 5, onExceeded: "close" } },
      (socket, data) => socket.send(data as ArrayBuffer),
      async (url) => {
        const result = await run(["bench", "-c", "1", "-d", "1", url]);
        assert.equal(result.code, 1);
        assert.match(
          result.stderr,
          /^sockjet bench: the server closed 1 connection with 1008 "rate limit exceeded \(5 frames\/s\)": the server limits what each connection may send, and bench sends as fast as the echoes come back; lift or raise its limits for the run \(sockjet serve --rate-limit 0 --byte-rate 0, or --on-rate-limit pause\)\n/m,
        );
      },
    );
  });
});
