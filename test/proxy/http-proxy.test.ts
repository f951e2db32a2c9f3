import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { before, describe, test } from "node:test";
import { proxySkip, startTinyproxy, startTlsFront, TINYPROXY, versionOf } from "./proxies.js";
import { assertNoSecret, echoServer, echoThrough, failureThrough, testCertificate } from "./targets.js";

// ws: and wss: through a real HTTP proxy (tinyproxy, CONNECT per RFC 9110 §9.3.6), with and without Basic
// credentials (RFC 7617), and through an HTTPS proxy: a node:tls front that pipes into tinyproxy, so the client
// speaks TLS to the proxy, CONNECT inside it, then TLS to our wss: server inside that (end to end).

const skip = proxySkip(TINYPROXY, "tinyproxy");
/** tinyproxy's BasicAuth takes letters and digits only; the URL form percent-encodes one to check decoding. */
const PASSWORD = "S3cr3tPass";
const PASSWORD_IN_URL = "%533cr3tPass";
/** For the errors that never reach a proxy: a password with characters that need encoding. */
const SECRET = "pa:ss/w%rd";

before(() => {
  if (skip === false) console.log(`# proxy under test: ${versionOf(TINYPROXY)}`);
});

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("HTTP proxy (tinyproxy, CONNECT)", { skip }, () => {
  test("ws: through the proxy: the handshake and messages go through the tunnel", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, { connectPorts: [target.port] });
    assert.equal(await echoThrough(t, target.url, { proxy: proxy.url }), "echo:hi");
    assert.match(
      proxy.output(),
      new RegExp(`CONNECT 127\\.0\\.0\\.1:${target.port}`),
      "tinyproxy saw the CONNECT",
    );
    assert.deepEqual(target.hosts, [`127.0.0.1:${target.port}`], "Host is the target's, not the proxy's");
  });

  test("wss: through the proxy: TLS end to end, the server's certificate checked against the target name", async (t) => {
    const target = await echoServer(t, true);
    const proxy = await startTinyproxy(t, { connectPorts: [target.port] });
    const ca = testCertificate()?.cert;
    assert.equal(await echoThrough(t, target.url, { proxy: proxy.url, ca }), "echo:hi");
    assert.equal(await echoThrough(t, `wss://localhost:${target.port}`, { proxy: proxy.url, ca }), "echo:hi");
    assert.match(
      proxy.output(),
      new RegExp(`CONNECT localhost:${target.port}`),
      "the name went to the proxy",
    );
    // Without the CA the target's certificate is refused: the tunnel does not weaken verification.
    const { error } = await failureThrough(t, target.url, { proxy: proxy.url });
    assert.equal(error.code, "SJ_ERR_TLS_FAILED");
  });

  test("Basic credentials from the proxy URL (percent-decoded) and from the options", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, {
      connectPorts: [target.port],
      basicAuth: { user: "alice", password: PASSWORD },
    });
    const inUrl = `http://alice:${PASSWORD_IN_URL}@127.0.0.1:${proxy.port}`;
    assert.equal(await echoThrough(t, target.url, { proxy: inUrl }), "echo:hi");
    const settings = { url: proxy.url, username: "alice", password: PASSWORD };
    assert.equal(await echoThrough(t, target.url, { proxy: settings }), "echo:hi");
  });

  test("407 without credentials: SJ_ERR_PROXY_AUTH_REQUIRED quoting the status line, then close 1006", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, {
      connectPorts: [target.port],
      basicAuth: { user: "alice", password: PASSWORD },
    });
    const { error } = await failureThrough(t, target.url, { proxy: proxy.url });
    assert.equal(error.name, "HandshakeError");
    assert.equal(error.code, "SJ_ERR_PROXY_AUTH_REQUIRED");
    assert.equal(error.status, 407);
    assert.match(error.message, /requires credentials: it answered HTTP\/1\.[01] 407 /);
    assert.ok(error.message.includes(proxy.url), "the message names the proxy");
  });

  test("407 with wrong credentials: 'rejected the credentials', and the password is in no error", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, {
      connectPorts: [target.port],
      basicAuth: { user: "alice", password: "right" },
    });
    const inUrl = `http://alice:${encodeURIComponent(SECRET)}@127.0.0.1:${proxy.port}`;
    const { error } = await failureThrough(t, target.url, { proxy: inUrl });
    assert.equal(error.code, "SJ_ERR_PROXY_AUTH_REQUIRED");
    assert.match(error.message, /rejected the credentials: it answered HTTP\/1\.[01] 40[17] /);
    assert.ok(error.message.includes(`http://127.0.0.1:${proxy.port}`), "named without its credentials");
    assertNoSecret(error, SECRET);
    assertNoSecret(error, encodeURIComponent(SECRET));
  });

  test("a port the proxy does not allow: SJ_ERR_PROXY_REFUSED with its status line (403)", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, {
      connectPorts: [target.port + 1 === 65536 ? 1 : target.port + 1],
    });
    const { error } = await failureThrough(t, target.url, { proxy: proxy.url });
    assert.equal(error.code, "SJ_ERR_PROXY_REFUSED");
    assert.equal(error.status, 403);
    assert.match(error.message, /refused to CONNECT: it answered HTTP\/1\.[01] 403 \S/);
  });

  test("a target that refuses the connection: the proxy's own answer (tinyproxy: 500)", async (t) => {
    const port = await closedPort();
    const proxy = await startTinyproxy(t, { connectPorts: [port] });
    const { error } = await failureThrough(t, `ws://127.0.0.1:${port}`, { proxy: proxy.url });
    assert.equal(error.code, "SJ_ERR_PROXY_REFUSED");
    assert.ok(error.status !== null && error.status >= 500, `a 5xx, got ${error.status}`);
  });
});

