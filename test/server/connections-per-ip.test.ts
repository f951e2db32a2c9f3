import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { addressKey } from "../../src/server/connections-per-ip.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { RawClient, sleep, startServer, upgradeRequest, waitFor } from "./helpers.js";

// Issue 22 item 9: one address could take every connection slot. maxConnectionsPerIp caps the connections
// (open or still handshaking) of one client address; more get 429 Too Many Requests (RFC 6585 §4: this
// client's doing, unlike 503, which says the server is unavailable to all) with Retry-After.

describe("maxConnectionsPerIp", () => {
  test("regression: the third connection from one address gets 429 with Retry-After; a freed slot is reused", async (t) => {
    const { server, port } = await startServer(t, { maxConnectionsPerIp: 2 });
    const first = await RawClient.connect(t, port);
    await first.handshake();
    const second = await RawClient.connect(t, port);
    await second.handshake();

    const third = await RawClient.connect(t, port);
    third.write(upgradeRequest());
    const head = await third.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 429 Too Many Requests");
    assert.equal(head.header("retry-after"), "5");
    assert.equal(await third.readBody(head), "Too many connections from this address");
    await third.expectEof();
    assert.equal(server.clients.size, 2);

    first.destroy();
    await waitFor(() => server.clients.size === 1, 3000, "the first connection to close");
    const fourth = await RawClient.connect(t, port);
    assert.equal((await fourth.handshake()).status, 101, "a closed connection frees its slot");
  });

  test("handshakes still waiting on verify count, and a refused handshake frees its slot", async (t) => {
    let release = () => {};
    const gate = new Promise<boolean>((resolve) => (release = () => resolve(false)));
    const { port } = await startServer(t, { maxConnectionsPerIp: 1, verify: () => gate });
    const waiting = await RawClient.connect(t, port);
    waiting.write(upgradeRequest());
    await sleep(50);
    const second = await RawClient.connect(t, port);
    second.write(upgradeRequest());
    assert.equal((await second.readHead()).status, 429);
    release();
    assert.equal((await waiting.readHead()).status, 403);
    await waiting.expectEof();
    waiting.destroy();
    await sleep(50);
    const third = await RawClient.connect(t, port);
    third.write(upgradeRequest());
    assert.equal((await third.readHead()).status, 403, "past the cap: verify decides again");
  });

  test("default 0: no per-address limit", async (t) => {
    const { server, port } = await startServer(t);
    for (let i = 0; i < 5; i++) await (await RawClient.connect(t, port)).handshake();
    assert.equal(server.clients.size, 5);
  });

  test("a negative or non-number limit is a TypeError", () => {
    for (const value of [-1, "2", Number.NaN]) {
      assert.throws(
        () => new WebSocketServer({ noServer: true, maxConnectionsPerIp: value as number }),
        TypeError,
      );
    }
  });
});

describe("addressKey: the unit an address is counted under", () => {
  test("IPv4 as is; IPv4-mapped IPv6 as IPv4; IPv6 by its /64 (a host picks freely inside its /64)", () => {
    assert.equal(addressKey("203.0.113.7"), "203.0.113.7");
    assert.equal(addressKey("::ffff:203.0.113.7"), "203.0.113.7");
    assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:db8:1:2:ffff:ffff:ffff:fffe"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:0db8:0001:0003::1"), "2001:db8:1:3::/64");
    assert.equal(addressKey("::1"), "0:0:0:0::/64");
    assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  });

  test("a coarser prefix on request (resume sessions count an IPv6 client by its /48)", () => {
    assert.equal(addressKey("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
    assert.equal(addressKey("2001:db8:1:ffff::9", 48), "2001:db8:1::/48");
    assert.equal(addressKey("203.0.113.7", 48), "203.0.113.7");
  });
});
