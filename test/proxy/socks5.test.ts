import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { before, describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import { DANTED, proxySkip, startDanted, startSocks5WithPassword, versionOf } from "./proxies.js";
import { assertNoSecret, echoServer, echoThrough, failureThrough, testCertificate } from "./targets.js";

// ws: and wss: through SOCKS5 (RFC 1928): a real danted without authentication, and, for username/password
// (RFC 1929), a small SOCKS5 server of the test's own (dante checks those credentials against system accounts,
// which a test cannot create). Host names travel to the proxy as names (ATYP 3): the proxy resolves them.

const skip = proxySkip(DANTED, "dante-server");
const SECRET = "pa:ss/w%rd";

before(() => {
  if (skip === false) console.log(`# proxy under test: ${versionOf(DANTED)}`);
});

async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("SOCKS5 without authentication (danted)", { skip }, () => {
  test("ws: and wss: through danted, by IP address and by name (resolved by the proxy)", async (t) => {
    const plain = await echoServer(t);
    const secure = await echoServer(t, true);
    const proxy = await startDanted(t);
    const ca = testCertificate()?.cert;
    assert.equal(await echoThrough(t, plain.url, { proxy: proxy.url }), "echo:hi");
    assert.equal(await echoThrough(t, `ws://localhost:${plain.port}`, { proxy: proxy.url }), "echo:hi");
    assert.equal(await echoThrough(t, secure.url, { proxy: proxy.url, ca }), "echo:hi");
    const socks5h = proxy.url.replace("socks5:", "socks5h:");
    assert.equal(await echoThrough(t, `wss://localhost:${secure.port}`, { proxy: socks5h, ca }), "echo:hi");
    assert.deepEqual(plain.hosts, [`127.0.0.1:${plain.port}`, `localhost:${plain.port}`]);
  });

  test("a target that refuses: SJ_ERR_PROXY_TARGET_REFUSED with the reply code (5, connection refused)", async (t) => {
    const proxy = await startDanted(t);
    const port = await closedPort();
    const { error } = await failureThrough(t, `ws://127.0.0.1:${port}`, { proxy: proxy.url });
    assert.equal(error.code, "SJ_ERR_PROXY_TARGET_REFUSED");
    assert.equal(
      error.message,
      `SOCKS5 proxy ${proxy.url} could not connect to the target: connection refused (reply 5)`,
    );
  });

  test("a port its rules block: SJ_ERR_PROXY_TARGET_REFUSED, 'connection not allowed by ruleset (reply 2)'", async (t) => {
    const target = await echoServer(t);
    const proxy = await startDanted(t, { blockedPort: target.port });
    const { error } = await failureThrough(t, target.url, { proxy: proxy.url });
    assert.equal(error.code, "SJ_ERR_PROXY_TARGET_REFUSED");
    assert.match(
      error.message,
      /could not connect to the target: connection not allowed by ruleset \(reply 2\)$/,
    );
  });

  test("credentials offered to a proxy that takes none: it picks 'no authentication' and the tunnel works", async (t) => {
    const target = await echoServer(t);
    const proxy = await startDanted(t);
    const withCredentials = { url: proxy.url, username: "alice", password: SECRET };
    assert.equal(await echoThrough(t, target.url, { proxy: withCredentials }), "echo:hi");
  });
});

describe("SOCKS5 with username/password (RFC 1929, an in-test server)", () => {
  test("ws: and wss: with credentials from the URL and from the options; names sent as ATYP 3", async (t) => {
    const plain = await echoServer(t);
    const secure = await echoServer(t, true);
    const proxy = await startSocks5WithPassword(t, { username: "alice", password: SECRET });
    const inUrl = `socks5://alice:${encodeURIComponent(SECRET)}@127.0.0.1:${proxy.port}`;
    assert.equal(await echoThrough(t, `ws://localhost:${plain.port}`, { proxy: inUrl }), "echo:hi");
    const settings = { url: `socks5h://127.0.0.1:${proxy.port}`, username: "alice", password: SECRET };
    const ca = testCertificate()?.cert;
    assert.equal(await echoThrough(t, secure.url, { proxy: settings, ca }), "echo:hi");
    assert.deepEqual(proxy.requests, [
      { atyp: 3, host: "localhost", port: plain.port },
      { atyp: 1, host: "127.0.0.1", port: secure.port },
    ]);
  });

  test("wrong password: SJ_ERR_PROXY_AUTH_REQUIRED, and the password is in no error", async (t) => {
    const proxy = await startSocks5WithPassword(t, { username: "alice", password: "right" });
    const inUrl = `socks5://alice:${encodeURIComponent(SECRET)}@127.0.0.1:${proxy.port}`;
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: inUrl });
    assert.equal(error.code, "SJ_ERR_PROXY_AUTH_REQUIRED");
    assert.equal(
      error.message,
      `SOCKS5 proxy socks5://127.0.0.1:${proxy.port} rejected the username/password`,
    );
    assertNoSecret(error, SECRET);
    assertNoSecret(error, encodeURIComponent(SECRET));
    assert.deepEqual(proxy.authAttempts, ["alice"]);
  });

  test("no credentials for a proxy that requires them: SJ_ERR_PROXY_AUTH_REQUIRED (no acceptable method)", async (t) => {
    const proxy = await startSocks5WithPassword(t, { username: "alice", password: "right" });
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", {
      proxy: `socks5://127.0.0.1:${proxy.port}`,
    });
    assert.equal(error.code, "SJ_ERR_PROXY_AUTH_REQUIRED");
    assert.match(error.message, /requires authentication/);
  });
});

