import assert from "node:assert/strict";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { Cli, killAll, run } from "./helpers.js";

// What a newcomer's slips get from the CLI (review 120): the one line says what is wrong and what to type.

after(killAll);

/** Whether this machine can listen on ::1. */
function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(0, "::1", () => server.close(() => resolve(true)));
  });
}

describe("sockjet connect and serve: messages for a newcomer's slips", () => {
  test("a port past 65535 is named as out of range", async () => {
    const result = await run(["connect", "ws://localhost:99999/"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^sockjet connect: invalid URL "ws:\/\/localhost:99999\/": port 99999 is out of range \(1–65535\)\n/,
    );
  });

  test("host:port without a scheme suggests the ws:// URL", async () => {
    const result = await run(["connect", "localhost:8080"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /the scheme must be ws, wss, http or https \(did you mean ws:\/\/localhost:8080\/\?\)\n/,
    );
  });

  test("127.0.0.1:8080, [::1]:8080 and a bare localhost suggest the ws:// URL too (newcomer review)", async () => {
    const typed = ["127.0.0.1:8080", "[::1]:8080", "localhost", "127.0.0.1:8080/chat"];
    const expected = [
      "ws://127.0.0.1:8080/",
      "ws://[::1]:8080/",
      "ws://localhost/",
      "ws://127.0.0.1:8080/chat",
    ];
    const results = await Promise.all(typed.map((url) => run(["connect", url])));
    for (const [i, result] of results.entries()) {
      assert.equal(result.code, 2, typed[i]);
      assert.ok(result.stderr.includes(`(did you mean ${expected[i]}?)\n`), result.stderr);
    }
  });

  test("serve --host [::1] listens on ::1, as a URL writes the address (it could not resolve it; newcomer review)", async (t) => {
    if (await ipv6Loopback()) {
      const served = new Cli(["serve", "--port", "0", "--host", "[::1]"]);
      t.after(() => served.kill());
      await served.waitFor(/listening on \[::1\]:\d+/, { timeoutMs: 15_000 });
    } else t.diagnostic("no IPv6 loopback here: listening on [::1] not tried");
    const [wrong, withPort] = await Promise.all([
      run(["serve", "--host", "[localhost]", "--port", "0"]),
      run(["serve", "--host", "localhost:8080", "--port", "0"]),
    ]);
    assert.equal(wrong.code, 2);
    assert.match(
      wrong.stderr,
      /invalid value for --host: "\[localhost\]" \(expected a host name or an address; an IPv6 address as ::1 or \[::1\]\)/,
    );
    assert.equal(withPort.code, 1);
    assert.match(withPort.stderr, /cannot resolve --host localhost:8080 \(give the port with --port\)\n/);
  });

  test("a plain HTTP server's 200 is named as not a WebSocket endpoint", async (t) => {
    const server = http.createServer((_request, response) => response.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as AddressInfo).port;
    const result = await run(["connect", `http://127.0.0.1:${port}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the server answered HTTP 200 OK \(not a WebSocket endpoint\)/);
  });

  test("serve --host with an address this machine does not have says so", async () => {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine.
    const result = await run(["serve", "--host", "192.0.2.1", "--port", "0"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--host 192\.0\.2\.1 is not an address of this machine/);
  });
});
