import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, nextEvent } from "./helpers.js";

// Mode and hook options are checked when the server is made: a wrong one is a TypeError naming it, not a
// 500 at every handshake, nor (for a port that is not a number) a Unix socket made in the working directory.

function rejects(options: Record<string, unknown>, option: string): void {
  assert.throws(
    () => new WebSocketServer(options as WebSocketServerOptions),
    (error: unknown) => error instanceof TypeError && error.message.startsWith(`options.${option} must be`),
    JSON.stringify(Object.keys(options)),
  );
}

describe("server options checked when the server is made", () => {
  test("a port that is not a whole number from 0 to 65535 is a TypeError, and nothing listens", () => {
    for (const port of ["abc", "8080x", "", null, true, -1, 65536, 1.5, Number.NaN, "99999"]) {
      rejects({ port }, "port");
    }
    assert.equal(existsSync("abc"), false);
    assert.equal(existsSync("8080x"), false);
  });

  test("handshakeTimeoutMs or maxConnections of 0 is a TypeError (it would refuse every connection)", () => {
    rejects({ noServer: true, handshakeTimeoutMs: 0 }, "handshakeTimeoutMs");
    rejects({ noServer: true, maxConnections: 0 }, "maxConnections");
  });

  test('maxHeaderBytes or maxHeaderCount of 0 is a TypeError (every handshake got 431 "limit 0"; newcomer review)', () => {
    rejects({ noServer: true, maxHeaderBytes: 0 }, "maxHeaderBytes");
    rejects({ noServer: true, maxHeaderCount: 0 }, "maxHeaderCount");
    rejects({ port: 0, host: HOST, maxHeaderBytes: 0 }, "maxHeaderBytes");
  });

  test("a fraction for a count (bytes, header fields, connections, frames) is a TypeError naming it (newcomer review)", () => {
    for (const key of [
      "maxPayloadBytes",
      "maxFragmentsPerMessage",
      "maxHeaderBytes",
      "maxHeaderCount",
      "maxConnections",
      "maxConnectionsPerIp",
      "maxBufferedBytes",
    ]) {
      for (const value of [2.5, 0.5, 1024.25]) rejects({ noServer: true, [key]: value }, key);
      // Infinity stays "no limit", and whole numbers are taken.
      new WebSocketServer({ noServer: true, [key]: Number.POSITIVE_INFINITY }).close();
      new WebSocketServer({ noServer: true, [key]: 3 }).close();
    }
  });

  test("http2 other than true or false is a TypeError, not an HTTP/1.1-only server (newcomer review)", () => {
    for (const http2 of ["yes", 1, "auto", "always", null, {}])
      rejects({ port: 0, host: HOST, http2 }, "http2");
    new WebSocketServer({ noServer: true, http2: false }).close();
  });

  test("ws's WebSocket, allowSynchronousEvents and (client) maxRedirects options are refused by name (newcomer review)", () => {
    for (const name of ["WebSocket", "allowSynchronousEvents", "maxRedirects"]) {
      assert.throws(
        () =>
          new WebSocketServer({ noServer: true, [name]: name === "WebSocket" ? class {} : true } as never),
        (error: unknown) =>
          error instanceof TypeError && error.message.startsWith(`options.${name} is ws's name: `),
        name,
      );
    }
    assert.throws(
      () => new WebSocket("ws://127.0.0.1:1/", [], { allowSynchronousEvents: false } as never),
      /^TypeError: options\.allowSynchronousEvents is ws's name: /,
    );
  });

  test('standalone maxHeaderBytes: Infinity takes a 64 KiB head (it was Node\'s RangeError on "maxHeaderSize"), 1.5 is a TypeError naming maxHeaderBytes', async () => {
    rejects({ port: 0, host: HOST, maxHeaderBytes: 1.5 }, "maxHeaderBytes");
    const server = new WebSocketServer({ port: 0, host: HOST, maxHeaderBytes: Number.POSITIVE_INFINITY });
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const opened = nextEvent(
      new WebSocket(`ws://${HOST}:${port}/`, [], { headers: { "x-big": "a".repeat(64 * 1024) } }),
      "open",
    );
    const [socket] = (await once(server, "connection")) as [WebSocket];
    await opened;
    socket.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("tls without a certificate is a TypeError (every handshake would fail)", () => {
    // Fields given as nothing count as missing, and a cert needs its key (review 137).
    for (const tls of [
      {},
      { key: "k" },
      null,
      "cert.pem",
      { key: "k", cert: null },
      { key: "k", cert: "" },
      { pfx: null },
      { cert: "c" },
      { cert: [], key: "k" },
    ])
      rejects({ port: 0, tls } as never, "tls");
    for (const tls of [{}, { key: "k" }]) rejects({ port: 0, http2: true, tls } as never, "tls");
  });

  test("a port in decimal digits (process.env.PORT) listens on that TCP port", async () => {
    const server = new WebSocketServer({ port: "0" as unknown as number, host: HOST });
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    assert.ok(port > 0);
    server.on("connection", (socket) => socket.send("hi"));
    const client = new WebSocket(`ws://${HOST}:${port}/`);
    const event = await nextEvent<MessageEvent>(client, "message");
    assert.equal(event.data, "hi");
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("hooks that are not functions, protocols not a list of tokens, headers not name → string", () => {
    rejects({ noServer: true, verify: true }, "verify");
    rejects({ noServer: true, selectProtocol: "chat" }, "selectProtocol");
    rejects({ noServer: true, protocols: "chat" }, "protocols");
    rejects({ noServer: true, protocols: ["chat", "two words"] }, "protocols");
    rejects({ noServer: true, protocols: [1] }, "protocols");
    rejects({ noServer: true, headers: "x-foo: 1" }, "headers");
    rejects({ noServer: true, headers: { "bad name": "1" } }, "headers");
    rejects({ noServer: true, headers: { "x-foo": "a\r\nSet-Cookie: x=1" } }, 'headers["x-foo"]');
    rejects({ noServer: true, headers: { "x-foo": 1 } }, 'headers["x-foo"]');
    for (const value of ["a\u0001b", "a\u007fb", " a", "a\t", "5 €"])
      rejects({ noServer: true, headers: { "x-foo": value } }, 'headers["x-foo"]');
    rejects({ noServer: true, headers: new Map([["x-foo", "1"]]) }, "headers");
    rejects({ server: {} }, "server");
    rejects({ port: 0, host: 127 }, "host");
    rejects({ noServer: true, path: "chat" }, "path");
    for (const backlog of ["10", 1.5, -1, Number.NaN]) rejects({ port: 0, host: HOST, backlog }, "backlog");
  });

  test("valid hooks, protocols and headers are taken", async () => {
    const server = new WebSocketServer({
      port: 0,
      host: HOST,
      protocols: Object.freeze(["chat", "superchat"]),
      // The server's own fields of the 101 are its own: a hook's copies are dropped, not sent twice.
      headers: {
        "x-served-by": "sockjet",
        "Sec-WebSocket-Accept": "bogus",
        Connection: "close",
        "Content-Length": "10",
      },
      verify: () => true,
      selectProtocol: (offered) => offered[offered.length - 1],
    });
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const client = new WebSocket(`ws://${HOST}:${port}/`, ["chat", "superchat"]);
    await nextEvent(client, "open");
    assert.equal(client.protocol, "superchat");
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test("timer options past Node's 2^31 - 1 ms are TypeErrors (a longer timer fires after 1 ms), client and server", () => {
    for (const key of [
      "pingIntervalMs",
      "handshakeTimeoutMs",
      "idleTimeoutMs",
      "closeTimeoutMs",
      "shutdownTimeoutMs",
    ]) {
      rejects({ noServer: true, [key]: 2 ** 31 }, key);
      rejects({ noServer: true, [key]: Number.POSITIVE_INFINITY }, key);
      new WebSocketServer({ noServer: true, [key]: 2 ** 31 - 1 }).close();
    }
    for (const key of ["handshakeTimeoutMs", "closeTimeoutMs"]) {
      assert.throws(
        () => new WebSocket("ws://127.0.0.1:1/", [], { [key]: 2 ** 31 }),
        (error: unknown) =>
          error instanceof TypeError && error.message.startsWith(`options.${key} must be at most`),
      );
    }
  });

  test("server.publish() without data is a TypeError, like send() without one", async () => {
    const server = new WebSocketServer({ noServer: true });
    assert.throws(
      () => (server.publish as (topic: string) => number)("t"),
      (error: unknown) => error instanceof TypeError && /2 arguments required/.test(error.message),
    );
    server.close();
  });

  test("publish() of a shared buffer names publish (it named WebSocket's send)", () => {
    const server = new WebSocketServer({ noServer: true });
    assert.throws(() => server.publish("t", new SharedArrayBuffer(2)), {
      name: "TypeError",
      message: "Failed to execute 'publish': The provided ArrayBuffer value must not be shared.",
    });
    server.close();
  });
});
