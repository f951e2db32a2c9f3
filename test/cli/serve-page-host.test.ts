import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { after, describe, test } from "node:test";
import { killAll, type Served, serve } from "./helpers.js";

// On loopback `sockjet serve` answers WebSockets only under a loopback Host (DNS rebinding). The demo page
// follows the same rule: served under evil.test it could not connect anyway (its WebSockets get 403), so it
// gets a 403 that says why and names --allow-origin, instead of a page that fails without explanation.

after(killAll);

function getPage(
  served: Served,
  host: string,
  path = "/",
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: "127.0.0.1", port: served.port, path, headers: { Host: host }, timeout: 5000 },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, type: String(response.headers["content-type"]), body }),
        );
      },
    );
    request.on("timeout", () => request.destroy(new Error("no answer within 5 s")));
    request.on("error", reject);
  });
}

describe("sockjet serve on loopback: the demo page and the Host", () => {
  test("regression: GET / with Host evil.test gets 403 naming --allow-origin; localhost and 127.0.0.1 get the page", async () => {
    const served = await serve(["--quiet"]);
    try {
      const refused = await getPage(served, `evil.test:${served.port}`);
      assert.equal(refused.status, 403);
      assert.match(refused.type, /^text\/plain/);
      assert.match(refused.body, /^Host not allowed: .*--allow-origin http:\/\/evil\.test:\d+\n$/);
      for (const host of [`localhost:${served.port}`, `127.0.0.1:${served.port}`]) {
        const page = await getPage(served, host);
        assert.equal(page.status, 200, host);
        assert.match(page.type, /^text\/html/);
      }
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("regression: a Host with $ patterns is shown as written (it was a replacement pattern: review 140)", async () => {
    const served = await serve(["--quiet"]);
    try {
      for (const name of ["a$`b.localhost", "a$&b.localhost", "x$$y.localhost", "p$'q.localhost"]) {
        const host = `${name}:${served.port}`;
        const page = await getPage(served, host);
        assert.equal(page.status, 200, host);
        assert.equal(page.body.split('id="chat-log"').length, 2, `${host}: the page once`);
        const shown = host.replace(/[&']/g, (c) => `&#${c.charCodeAt(0)};`);
        assert.ok(
          page.body.includes(`npx sockjet connect ws://${shown}/chat`),
          `${host}: the footer names it`,
        );
      }
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("regression: an absolute-form target names the host, not Host (RFC 9112 §3.2.2)", async () => {
    const served = await serve(["--quiet"]);
    try {
      // A Host the guard allows beside a target that names another host: the target's host is the one judged.
      const refused = await getPage(served, `localhost:${served.port}`, `http://evil.test:${served.port}/`);
      assert.equal(refused.status, 403);
      assert.match(refused.body, /--allow-origin http:\/\/evil\.test:\d+\n$/);
      const page = await getPage(served, `evil.test:${served.port}`, `http://127.0.0.1:${served.port}/`);
      assert.equal(page.status, 200);
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("two Host fields get 400 (RFC 9112 §3.2), whichever comes first", async () => {
    const served = await serve(["--quiet"]);
    try {
      for (const hosts of [
        [`localhost:${served.port}`, "evil.test"],
        ["evil.test", `localhost:${served.port}`],
      ]) {
        const socket = net.connect(served.port, "127.0.0.1");
        socket.end(
          `GET / HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}\r\n`).join("")}Connection: close\r\n\r\n`,
        );
        let answer = "";
        socket.setEncoding("utf8");
        socket.on("data", (chunk) => (answer += chunk));
        await once(socket, "close");
        assert.match(answer, /^HTTP\/1\.1 400 /, hosts.join(" + "));
        assert.match(answer, /More than one Host header/);
      }
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("--allow-origin http://evil.test:PORT serves the page under that Host", async () => {
    // The Host rule compares host names only, so the origin's port need not be serve's (unknown before).
    const served = await serve(["--quiet", "--allow-origin", "http://evil.test"]);
    try {
      assert.equal((await getPage(served, `evil.test:${served.port}`)).status, 200);
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
