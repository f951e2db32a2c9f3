import assert from "node:assert/strict";
import os from "node:os";
import { after, describe, test } from "node:test";
import { serveGuard } from "../../src/cli/serve-guard.js";
import { Cli, killAll } from "../cli/helpers.js";
import { type Cleanup, RawClient, upgradeRequest } from "./helpers.js";

// DNS rebinding against `sockjet serve --host 0.0.0.0` (attack review, rebinding): the Host guard ran only
// when serve listened on loopback, so a rebinding page (Origin and Host both the attacker's name, which
// resolves to this machine) got a 101 as soon as serve listened on every interface. The guard now checks
// Host whatever the address. This test has to listen on 0.0.0.0 (the case itself): it connects through
// 127.0.0.1 only, and serve lives for the test's few handshakes.

after(killAll);

async function serveOnEveryInterface(args: string[] = []): Promise<{ cli: Cli; port: number }> {
  const cli = new Cli(["serve", "--quiet", "--port", "0", "--host", "0.0.0.0", ...args]);
  const match = await cli.waitFor(/echo\s+ws:\/\/localhost:(\d+)\//);
  return { cli, port: Number(match[1]) };
}

/** The status of a handshake on `path` with Host `host` and the Origin of a page served under it. */
async function statusFor(t: Cleanup, port: number, path: string, host: string): Promise<number> {
  const client = await RawClient.connect(t, port);
  client.write(
    upgradeRequest({
      path,
      headers: { Host: host, Origin: `http://${host}`, "Sec-WebSocket-Protocol": "chat" },
    }),
  );
  const head = await client.readHead();
  client.destroy();
  return head.status;
}

/** An address of a non-loopback interface of this machine, if it has one. */
function interfaceAddress(): string | undefined {
  for (const entries of Object.values(os.networkInterfaces()))
    for (const entry of entries ?? [])
      if (!entry.internal) return entry.family === "IPv6" ? `[${entry.address}]` : entry.address;
  return undefined;
}

describe("sockjet serve --host 0.0.0.0: the Host guard still stands (DNS rebinding)", () => {
  test("regression: a rebinding page's Host (evil.test, 127.0.0.1.evil.test) gets 403; this machine's names get 101", async (t) => {
    const { cli, port } = await serveOnEveryInterface(["--allow-origin", "http://app.test"]);
    try {
      for (const path of ["/chat?name=mallory", "/"]) {
        for (const name of ["evil.test", "127.0.0.1.evil.test", "localhost.evil.test"]) {
          assert.equal(await statusFor(t, port, path, `${name}:${port}`), 403, name);
        }
      }
      const own = ["localhost", "127.0.0.1", "[::1]", os.hostname(), `${os.hostname()}.local`];
      const address = interfaceAddress();
      if (address !== undefined) own.push(address);
      for (const name of own) assert.equal(await statusFor(t, port, "/", `${name}:${port}`), 101, name);
      // --allow-origin's names are allowed as Host (a reverse proxy forwarding its name).
      assert.equal(await statusFor(t, port, "/", "app.test"), 101);
    } finally {
      cli.kill("SIGTERM");
      await cli.exited;
    }
  });
});

describe("serveGuard", () => {
  const machine = {
    hostname: () => "Build-Box",
    addresses: () => ["127.0.0.1", "192.0.2.7", "::1", "2001:db8::7"],
  };
  const verdict = (guard: ReturnType<typeof serveGuard>, host: string) =>
    guard.verify?.({ request: { headers: { host } } } as never);

  test("allows the --host name, the machine's name (any case) and NAME.local, its interface addresses; refuses others", () => {
    const guard = serveGuard([], "chat.example", machine);
    for (const host of [
      "chat.example:8080",
      "build-box",
      "BUILD-BOX.local:1",
      "192.0.2.7:8080",
      "[2001:db8::7]:1",
      "[::ffff:192.0.2.7]",
    ])
      assert.equal(verdict(guard, host), true, host);
    for (const host of [
      "evil.test",
      "192.0.2.8",
      "[2001:db8::8]",
      "build-box.evil.test",
      "chat.example.evil.test",
    ])
      assert.deepEqual(
        verdict(guard, host),
        {
          status: 403,
          message:
            "Host not allowed: this server serves localhost and this machine's own names and addresses only (see --allow-origin)",
        },
        host,
      );
    // An address given as --host is not a name to allow (its interface is, if it has one).
    assert.notEqual(verdict(serveGuard([], "203.0.113.9", machine), "203.0.113.9"), true);
  });
});
