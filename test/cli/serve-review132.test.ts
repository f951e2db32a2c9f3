import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, describe, test } from "node:test";
import { Cli, killAll, serve } from "./helpers.js";

// `sockjet serve`, from a newcomer's review (132): a port that browsers block is named at startup, and the
// 403 for a wrong Host names the real port.

after(killAll);

/** The first port of Fetch's "bad port" list above 1024 that is free here; null if none is. */
async function freeBadPort(): Promise<number | null> {
  for (const port of [6666, 6665, 6667, 6668, 6669, 6679, 10080]) {
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  return null;
}

describe("sockjet serve on a blocked port", () => {
  test("warns on stderr at startup, naming the port and why; a usual port gets no warning", async (t) => {
    const port = await freeBadPort();
    if (port === null) return t.skip("no port of the bad-port list is free here");
    const cli = new Cli(["serve", "--port", String(port), "--host", "127.0.0.1", "--quiet"]);
    try {
      await cli.waitFor(/echo\s+ws:\/\/127\.0\.0\.1:\d+\//, { timeoutMs: 30_000 });
      assert.match(
        cli.stderr,
        new RegExp(
          `^sockjet serve: warning: port ${port} is blocked by browsers and WebSocket clients, sockjet's included ` +
            `\\(Fetch "bad port": it belongs to another protocol\\); use another --port\\n$`,
        ),
      );
    } finally {
      cli.kill("SIGTERM");
      await cli.exit();
    }
    const usual = await serve(["--quiet"]);
    try {
      assert.equal(usual.cli.stderr, "");
    } finally {
      usual.cli.kill("SIGTERM");
      await usual.cli.exit();
    }
  });
});

describe("sockjet serve: the page under a Host that is not served", () => {
  test("the 403 names the real port, not PORT", async () => {
    const served = await serve(["--quiet"]);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.get(
          { host: "127.0.0.1", port: served.port, path: "/", headers: { Host: "evil.test" }, timeout: 5000 },
          (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
          },
        );
        request.on("timeout", () => request.destroy(new Error("no answer within 5 s")));
        request.on("error", reject);
      });
      assert.equal(status, 403);
      assert.match(body, new RegExp(`Open the page as http://localhost:${served.port}/, or`));
      assert.doesNotMatch(body, /PORT/);
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
