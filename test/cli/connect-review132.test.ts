import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { Cli, killAll, run, serve } from "./helpers.js";

// `sockjet connect`, from a newcomer's review (132).

after(killAll);

describe("sockjet connect: a server that drops the upgrade request", () => {
  test("names both likely causes: no WebSocket endpoint at this path, or a TLS server", async (t) => {
    // An upgrade handler that destroys the socket of a path it does not serve (as many servers do).
    const server = http.createServer();
    server.on("upgrade", (_request, socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/unknown`;
    const result = await run(["connect", url]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `sockjet connect: cannot connect to ${url}: the server closed the connection without answering the ` +
        "handshake (no WebSocket endpoint at this path, or a TLS server: then use wss://)\n",
    );
  });
});

describe("sockjet connect: SIGTERM and SIGINT", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} closes with 1000 (the server logs the close) and exits 0`, async () => {
      const served = await serve();
      try {
        const cli = new Cli(["connect", `${served.ws}/?case=${signal}`]);
        cli.write("hi\n");
        await cli.waitFor(/^hi\n/);
        cli.kill(signal);
        const exit = await cli.exit();
        assert.deepEqual(exit, { code: 0, signal: null }, cli.transcript());
        await served.cli.waitFor(new RegExp(`close {2}127\\.0\\.0\\.1 {2}/\\?case=${signal} {2}1000\\n`));
      } finally {
        served.cli.kill("SIGTERM");
        await served.cli.exit();
      }
    });
  }
});
