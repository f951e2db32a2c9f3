import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import tls from "node:tls";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import {
  type Cleanup,
  RawClient,
  RFC_ACCEPT,
  selfSignedCert,
  startServer,
  upgradeRequest,
} from "./helpers.js";

// Issue 22 item 2: cross-site WebSocket hijacking. Browsers let any page open a WebSocket to any host, with
// the user's cookies; the `origins` option refuses pages by their Origin (RFC 6455 §4.2.1 item 7, §10.2).
// A raw client forges the Origin and Host headers a browser (or a DNS-rebinding page) would send.

/** The status a handshake with these headers gets (101 or the refusal's). */
async function statusFor(t: Cleanup, port: number, headers: Record<string, string | null>): Promise<number> {
  const client = await RawClient.connect(t, port);
  client.write(upgradeRequest({ headers }));
  const head = await client.readHead();
  if (head.status === 101) assert.equal(head.header("sec-websocket-accept"), RFC_ACCEPT);
  client.destroy();
  return head.status;
}

describe("origins option: which pages may connect", () => {
  test("default ('*', as in ws): a page on any origin may connect", async (t) => {
    const { port } = await startServer(t);
    assert.equal(await statusFor(t, port, { Origin: "https://evil.example" }), 101);
  });

  test("regression: 'same-origin' refuses a page on another origin with 403", async (t) => {
    const { port } = await startServer(t, { origins: "same-origin" });
    const host = `127.0.0.1:${port}`;
    const cases: [Record<string, string | null>, number, string][] = [
      [{ Host: host, Origin: null }, 101, "no Origin: not a browser page"],
      [{ Host: host, Origin: `http://${host}` }, 101, "the page's own origin"],
      [
        { Host: host, Origin: `HTTP://127.0.0.1:${port}` },
        101,
        "scheme and host compared case-insensitively",
      ],
      [{ Host: host, Origin: "https://evil.example" }, 403, "another site"],
      [{ Host: host, Origin: `http://127.0.0.1:${port + 1}` }, 403, "another port"],
      [{ Host: host, Origin: "http://127.0.0.1" }, 403, "no port = 80"],
      [{ Host: host, Origin: "null" }, 403, "an opaque origin (sandboxed page, file:)"],
      [{ Host: host, Origin: "not a url" }, 403, "garbage"],
      // A DNS-rebinding page has Origin = Host = the attacker's name: same-origin alone lets it through
      // (serve adds a Host check for that); but a Host that tries to smuggle another name in is refused.
      [{ Host: `evil.example@${host}`, Origin: "http://evil.example" }, 403, "userinfo in Host"],
      [{ Host: `${host}/x`, Origin: `http://${host}` }, 403, "a path in Host"],
      // Default ports are normalized per the Origin's scheme (a proxy that ends TLS forwards Host: name).
      [{ Host: "example.com", Origin: "https://example.com" }, 101, "https, Host without port"],
      [{ Host: "example.com:443", Origin: "https://example.com" }, 101, "https, Host :443"],
      [{ Host: "example.com", Origin: "http://example.com:80" }, 101, "http :80 = http"],
      [{ Host: "example.com:80", Origin: "https://example.com" }, 403, "https page, Host on port 80"],
      [{ Host: "example.com", Origin: "http://example.com:8080" }, 403, "Origin port 8080, Host default"],
    ];
    for (const [headers, expected, why] of cases) {
      assert.equal(await statusFor(t, port, headers), expected, `${why}: ${JSON.stringify(headers)}`);
    }
  });

  test("regression: 'same-origin' over TLS wants an https: page; an http: page at the same host and port → 403", async (t) => {
    // RFC 6454 §5: the scheme is part of the origin. A network attacker can serve http://host:port/ (attacker
    // review: it was let through on a wss:// server).
    const cert = await selfSignedCert();
    if (cert === null) return t.skip("openssl is not installed");
    const { port } = await startServer(t, { tls: cert, origins: "same-origin" });
    const host = `localhost:${port}`;
    const statusOverTls = async (origin: string) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: cert.cert, servername: "localhost" });
      t.after(() => socket.destroy());
      socket.on("error", () => {});
      await once(socket, "secureConnect");
      socket.write(upgradeRequest({ headers: { Host: host, Origin: origin } }));
      let head = "";
      for await (const chunk of socket) {
        head += chunk.toString("latin1");
        if (head.includes("\r\n")) break;
      }
      socket.destroy();
      return Number(head.split(" ")[1]);
    };
    assert.equal(await statusOverTls(`https://${host}`), 101, "the page's own origin");
    assert.equal(await statusOverTls(`http://${host}`), 403, "an http: page at the same host and port");
    assert.equal(await statusOverTls(`https://localhost:${port + 1}`), 403, "another port");
  });

  test("a list allows exactly the origins listed (normalized), plus 'same-origin' when listed", async (t) => {
    const { port } = await startServer(t, { origins: ["https://app.example", "HTTP://Admin.Example:8080/"] });
    const host = `127.0.0.1:${port}`;
    assert.equal(await statusFor(t, port, { Origin: "https://app.example" }), 101);
    assert.equal(await statusFor(t, port, { Origin: "https://app.example:443" }), 101);
    assert.equal(await statusFor(t, port, { Origin: "http://admin.example:8080" }), 101);
    assert.equal(await statusFor(t, port, { Origin: "http://app.example" }), 403);
    assert.equal(await statusFor(t, port, { Origin: "https://app.example.evil.test" }), 403);
    assert.equal(await statusFor(t, port, { Host: host, Origin: `http://${host}` }), 403, "not same-origin");
    assert.equal(await statusFor(t, port, { Origin: null }), 101);

    const both = await startServer(t, { origins: ["same-origin", "https://app.example"] });
    const bothHost = `127.0.0.1:${both.port}`;
    assert.equal(await statusFor(t, both.port, { Host: bothHost, Origin: `http://${bothHost}` }), 101);
    assert.equal(await statusFor(t, both.port, { Origin: "https://app.example" }), 101);
    assert.equal(await statusFor(t, both.port, { Origin: "https://evil.example" }), 403);
  });

  test("a function decides with the Origin ('' when absent) and the request; one that throws → 500", async (t) => {
    const seen: [string, string | undefined][] = [];
    const { server, port } = await startServer(t, {
      origins: (origin, request) => {
        seen.push([origin, request.url]);
        if (origin === "https://boom.example") throw new Error("policy bug");
        return origin === "" || origin.endsWith(".trusted.example");
      },
    });
    const errors: Error[] = [];
    server.on("handshakeError", (error) => errors.push(error));
    assert.equal(await statusFor(t, port, { Origin: "https://a.trusted.example" }), 101);
    assert.equal(await statusFor(t, port, { Origin: "https://evil.example" }), 403);
    assert.equal(await statusFor(t, port, {}), 101);
    assert.equal(await statusFor(t, port, { Origin: "https://boom.example" }), 500);
    assert.deepEqual(
      seen.map(([origin]) => origin),
      ["https://a.trusted.example", "https://evil.example", "", "https://boom.example"],
    );
    assert.deepEqual(
      errors.map((e) => e.message),
      ["policy bug"],
    );
  });

  test("a refusal is a 403 with a reason, the 'rejected' event, and the verify hook is not called", async (t) => {
    let verified = 0;
    const { server, port } = await startServer(t, {
      origins: "same-origin",
      verify: () => {
        verified++;
        return true;
      },
    });
    const rejected: [number, string][] = [];
    server.on("rejected", (_request, status, reason) => rejected.push([status, reason]));
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest({ headers: { Origin: "https://evil.example" } }));
    const head = await client.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 403 Forbidden");
    assert.equal(await client.readBody(head), "Origin not allowed");
    assert.deepEqual(rejected, [[403, "Origin not allowed"]]);
    assert.equal(verified, 0);
  });

  test("a malformed option is a TypeError at construction", () => {
    for (const origins of [
      "sameorigin",
      ["https://a.example/path"],
      ["*.example"],
      [42],
      "https://a.example",
    ]) {
      assert.throws(
        () => new WebSocketServer({ noServer: true, origins: origins as never }),
        TypeError,
        JSON.stringify(origins),
      );
    }
  });
});
