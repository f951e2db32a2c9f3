import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { killAll, run, type Served, serve } from "../cli/helpers.js";
import { type Cleanup, RawClient, upgradeRequest } from "./helpers.js";

// Issue 22 items 2 and 9 on `sockjet serve` (a child process on 127.0.0.1, port 0): a page on another origin
// cannot open /chat or / (cross-site WebSocket hijacking), nor can a DNS-rebinding page whose Origin and Host
// are both the attacker's name; --allow-origin widens that; one address gets at most N connections.

after(killAll);

/** The status of a handshake on `path` with these headers. */
async function statusFor(
  t: Cleanup,
  served: Served,
  path: string,
  headers: Record<string, string | null>,
): Promise<number> {
  const client = await RawClient.connect(t, served.port);
  client.write(upgradeRequest({ path, headers: { "Sec-WebSocket-Protocol": "chat", ...headers } }));
  const head = await client.readHead();
  client.destroy();
  return head.status;
}

describe("sockjet serve: which pages may open a WebSocket", () => {
  test("regression: by default a page on another origin, or a DNS-rebinding page, gets 403 on /chat and /", async (t) => {
    const served = await serve();
    const own = `127.0.0.1:${served.port}`;
    const evil = `evil.test:${served.port}`;
    for (const path of ["/chat?name=mallory", "/"]) {
      assert.equal(await statusFor(t, served, path, { Host: own, Origin: `http://${own}` }), 101, "own page");
      assert.equal(
        await statusFor(t, served, path, { Host: `localhost:${served.port}`, Origin: null }),
        101,
        "a non-browser client",
      );
      assert.equal(
        await statusFor(t, served, path, { Host: own, Origin: `http://${evil}` }),
        403,
        "cross-site page",
      );
      // DNS rebinding: evil.test resolves to 127.0.0.1, so Origin and Host agree, but Host is not loopback.
      assert.equal(
        await statusFor(t, served, path, { Host: evil, Origin: `http://${evil}` }),
        403,
        "rebinding page",
      );
    }
    await served.cli.waitFor(/refused 127\.0\.0\.1 {2}\/chat\?name=mallory {2}403 Origin not allowed/);
  });

  test("regression: a rebinding name that starts like a loopback address (127.0.0.1.evil.test) gets 403", async (t) => {
    const served = await serve();
    const port = served.port;
    // DNS names the attacker controls (they resolve to 127.0.0.1), whose Origin agrees with their Host.
    for (const name of ["127.0.0.1.evil.test", "127.attacker.example", "localhost.evil.test"]) {
      const host = `${name}:${port}`;
      for (const path of ["/chat?name=mallory", "/"]) {
        assert.equal(await statusFor(t, served, path, { Host: host, Origin: `http://${host}` }), 403, name);
      }
    }
    // Real loopback literals still name this machine.
    for (const name of ["127.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]", "localhost", "app.localhost"]) {
      const host = `${name}:${port}`;
      assert.equal(await statusFor(t, served, "/", { Host: host, Origin: `http://${host}` }), 101, name);
    }
  });

  test("--allow-origin widens the origins and the Host names; '*' allows any page", async (t) => {
    const served = await serve([
      "--allow-origin",
      "https://app.example",
      "--allow-origin",
      "http://b.example:8080",
    ]);
    const own = `127.0.0.1:${served.port}`;
    assert.equal(
      await statusFor(t, served, "/", { Host: "app.example", Origin: "https://app.example" }),
      101,
    );
    assert.equal(await statusFor(t, served, "/", { Host: own, Origin: "http://b.example:8080" }), 101);
    assert.equal(await statusFor(t, served, "/", { Host: own, Origin: "https://evil.example" }), 403);
    assert.equal(
      await statusFor(t, served, "/", { Host: "evil.example", Origin: "https://app.example" }),
      403,
    );

    const open = await serve(["--allow-origin", "*"]);
    assert.equal(
      await statusFor(t, open, "/", {
        Host: `evil.test:${open.port}`,
        Origin: `http://evil.test:${open.port}`,
      }),
      101,
    );
  });

  test("--allow-origin with a path or garbage is a usage error (exit 2)", async () => {
    for (const value of ["https://app.example/path", "app.example"]) {
      const result = await run(["serve", "--port", "0", "--allow-origin", value]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /--allow-origin/);
    }
  });
});

describe("sockjet serve: connections per address", () => {
  test("regression: --max-connections-per-ip 2 → the third connection from one address gets 429", async (t) => {
    const served = await serve(["--max-connections-per-ip", "2"]);
    const open: RawClient[] = [];
    for (let i = 0; i < 2; i++) {
      const client = await RawClient.connect(t, served.port);
      await client.handshake("/");
      open.push(client);
    }
    assert.equal(await statusFor(t, served, "/", {}), 429);
    // Per endpoint: the chat has its own count.
    assert.equal(await statusFor(t, served, "/chat?name=x", {}), 101);
  });
});