describe("proxy unreachable", () => {
  test("nothing listens at the proxy: SJ_ERR_PROXY_UNREACHABLE, ECONNREFUSED as the cause, no credentials", async (t) => {
    const port = await closedPort();
    const { error } = await failureThrough(t, "ws://127.0.0.1:2/", {
      proxy: `http://bob:${encodeURIComponent(SECRET)}@127.0.0.1:${port}`,
    });
    assert.equal(error.code, "SJ_ERR_PROXY_UNREACHABLE");
    assert.equal((error.cause as NodeJS.ErrnoException).code, "ECONNREFUSED");
    assert.match(error.message, new RegExp(`^proxy http://127\\.0\\.0\\.1:${port} unreachable: `));
    assertNoSecret(error, SECRET);
    assertNoSecret(error, "bob");
  });

  test("a proxy host that does not resolve: SJ_ERR_PROXY_UNREACHABLE saying so", async (t) => {
    const { error } = await failureThrough(t, "ws://127.0.0.1:2/", { proxy: "http://proxy.invalid:3128" });
    assert.equal(error.code, "SJ_ERR_PROXY_UNREACHABLE");
    assert.match(error.message, /proxy\.invalid:3128 unreachable: its host was not found/);
  });
});

describe("HTTPS proxy (a TLS front piping into tinyproxy)", { skip }, () => {
  test("ws: and wss: through an https: proxy with credentials: TLS to the proxy, then CONNECT inside it", async (t) => {
    const cert = testCertificate();
    if (cert === null) return t.skip("openssl is missing: no test certificate");
    const secureTarget = await echoServer(t, true);
    const plainTarget = await echoServer(t);
    const proxy = await startTinyproxy(t, {
      connectPorts: [secureTarget.port, plainTarget.port],
      basicAuth: { user: "alice", password: PASSWORD },
    });
    const front = await startTlsFront(t, proxy.port, cert);
    const proxyUrl = `https://alice:${PASSWORD_IN_URL}@localhost:${front.port}`;
    // wss: is TLS inside TLS: the proxy's certificate for localhost, then the server's for 127.0.0.1.
    assert.equal(await echoThrough(t, secureTarget.url, { proxy: proxyUrl, ca: cert.cert }), "echo:hi");
    // ws: through an https: proxy: the proxy's certificate checked against `proxy.ca`.
    const settings = { url: proxyUrl, ca: cert.cert };
    assert.equal(await echoThrough(t, plainTarget.url, { proxy: settings }), "echo:hi");
    assert.match(proxy.output(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${secureTarget.port}`));
  });

  test("an https: proxy whose certificate is not trusted: SJ_ERR_PROXY_TLS_FAILED", async (t) => {
    const cert = testCertificate();
    if (cert === null) return t.skip("openssl is missing: no test certificate");
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, { connectPorts: [target.port] });
    const front = await startTlsFront(t, proxy.port, cert);
    const { error } = await failureThrough(t, target.url, { proxy: `https://localhost:${front.port}` });
    assert.equal(error.code, "SJ_ERR_PROXY_TLS_FAILED");
    assert.match(error.message, new RegExp(`^TLS to the proxy https://localhost:${front.port} failed: `));
  });

  test("an https: proxy URL for a plain-HTTP proxy (it never answers the ClientHello): the handshake timeout", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, { connectPorts: [target.port] });
    const { error } = await failureThrough(t, target.url, {
      proxy: `https://127.0.0.1:${proxy.port}`,
      handshakeTimeoutMs: 500,
    });
    assert.equal(error.code, "SJ_ERR_HANDSHAKE_TIMEOUT");
  });
});