describe("SOCKS5 proxies that break the protocol (raw servers)", () => {
  /** A TCP server that answers the greeting with `reply` and then does what `after` says. */
  async function rawSocks(t: Parameters<typeof failureThrough>[0], reply: Buffer, after: "close" | "silent") {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("data", () => {
        if (after === "close") socket.end(reply);
        else socket.write(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return `socks5://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  test("a SOCKS4 answer: SJ_ERR_PROXY_PROTOCOL naming the version", async (t) => {
    const url = await rawSocks(t, Buffer.from([0x00, 0x5a]), "close");
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url });
    assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
    assert.match(error.message, /answered with SOCKS version 0, not 5/);
  });

  test("a proxy that closes mid-negotiation: SJ_ERR_PROXY_PROTOCOL saying where", async (t) => {
    const url = await rawSocks(t, Buffer.from([0x05]), "close");
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url });
    assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
    assert.match(error.message, /closed the connection during the negotiation \(method\)/);
  });

  test("regression: a username/password reply whose version is not 1: SJ_ERR_PROXY_PROTOCOL (RFC 1929 §2)", async (t) => {
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      // Greeting → method 2 (username/password); the sub-negotiation → a reply with version 7, "success".
      socket.once("data", () => {
        socket.write(Buffer.from([0x05, 0x02]));
        socket.once("data", () => socket.write(Buffer.from([0x07, 0x00])));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.close());
    const url = `socks5://alice:pw@127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url, handshakeTimeoutMs: 2000 });
    assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
    assert.match(error.message, /version 7, not 1/);
  });

  test("a proxy that never answers CONNECT: the handshake timeout covers the tunnel", async (t) => {
    const url = await rawSocks(t, Buffer.from([0x05, 0x00]), "silent");
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url, handshakeTimeoutMs: 300 });
    assert.equal(error.code, "SJ_ERR_HANDSHAKE_TIMEOUT");
  });
});

describe("close() while the tunnel is being opened", () => {
  test("the proxy connection is closed, and the error is SJ_ERR_ABORTED", async (t) => {
    let proxySocketClosed: () => void = () => {};
    const closed = new Promise<void>((resolve) => {
      proxySocketClosed = resolve;
    });
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.on("close", () => proxySocketClosed());
      // Accepts the greeting, then never answers CONNECT.
      socket.once("data", () => socket.write(Buffer.from([0x05, 0x00])));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const url = `socks5://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ws = new WebSocket("ws://127.0.0.1:2", [], { proxy: url });
    const error = new Promise<unknown>((resolve) =>
      ws.addEventListener("error", (event) => resolve((event as unknown as { error: unknown }).error)),
    );
    await new Promise<void>((resolve) => server.once("connection", () => setTimeout(resolve, 50)));
    ws.close();
    assert.equal(((await error) as { code: string }).code, "SJ_ERR_ABORTED");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("the proxy connection stayed open")), 3000);
      }),
    ]).finally(() => clearTimeout(timer));
  });
});
