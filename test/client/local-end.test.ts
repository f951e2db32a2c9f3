import assert from "node:assert/strict";
import type { LookupAddress, LookupOptions } from "node:dns";
import type { IncomingMessage } from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
import { type CloseEvent, WebSocket, type WebSocketOptions, WebSocketServer } from "../../src/index.js";
import { connect, next, selfSignedCertificate, within } from "./helpers.js";

// The local end of the client's TCP connection, as net.connect takes it (localAddress, family, lookup), and
// the option checks around it. Before the fix, localAddress, family and lookup (http.request's names, which
// ws passes on) were ignored without a word, createConnection too, and proxyFromEnvironment: "yes" meant
// false. Linux routes all of 127.0.0.0/8 to lo, so 127.0.0.2 is a local address the server sees.

const LOCAL = "127.0.0.2";

/** A WebSocketServer on 127.0.0.1:0 (optionally h2c or TLS) that records each connection's peer address. */
async function server(
  t: TestContext,
  options: { http2?: boolean; tls?: { key: string; cert: string } } = {},
): Promise<{ port: number; peers: string[]; hosts: string[] }> {
  const peers: string[] = [];
  const hosts: string[] = [];
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", ...options });
  wss.on("connection", (socket, request: IncomingMessage) => {
    peers.push(String(socket.remoteAddress));
    hosts.push(String(request.headers.host ?? request.headers[":authority"]));
  });
  await within(new Promise((resolve) => wss.once("listening", resolve)), 3000, "listening");
  t.after(() => wss.close());
  return { port: (wss.address() as AddressInfo).port, peers, hosts };
}

/** Opens a client with `options`, waits for open, closes it. */
async function opens(t: TestContext, url: string, options: WebSocketOptions): Promise<WebSocket> {
  const ws = connect(t, url, [], { handshakeTimeoutMs: 3000, ...options });
  await next(ws, "open");
  ws.close();
  return ws;
}

