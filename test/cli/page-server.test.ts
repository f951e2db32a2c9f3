import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { pageHandler, targetPath } from "../../src/cli/page-server.js";

// The page handler of `sockjet serve` on its own: which request targets have a path, and a handler that
// throws answers 500, logs it and leaves the server serving (issue 22 item 1).

test("targetPath: origin-form and http(s) absolute-form have a path; //…, other schemes and junk do not", () => {
  assert.equal(targetPath("/"), "/");
  assert.equal(targetPath("/index.html?x=1#y"), "/index.html");
  assert.equal(targetPath("/a//b"), "/a//b");
  assert.equal(targetPath("http://host:1/p?q"), "/p");
  for (const target of [
    "//",
    "///",
    "//[",
    "//a:b",
    "http://[",
    "*",
    "host:443",
    "",
    "ftp://h/",
    "javascript:1",
  ])
    assert.equal(targetPath(target), null, target);
});

test("a handler that throws answers 500 with the security headers, is logged, and the server keeps serving", async () => {
  const logged: string[] = [];
  const handle = pageHandler((line) => logged.push(line));
  let explode = true;
  const server = http.createServer((request, response) => {
    if (explode)
      Object.defineProperty(request, "headers", {
        get() {
          throw new Error("boom");
        },
      });
    handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const failed = await fetch(`${base}/`);
    assert.equal(failed.status, 500);
    assert.equal(failed.headers.get("x-content-type-options"), "nosniff");
    assert.equal(failed.headers.get("x-frame-options"), "DENY");
    assert.deepEqual(logged, ['error  GET "/": boom']);
    explode = false;
    assert.equal((await fetch(`${base}/`)).status, 200);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
