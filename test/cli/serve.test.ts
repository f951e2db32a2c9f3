import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CloseEvent, WebSocket } from "../../src/index.js";
import { Cli, killAll, lines, run, type Served, serve } from "./helpers.js";

// `sockjet serve`: the page, the echo endpoint's rules, its flags, and graceful shutdown.
// test/cli/fixtures/{cert,key}.pem: a self-signed P-256 certificate for 127.0.0.1/localhost, valid until 2126,
// made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
// -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost`. For tests only.
const CERT = "test/cli/fixtures/cert.pem";
const KEY = "test/cli/fixtures/key.pem";

let served: Served;
before(async () => {
  served = await serve(["--max-payload", "1k"]);
});
after(killAll);

function open(url: string, protocols?: string | string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`could not connect to ${url}`));
  });
}

function nextMessage(socket: WebSocket): Promise<unknown> {
  return new Promise((resolve) =>
    socket.addEventListener("message", (event) => resolve(event.data), { once: true }),
  );
}

function closed(socket: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => socket.addEventListener("close", resolve));
}

/** The 101 response's headers for a raw upgrade request with `headers`. */
function upgradeHeaders(url: string, headers: Record<string, string>): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        ...headers,
      },
    });
    request.on("upgrade", (response, socket) => {
      socket.destroy();
      resolve(response.headers);
    });
    request.on("response", (response) => reject(new Error(`HTTP ${response.statusCode}`)));
    request.on("error", reject);
    request.end();
  });
}

