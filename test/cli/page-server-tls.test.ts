import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { test } from "node:test";
import { answerClientError } from "../../src/cli/page-server.js";

// A TLS socket that never starts its handshake: node:tls reports ERR_TLS_HANDSHAKE_TIMEOUT as a clientError,
// and answerClientError wrote an HTTP 400 into the unfinished TLS session, where it waited unsent until the
// 1 s linger destroyed it (attack review, tls-silent-small: such sockets lived --handshake-timeout + 1 s).
// The check is structural: the socket is destroyed by answerClientError itself, not later.

test("answerClientError destroys a TLS socket whose handshake timed out at once, with no HTTP answer", async () => {
  const server = https.createServer({
    cert: readFileSync("test/cli/fixtures/cert.pem"),
    key: readFileSync("test/cli/fixtures/key.pem"),
    handshakeTimeout: 200,
  });
  let serverSide: Duplex | undefined;
  const seen = new Promise<{ code: string; destroyedAfter: boolean }>((resolve) => {
    server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
      serverSide = socket;
      answerClientError(error, socket);
      resolve({ code: error.code ?? "", destroyedAfter: socket.destroyed });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const silent = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
  silent.on("error", () => {});
  const closed = new Promise<void>((resolve) => silent.on("close", () => resolve()));
  try {
    const { code, destroyedAfter } = await seen;
    assert.equal(code, "ERR_TLS_HANDSHAKE_TIMEOUT");
    assert.equal(destroyedAfter, true, "destroyed at once, not after the linger");
    await closed;
  } finally {
    silent.destroy();
    serverSide?.destroy(); // the old code left it to an unref'd timer, which would not keep the test alive
    await new Promise((resolve) => server.close(resolve));
  }
});
