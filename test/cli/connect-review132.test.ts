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

describe("sockjet connect --proxy: a proxy it cannot use", () => {
  test("is a usage error that names --proxy (not options.proxy) and never prints the password", async () => {
    const cases: Array<[string, RegExp]> = [
      ["ftp://u:s3cr3t@h:1", /^sockjet connect: --proxy: unsupported proxy scheme "ftp:" \(use http:/],
      ["http://u:s3cr3t@h:99999", /^sockjet connect: --proxy is not a valid URL\n/],
      ["http://u%zz:s3cr3t@h/", /^sockjet connect: --proxy: the credentials in the URL are not valid/],
    ];
    const results = await Promise.all(
      cases.map(([proxy]) => run(["connect", "--proxy", proxy, "ws://127.0.0.1:2/"])),
    );
    results.forEach((result, i) => {
      const [proxy, message] = cases[i];
      assert.equal(result.code, 2, `${proxy}: ${result.stderr}`);
      assert.match(result.stderr, message, proxy);
      assert.match(result.stderr, /\nsee sockjet connect --help\n$/, proxy);
      assert.doesNotMatch(result.stderr, /options\.proxy|s3cr3t/, proxy);
    });
  });
});