describe("sockjet serve: the page and the echo endpoint", { concurrency: 2 }, () => {
  test("prints the page, echo and chat URLs with the port it bound", () => {
    assert.notEqual(served.port, 0);
    const banner = lines(served.cli.stdout).slice(0, 5);
    assert.deepEqual(banner, [
      `sockjet serve: listening on 127.0.0.1:${served.port}`,
      `  page   http://127.0.0.1:${served.port}/`,
      `  echo   ws://127.0.0.1:${served.port}/`,
      `  chat   ws://127.0.0.1:${served.port}/chat`,
      "Press Ctrl-C to stop.",
    ]);
  });

  test("GET / serves the one dependency-free page, locked down by a CSP", async () => {
    const response = await fetch(`${served.http}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.match(csp, /connect-src 'self'/);
    const page = await response.text();
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /new WebSocket\(base \+ "\/"\)/);
    // The chat resumes (docs/resume.md): the resume client comes from the server itself.
    assert.match(
      page,
      /new ResumableWebSocket\(base \+ "\/chat\?name=" \+ encodeURIComponent\(name\), \{"protocols":\["chat"\],"stopCloseCodes":\[1000,1008,4008\]\}\)/,
    );
    assert.match(page, /import\("\/sockjet-resume\.js"\)/);
    // Nothing fetched from elsewhere, and received text never parsed as HTML.
    assert.doesNotMatch(page, /<script src|<link |https?:\/\/(?!127)/);
    assert.doesNotMatch(page, /innerHTML|insertAdjacentHTML|document\.write/);
  });

  test("GET /sockjet-resume.js serves the resume client as a JavaScript module the page's CSP allows", async () => {
    const response = await fetch(`${served.http}/sockjet-resume.js`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const source = await response.text();
    assert.match(source, /export class ResumableWebSocket/);
    assert.doesNotMatch(source, /^import /m, "one module, nothing else to fetch");
    assert.doesNotMatch(source, /sourceMappingURL/, "no source map the server does not serve");
    const page = await fetch(`${served.http}/`);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src [^;]*'self'/);
    assert.equal(
      (await fetch(`${served.http}/sockjet-resume.js`, { method: "POST", body: "x" })).status,
      405,
    );
  });

  test("HEAD / has no body; other paths are 404; other methods on / are 405", async () => {
    const head = await fetch(`${served.http}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.equal((await fetch(`${served.http}/nope`)).status, 404);
    const post = await fetch(`${served.http}/`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  });

  test("echo: text comes back as text, binary as binary", async () => {
    const socket = await open(`${served.ws}/`);
    const text = nextMessage(socket);
    socket.send("héllo");
    assert.equal(await text, "héllo");
    const binary = nextMessage(socket);
    socket.send(new Uint8Array([0, 1, 2, 255]));
    const echoed = await binary;
    assert.ok(echoed instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(echoed)], [0, 1, 2, 255]);
    socket.close();
    await closed(socket);
  });

  test("echo: a close is answered with the same code and reason", async () => {
    const socket = await open(`${served.ws}/?case=close-echo`);
    socket.close(4321, "see you");
    const event = await closed(socket);
    assert.equal(event.code, 4321);
    assert.equal(event.reason, "see you");
    assert.equal(event.wasClean, true);
    await served.cli.waitFor(/close {2}127\.0\.0\.1 {2}\/\?case=close-echo {2}4321 "see you"\n/);
  });

  test("--max-payload: a message of the limit is echoed, one byte more closes with 1009", async () => {
    const socket = await open(`${served.ws}/`);
    const echo = nextMessage(socket);
    socket.send("x".repeat(1024));
    assert.equal(((await echo) as string).length, 1024);
    const event = closed(socket);
    socket.send("x".repeat(1025));
    assert.equal((await event).code, 1009);
  });

  test("a log line per connection: remote address, path, protocol; then its close code", async () => {
    const socket = await open(`${served.ws}/chat?name=logged`, "chat");
    socket.close(1000);
    await closed(socket);
    await served.cli.waitFor(
      /^\d\d:\d\d:\d\d {2}open {3}127\.0\.0\.1 {2}\/chat\?name=logged {2}\(protocol chat(, permessage-deflate.*)?\)$/m,
    );
    await served.cli.waitFor(/^\d\d:\d\d:\d\d {2}close {2}127\.0\.0\.1 {2}\/chat\?name=logged {2}1000$/m);
  });

  test("the log shows controls in a client's close reason escaped", async () => {
    const socket = await open(`${served.ws}/?case=reason`);
    socket.close(4000, "bye\x1b[2J\u202e");
    await closed(socket);
    await served.cli.waitFor(/close {2}127\.0\.0\.1 {2}\/\?case=reason {2}4000 "bye\\x1b\[2J\\u202e"\n/);
    for (const control of ["\x1b[2J", "\u202e"]) assert.ok(!served.cli.stdout.includes(control), control);
  });

  test("--no-deflate: an offer of permessage-deflate is not accepted", async () => {
    const plain = await serve(["--no-deflate", "--quiet"]);
    const headers = await upgradeHeaders(`${plain.http}/`, {
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    });
    assert.equal(headers["sec-websocket-extensions"], undefined);
    plain.cli.kill("SIGTERM");
    assert.equal((await plain.cli.exit()).code, 0);
  });

  test("a port in use: exit 1 with one line", async () => {
    const result = await run(["serve", "--port", String(served.port), "--host", "127.0.0.1"]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `sockjet serve: error: 127.0.0.1:${served.port} is already in use (try another --port, or --port 0 for any)\n`,
    );
  });

  test("bad flags exit 2: --tls-cert without --tls-key, a port out of range, an invalid subprotocol", async () => {
    const results = await Promise.all([
      run(["serve", "--tls-cert", CERT]),
      run(["serve", "--port", "65536"]),
      run(["serve", "--protocol", "a,b"]),
      run(["serve", "--max-payload", "0"]),
    ]);
    assert.deepEqual(
      results.map((r) => r.code),
      [2, 2, 2, 2],
    );
    assert.equal(
      results[0].stderr,
      "sockjet serve: --tls-cert and --tls-key go together\nsee sockjet serve --help\n",
    );
    assert.match(results[1].stderr, /^sockjet serve: invalid value for --port: "65536"/);
    assert.match(results[2].stderr, /^sockjet serve: invalid value for --protocol: "a,b"/);
    assert.match(
      results[3].stderr,
      /^sockjet serve: invalid value for --max-payload: "0" \(the limit must be at least 1 byte/,
    );
  });
});

describe("sockjet serve: TLS", () => {
  test("unusable TLS files: the error names the flag and the file and says what is wrong", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockjet-serve-tls-"));
    try {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const otherKey = join(dir, "other-key.pem");
      writeFileSync(otherKey, privateKey.export({ type: "pkcs8", format: "pem" }));
      const results = await Promise.all([
        run(["serve", "--port", "0", "--tls-cert", KEY, "--tls-key", CERT]),
        run(["serve", "--port", "0", "--tls-cert", CERT, "--tls-key", "package.json"]),
        run(["serve", "--port", "0", "--tls-cert", CERT, "--tls-key", otherKey]),
      ]);
      assert.deepEqual(
        results.map((r) => r.code),
        [1, 1, 1],
      );
      assert.match(
        results[0].stderr,
        /^sockjet serve: error: --tls-cert test\/cli\/fixtures\/key\.pem is not a PEM certificate \(it holds a private key: are --tls-cert and --tls-key swapped\?\)/,
      );
      assert.match(
        results[1].stderr,
        /^sockjet serve: error: --tls-key package\.json is not a PEM private key/,
      );
      assert.equal(
        results[2].stderr,
        `sockjet serve: error: --tls-key ${otherKey} is not the private key of the certificate in --tls-cert ${CERT}: give the pair made together\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--tls-cert/--tls-key: the page over https, echo over wss; connect needs --insecure for a self-signed cert", async () => {
    const secure = await serve(["--tls-cert", CERT, "--tls-key", KEY]);
    assert.match(secure.cli.stdout, /page {3}https:\/\/127\.0\.0\.1:\d+\/\n/);
    assert.match(secure.cli.stdout, /echo {3}wss:\/\/127\.0\.0\.1:\d+\/\n/);
    const page = await new Promise<string>((resolve, reject) => {
      https
        .get(`${secure.http}/`, { rejectUnauthorized: false }, (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk) => (body += chunk));
          response.on("end", () => resolve(body));
        })
        .on("error", reject);
    });
    assert.match(page, /^<!doctype html>/);

    const [trusted, untrusted] = await Promise.all([
      run(["connect", "--insecure", "--wait", "1500", `${secure.ws}/`], { input: "over tls\n" }),
      run(["connect", `${secure.ws}/`], { input: "x\n" }),
    ]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(trusted.stdout, "over tls\n");
    assert.equal(untrusted.code, 1);
    assert.match(
      untrusted.stderr,
      /^sockjet connect: cannot connect to wss:.*self-signed certificate.*--insecure.*\n$/,
    );
    secure.cli.kill("SIGTERM");
    assert.equal((await secure.cli.exit()).code, 0);
  });
});

describe("sockjet serve: shutdown", () => {
  test("SIGTERM closes every connection with 1001 (echo, chat and a connect process) and exits 0", async () => {
    const server = await serve();
    const echo = await open(`${server.ws}/`);
    const chat = await open(`${server.ws}/chat`, "chat");
    const client = new Cli(["connect", `${server.ws}/`]);
    await server.cli.waitFor(/open [\s\S]*open [\s\S]*open /);
    const echoClosed = closed(echo);
    const chatClosed = closed(chat);
    server.cli.kill("SIGTERM");
    for (const event of [await echoClosed, await chatClosed]) {
      assert.equal(event.code, 1001);
      assert.equal(event.reason, "Server shutting down");
      assert.equal(event.wasClean, true);
    }
    const clientExit = await client.exit();
    assert.equal(clientExit.code, 0, client.transcript());
    assert.equal(
      client.stderr,
      'sockjet connect: the server closed the connection (1001 "Server shutting down")\n',
    );
    const exit = await server.cli.exit();
    assert.equal(exit.code, 0, server.cli.transcript());
    assert.match(server.cli.stdout, /SIGTERM: closing 3 connection\(s\) with 1001\n/);
    assert.match(server.cli.stdout, /stopped\n$/);
  });

  test("--quiet: no log line per connection; Ctrl-C (SIGINT) also stops it with status 0", async () => {
    const server = await serve(["--quiet"]);
    const socket = await open(`${server.ws}/`);
    const echo = nextMessage(socket);
    socket.send("quietly");
    assert.equal(await echo, "quietly");
    socket.close();
    await closed(socket);
    server.cli.kill("SIGINT");
    assert.equal((await server.cli.exit()).code, 0);
    assert.deepEqual(lines(server.cli.stdout), [
      `sockjet serve: listening on 127.0.0.1:${server.port}`,
      `  page   http://127.0.0.1:${server.port}/`,
      `  echo   ws://127.0.0.1:${server.port}/`,
      `  chat   ws://127.0.0.1:${server.port}/chat`,
    ]);
    assert.equal(server.cli.stderr, "");
  });
});
