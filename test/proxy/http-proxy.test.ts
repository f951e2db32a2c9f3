import assert from "node:assert/strict";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { before, describe, test } from "node:test";
import { connectThroughHttpProxy } from "../../src/client/http-connect.js";
import { resolveProxy } from "../../src/client/proxy.js";
import type { HandshakeError } from "../../src/protocol/errors.js";
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

  test("a tunnel closed right after the 200 (ws: and wss:): the error names the proxy, not a TLS server", async (t) => {
    // The proxy answers 200 and ends: the proxy or the target ended the tunnel, which cannot be told apart.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("data", () => socket.end("HTTP/1.1 200 Connection established\r\n\r\n"));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    const label = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const proxy = `http://bob:${encodeURIComponent(SECRET)}@127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const url of ["ws://127.0.0.1:2345/", "wss://127.0.0.1:2345/"]) {
      const { error } = await failureThrough(t, url, { proxy });
      assert.equal(error.code, "SJ_ERR_NETWORK", url);
      assert.equal(
        error.message,
        `the connection through the proxy ${label} closed before the server answered (the proxy or the server ended the tunnel)`,
      );
      assert.equal((error.cause as NodeJS.ErrnoException).code, "ECONNRESET");
      assertNoSecret(error, SECRET);
    }
  });

  test("a malformed answer: SJ_ERR_PROXY_PROTOCOL", async (t) => {
    const url = await rawProxy(t, Buffer.from("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: url });
    assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
    assert.match(error.message, /sent a malformed answer to CONNECT/);
  });
});