/** A CONNECT proxy (RFC 9110 §9.3.6) on 127.0.0.1:0 that records the address each client came from. */
async function connectProxy(t: TestContext): Promise<{ url: string; clients: string[] }> {
  const clients: string[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    clients.push(String(client.remoteAddress));
    client.once("data", (head) => {
      const [host, port] = head.toString("latin1").split(" ")[1].split(":");
      const upstream = net.connect(Number(port), host, () => {
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on("error", () => client.destroy());
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, clients };
}

/** A lookup that answers 127.0.0.1 for every name, and records the family asked for. */
function recordingLookup(families: number[]) {
  return (
    _hostname: string,
    options: LookupOptions,
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    families.push(Number(options.family ?? 0));
    // net.connect asks for all addresses when it may try several (autoSelectFamily), else for one.
    if (options.all === true) callback(null, [{ address: "127.0.0.1", family: 4 }]);
    else callback(null, "127.0.0.1", 4);
  };
}

describe("the local end of the connection: localAddress, family, lookup (net.connect's)", () => {
  if (process.platform !== "linux") return;

  test("regression: localAddress 127.0.0.2: the server sees the connection come from it (ws:, wss:, h2c)", async (t) => {
    const plain = await server(t);
    await opens(t, `ws://127.0.0.1:${plain.port}/`, { localAddress: LOCAL });
    const h2c = await server(t, { http2: true });
    await opens(t, `ws://127.0.0.1:${h2c.port}/`, { localAddress: LOCAL, http2: "always" });
    // The HTTP/2 session is shared by the sockets to an origin with the same local end only.
    await opens(t, `ws://127.0.0.1:${h2c.port}/`, { http2: "always" });
    assert.deepEqual([...plain.peers, ...h2c.peers], [LOCAL, LOCAL, "127.0.0.1"]);
    const certificate = selfSignedCertificate();
    if (certificate === null) return t.skip("openssl is missing: no wss: part");
    const secure = await server(t, { tls: certificate });
    await opens(t, `wss://127.0.0.1:${secure.port}/`, { localAddress: LOCAL, ca: certificate.cert });
    assert.deepEqual(secure.peers, [LOCAL]);
  });

  test("localAddress through an HTTP proxy: the connection to the proxy comes from it", async (t) => {
    const target = await server(t);
    const proxy = await connectProxy(t);
    await opens(t, `ws://127.0.0.1:${target.port}/`, { localAddress: LOCAL, proxy: proxy.url });
    assert.deepEqual(proxy.clients, [LOCAL]);
  });

  test("regression: lookup resolves the host name, asked for the family given (HTTP/1.1 and h2c)", async (t) => {
    const target = await server(t);
    const h2c = await server(t, { http2: true });
    const families: number[] = [];
    const lookup = recordingLookup(families);
    await opens(t, `ws://sockjet.test:${target.port}/`, { lookup, family: 4 });
    await opens(t, `ws://sockjet.test:${h2c.port}/`, { lookup, family: 4, http2: "always" });
    assert.deepEqual(
      [...target.hosts, ...h2c.hosts],
      [`sockjet.test:${target.port}`, `sockjet.test:${h2c.port}`],
      "the URL's host is sent as Host (:authority)",
    );
    assert.deepEqual(families, [4, 4]);
  });
});

describe("a lookup that throws or finds nothing fails the connection (an error event), wss: too (review 152)", () => {
  const lookups: [string, WebSocketOptions["lookup"]][] = [
    [
      "throws",
      () => {
        throw new Error("lookup boom");
      },
    ],
    [
      "answers no address (all: true, [])",
      (_host: string, _options: LookupOptions, callback: (...args: never[]) => void) =>
        (callback as (error: null, addresses: LookupAddress[]) => void)(null, []),
    ],
  ];
  for (const [what, lookup] of lookups) {
    test(`a lookup that ${what}: the constructor returns, then error and close 1006`, async (t) => {
      const certificate = selfSignedCertificate();
      if (certificate === null) return t.skip("openssl is missing");
      const secure = await server(t, { tls: certificate });
      for (const url of [`wss://sockjet.test:${secure.port}/`, `ws://sockjet.test:${secure.port}/`]) {
        const socket: WebSocket = new WebSocket(url, [], { lookup, ca: certificate.cert });
        const errored = next(socket, "error");
        const closed: CloseEvent = await next<CloseEvent>(socket, "close");
        await errored;
        assert.equal(closed.code, 1006);
      }
    });
  }
});

describe("the local end's options and flags are checked: a TypeError naming the option", () => {
  for (const [options, message] of [
    [
      { localAddress: "nope" },
      /^options\.localAddress must be an IP address of this host, such as "127\.0\.0\.2"/,
    ],
    [{ localAddress: 127 }, /^options\.localAddress must be an IP address/],
    [{ family: 5 }, /^options\.family must be 4, 6 or 0 \(either\), not 5$/],
    [{ family: "IPv4" }, /^options\.family must be 4, 6 or 0/],
    [{ lookup: "8.8.8.8" }, /^options\.lookup must be a function \(as dns\.lookup\)/],
    // Only true counted: "yes" was false, without a word.
    [{ proxyFromEnvironment: "yes" }, /^options\.proxyFromEnvironment must be a boolean, not "yes"$/],
    [{ proxyFromEnvironment: 1 }, /^options\.proxyFromEnvironment must be a boolean, not 1$/],
    // Node's TLS counts all but false: "false" verified certificates, as the opposite of what it says.
    [{ rejectUnauthorized: "false" }, /^options\.rejectUnauthorized must be a boolean, not "false"$/],
    [
      { createConnection: () => net.connect(1) },
      /^options\.createConnection is ws's name: sockjet makes its own connections: for their local end use localAddress, family or lookup; for a proxy, proxy$/,
    ],
  ] as const) {
    test(`regression: ${Object.entries(options).map(([name, value]) => `${name}: ${typeof value === "function" ? "a function" : JSON.stringify(value)}`)}`, () => {
      assert.throws(
        () => new WebSocket("ws://127.0.0.1:1/", [], options as unknown as WebSocketOptions),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `a TypeError, got ${String(error)}`);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