describe("HTTP proxies that misbehave (raw servers)", () => {
  /**
   * A TCP server that, once the CONNECT request head has arrived, writes `answer` (or nothing) and ends. An
   * answer of 200 opens the tunnel instead: the next head (the request sent through it) is kept, then it ends.
   */
  async function rawProxy(
    t: Parameters<typeof failureThrough>[0],
    answer: Buffer | null,
    heads: string[] = [],
  ) {
    const tunnels = answer?.toString("latin1").startsWith("HTTP/1.1 200") === true;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      let head = "";
      socket.on("data", (chunk) => {
        head += chunk.toString("latin1");
        if (!head.includes("\r\n\r\n")) return;
        heads.push(head);
        if (tunnels && head.startsWith("CONNECT ")) {
          head = "";
          socket.write(answer as Buffer);
        } else if (answer === null || tunnels) socket.end();
        else socket.end(answer);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  test("a status line with bytes a terminal would obey: quoted with them escaped", async (t) => {
    // U+202E (right-to-left override) in UTF-8 in the reason phrase: obs-text, which HTTP parsers accept.
    const answer = Buffer.concat([
      Buffer.from("HTTP/1.1 502 Bad "),
      Buffer.from("\u202e", "utf8"),
      Buffer.from(" Gateway\r\nContent-Length: 0\r\n\r\n"),
    ]);
    const url = await rawProxy(t, answer);
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url });
    assert.equal(error.code, "SJ_ERR_PROXY_REFUSED");
    assert.equal(error.status, 502);
    assert.ok(
      error.message.endsWith("it answered HTTP/1.1 502 Bad \\xe2\\x80\\xae Gateway"),
      `escaped: ${error.message}`,
    );
    assert.doesNotMatch(error.message, /[^\x20-\x7e]/);
  });

  test("RFC 6455 §4.1 item 4: the handshake's Host has the port only when it is not the scheme's default", async (t) => {
    const heads: string[] = [];
    const proxy = await rawProxy(t, Buffer.from("HTTP/1.1 200 Connection established\r\n\r\n"), heads);
    await failureThrough(t, "ws://example.com/", { proxy });
    await failureThrough(t, "ws://example.com:8080/", { proxy });
    await failureThrough(t, "ws://[::1]/", { proxy });
    const hosts = heads
      .filter((head) => !head.startsWith("CONNECT "))
      .map((head) => /\r\nHost: ([^\r]*)\r\n/i.exec(head)?.[1]);
    assert.deepEqual(hosts, ["example.com", "example.com:8080", "[::1]"]);
  });

  test("RFC 9110 §9.3.6: the request is CONNECT authority, Host and Proxy-Authorization, nothing else", async (t) => {
    const heads: string[] = [];
    const url = await rawProxy(t, Buffer.from("HTTP/1.1 503 Busy\r\n\r\n"), heads);
    const proxy = { url, username: "Aladdin", password: "open sesame" };
    await failureThrough(t, "wss://[::1]:8443/path", { proxy });
    await failureThrough(t, "ws://example.com/", { proxy: url });
    assert.deepEqual(heads, [
      // RFC 7617 §2's example credentials; the IPv6 literal in brackets (RFC 3986 §3.2.2).
      "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n",
      "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
    ]);
  });

  test("a proxy that closes without answering CONNECT: SJ_ERR_PROXY_PROTOCOL", async (t) => {
    const url = await rawProxy(t, null);
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url });
    assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
    assert.match(error.message, /closed the connection before answering CONNECT/);
  });

  test("a malformed answer: SJ_ERR_PROXY_PROTOCOL", async (t) => {
    const url = await rawProxy(t, Buffer.from("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url });
    assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
    assert.match(error.message, /sent a malformed answer to CONNECT/);
  });
});
