import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, test } from "node:test";
import { killAll, type Served, serve } from "./helpers.js";

// While `sockjet serve` stops (SIGTERM: its WebSocket servers close, waiting up to their shutdown timeout for
// the closing handshakes), a new WebSocket upgrade gets 503 with Retry-After, not the demo page: a 200 fails
// the handshake too (RFC 6455 §4.1) but tells a reconnecting client nothing.

after(killAll);

function upgradeRequest(path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
  );
}

/** A raw connection that sends `request` and resolves with everything it got until the server closed it. */
async function exchange(served: Served, request: string): Promise<string> {
  const socket = net.connect(served.port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(request);
  let got = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (got += chunk));
  await Promise.race([
    once(socket, "close"),
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no end; got ${JSON.stringify(got.split("\r\n")[0])}`)), 5000),
    ),
  ]);
  return got;
}

describe("sockjet serve while it stops", () => {
  test("a WebSocket upgrade gets 503 with Retry-After, not the page", async () => {
    const served = await serve();
    try {
      // A client that completes its handshake and then ignores everything (it is the same request as the one
      // below): the stop waits for its closing handshake, which keeps serve stopping for a while.
      const stuck = net.connect(served.port, "127.0.0.1");
      await once(stuck, "connect");
      stuck.write(upgradeRequest("/"));
      const [head] = await once(stuck, "data");
      assert.match(String(head), /^HTTP\/1\.1 101 /);
      stuck.pause();

      served.cli.kill("SIGTERM");
      await served.cli.waitFor(/SIGTERM: closing \d+ connection\(s\) with 1001/);
      const answer = await exchange(served, upgradeRequest("/"));
      assert.match(answer, /^HTTP\/1\.1 503 /, answer.split("\r\n")[0]);
      assert.match(answer, /\r\nRetry-After: 1\r\n/i);
      assert.match(answer, /shutting down/);
      stuck.destroy();
      await served.cli.exit();
    } finally {
      served.cli.kill("SIGKILL");
    }
  });
});