describe("interim (1xx) answers to CONNECT (RFC 9110 §15.2: parsed, then the final answer counts)", () => {
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * A TCP server that, once a CONNECT head has arrived, runs `script` with the socket (and the bytes after
   * the head). `closed` counts the proxy's sockets that have closed.
   */
  async function scriptedProxy(
    t: Parameters<typeof failureThrough>[0],
    script: (socket: net.Socket, after: Buffer) => void,
  ) {
    const sockets = new Set<net.Socket>();
    const state = { accepted: 0, closed: 0 };
    const server = net.createServer((socket) => {
      sockets.add(socket);
      state.accepted++;
      socket.on("close", () => state.closed++);
      socket.on("error", () => {});
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        socket.removeListener("data", onData);
        script(socket, head.subarray(end + 4));
      };
      socket.on("data", onData);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state };
  }

  /** Pipes the proxy's socket to 127.0.0.1:port: the tunnel. */
  function pipeTo(socket: net.Socket, port: number, after: Buffer): void {
    const upstream = net.connect(port, "127.0.0.1", () => {
      if (after.length > 0) upstream.write(after);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("close", () => upstream.destroy());
  }

  /** Opens a tunnel with connectThroughHttpProxy alone; resolves with the socket or the error. */
  function tunnel(url: string) {
    return new Promise<{ socket?: net.Socket; error?: HandshakeError }>((resolve) => {
      connectThroughHttpProxy(
        resolveProxy(url, "test", {}),
        "127.0.0.1",
        2,
        (socket) => resolve({ socket }),
        (error) => resolve({ error }),
      );
    });
  }

  test("100 Continue and 103 Early Hints (in one read, then split over reads) before the 200: ws: and wss: open", async (t) => {
    for (const secure of [false, true]) {
      const target = await echoServer(t, secure);
      const proxy = await scriptedProxy(t, async (socket, after) => {
        socket.write(
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
        );
        await delay(20);
        socket.write("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 20");
        await delay(20);
        socket.write("0 Connection established\r\n\r\n");
        pipeTo(socket, target.port, after);
      });
      const cert = testCertificate();
      const tls = secure && cert !== null ? { ca: cert.cert } : {};
      assert.equal(
        await echoThrough(t, target.url, { proxy: proxy.url, ...tls }),
        "echo:hi",
        `secure: ${secure}`,
      );
    }
  });

  test("the bytes after the final head are the tunnel's, kept in order (one read and split reads)", async (t) => {
    const writes = [
      ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nhel", "lo"],
      ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\nVia: x\r\n\r\nhello"],
    ];
    for (const chunks of writes) {
      const proxy = await scriptedProxy(t, async (socket) => {
        for (const chunk of chunks) {
          socket.write(chunk);
          await delay(20);
        }
      });
      const { socket, error } = await tunnel(proxy.url);
      assert.equal(error, undefined);
      t.after(() => socket?.destroy());
      let received = "";
      await new Promise<void>((resolve) => {
        socket?.on("data", (chunk: Buffer) => {
          received += chunk.toString("latin1");
          if (received.length >= 5) resolve();
        });
      });
      assert.equal(received, "hello", JSON.stringify(chunks));
    }
  });

  test("the final answer after a 1xx counts as it would alone: 407, 502; a 101 is final (a refusal)", async (t) => {
    const answers = [
      [
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        "SJ_ERR_PROXY_AUTH_REQUIRED",
      ],
      ["HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 502 Bad Gateway\r\n\r\n", "SJ_ERR_PROXY_REFUSED"],
      ["HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "SJ_ERR_PROXY_REFUSED"],
    ];
    for (const [answer, code] of answers) {
      const proxy = await scriptedProxy(t, (socket) => socket.write(answer));
      const { error } = await failureThrough(t, "ws://127.0.0.1:2", { proxy: proxy.url });
      assert.equal(error.code, code, answer);
      const finalLine = answer.startsWith("HTTP/1.1 101") ? answer.split("\r\n")[0] : answer.split("\r\n")[2];
      assert.ok(error.message.endsWith(`it answered ${finalLine}`), error.message);
    }
  });

  test("a lone 1xx, or an endless series of them: the handshake timeout, and the proxy's socket is closed", async (t) => {
    const scripts: Array<(socket: net.Socket) => void> = [
      (socket) => socket.write("HTTP/1.1 103 Early Hints\r\n\r\n"),
      (socket) => {
        const timer = setInterval(() => socket.write("HTTP/1.1 102 Processing\r\n\r\n".repeat(100)), 2);
        socket.on("close", () => clearInterval(timer));
      },
    ];
    for (const script of scripts) {
      const proxy = await scriptedProxy(t, script);
      const started = Date.now();
      const { error } = await failureThrough(t, "ws://127.0.0.1:2", {
        proxy: proxy.url,
        handshakeTimeoutMs: 400,
      });
      assert.equal(error.code, "SJ_ERR_HANDSHAKE_TIMEOUT");
      assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
      for (let i = 0; i < 50 && proxy.state.closed < 1; i++) await delay(20);
      assert.deepEqual(proxy.state, { accepted: 1, closed: 1 });
    }
  });

  test("after a 1xx: a head over node:http's size limit, a malformed head, or a close: SJ_ERR_PROXY_PROTOCOL", async (t) => {
    const cases: Array<[(socket: net.Socket) => void, RegExp]> = [
      [
        (socket) =>
          socket.write(
            `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX: ${"a".repeat(http.maxHeaderSize)}`,
          ),
        /sent a malformed answer to CONNECT \(a response head larger than \d+ bytes\)/,
      ],
      [
        (socket) => socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\n\n\r\n\r\n"),
        /sent a malformed answer to CONNECT \(an invalid response head after a 1xx: /,
      ],
      [
        (socket) => socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
        /sent a malformed answer to CONNECT/,
      ],
      [
        (socket) => socket.end("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
        /closed the connection before answering CONNECT/,
      ],
    ];
    for (const [script, message] of cases) {
      const proxy = await scriptedProxy(t, script);
      const started = Date.now();
      const { error } = await failureThrough(t, "ws://127.0.0.1:2", {
        proxy: proxy.url,
        handshakeTimeoutMs: 5000,
      });
      assert.equal(error.code, "SJ_ERR_PROXY_PROTOCOL");
      assert.match(error.message, message);
      assert.ok(Date.now() - started < 2000, "without waiting for the timeout");
    }
  });
});
