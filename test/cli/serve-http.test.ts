import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { killAll, type Served, serve } from "./helpers.js";

// `sockjet serve` as a plain HTTP server, with raw bytes on a socket: odd request targets (issue 22 item 1),
// the security headers on every answer and a too-long URL (issue 22 item 8).

let served: Served;
before(async () => {
  served = await serve(["--quiet"]);
});
after(killAll);

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  text: string;
}

/** Sends `head` as is (then closes our side) and reads the whole answer; fails after 5 s. */
function rawRequest(port: number, head: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer to ${JSON.stringify(head.slice(0, 80))}`));
    }, 5000);
    socket.on("connect", () => socket.write(head));
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const [statusLine, ...lines] = text.split("\r\n\r\n")[0].split("\r\n");
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? "");
      if (match === null) {
        reject(new Error(`no status line for ${JSON.stringify(head.slice(0, 80))}: ${JSON.stringify(text)}`));
        return;
      }
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      resolve({ status: Number(match[1]), headers, text });
    });
  });
}

function get(target: string, method = "GET"): Promise<RawResponse> {
  return rawRequest(
    served.port,
    `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );
}

function assertSecurityHeaders(response: RawResponse, what: string): void {
  assert.equal(response.headers.get("x-content-type-options"), "nosniff", what);
  assert.equal(response.headers.get("x-frame-options"), "DENY", what);
  assert.match(response.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/, what);
}

describe("sockjet serve: request targets of any shape", () => {
  test("GET // and the other targets a URL parser throws on get 400, and the server keeps serving", async () => {
    for (const target of ["//", "///", "//[", "//a:b", "http://[", "//evil.example/", "http://[::1"]) {
      const response = await get(target);
      assert.equal(response.status, 400, target);
      assertSecurityHeaders(response, target);
    }
    assert.equal((await get("/")).status, 200);
    assert.equal(served.cli.process.exitCode, null, served.cli.transcript());
  });

  test("fuzz: 400 random request targets each get an answer of 2xx/4xx, never a dropped connection", async () => {
    // Characters Node's parser lets through in a request target, weighted towards the URL syntax.
    const alphabet = "/////:::@@[[]]??##%%..\\aZ09-_~!$&'()*+,;=^`{|}\"<>";
    let seed = 22;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const seen = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      let target = i % 3 === 0 ? "http://" : i % 3 === 1 ? "/" : "";
      const length = 1 + Math.floor(random() * 12);
      for (let k = 0; k < length; k++) target += alphabet[Math.floor(random() * alphabet.length)];
      const response = await get(target, i % 7 === 0 ? "POST" : "GET");
      assert.ok(response.status >= 200 && response.status < 500, `${target}: ${response.status}`);
      assertSecurityHeaders(response, target);
      seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
    }
    // Both kinds of refusal were exercised.
    assert.ok((seen.get(400) ?? 0) > 0 && (seen.get(404) ?? 0) > 0, JSON.stringify([...seen]));
    assert.equal((await get("/")).status, 200);
    assert.equal(served.cli.process.exitCode, null, served.cli.transcript());
  });

  test("absolute-form targets (to a proxy) are served by their path", async () => {
    assert.equal((await get("http://127.0.0.1/")).status, 200);
    assert.equal((await get("http://127.0.0.1/nope")).status, 404);
    assert.equal((await get("ftp://127.0.0.1/")).status, 400);
  });
});

describe("sockjet serve: response headers", () => {
  test("the page, 404, 405, 400 and Node's own refusals all carry nosniff, DENY and frame-ancestors", async () => {
    const page = await get("/");
    assert.equal(page.status, 200);
    assertSecurityHeaders(page, "page");
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'sha256-/);
    assertSecurityHeaders(await get("/nope"), "404");
    const post = await get("/", "POST");
    assert.equal(post.status, 405);
    assertSecurityHeaders(post, "405");
    // A request line Node's parser refuses: answered by the clientError listener.
    const malformed = await rawRequest(served.port, "GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n");
    assert.equal(malformed.status, 400);
    assertSecurityHeaders(malformed, "malformed");
  });

  test("a 20 KB URL gets 431, not a dropped connection", async () => {
    const response = await get(`/${"a".repeat(20 * 1024)}`);
    assert.equal(response.status, 431);
    assertSecurityHeaders(response, "431");
    assert.equal(response.headers.get("connection"), "close");
    assert.equal((await get("/")).status, 200);
  });
});
