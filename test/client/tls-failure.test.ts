import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { before, describe, test } from "node:test";
import tls from "node:tls";
import { type ErrorEvent, HandshakeError } from "../../src/index.js";
import { connect, record, selfSignedCertificate, within } from "./helpers.js";

// What a wss: socket says when TLS fails, from OpenSSL's reason: a server that does not speak TLS on the port
// ("wrong version number"), or a real TLS server that refused the handshake with an alert (RFC 8446 §6.2): a
// client certificate required, no cipher suite or TLS version in common. Both are SJ_ERR_TLS_FAILED; before
// the fix every EPROTO (the HTTP/1.1 path's TLS errors) was called "the server does not speak TLS".

let certificate: { key: string; cert: string } | null = null;

before(() => {
  certificate = selfSignedCertificate();
});

/** Listens on 127.0.0.1:0; closed with its connections after the test. */
async function listen(
  t: Parameters<typeof connect>[0],
  server: http.Server | tls.Server | http2.Http2SecureServer,
): Promise<number> {
  server.on("tlsClientError", () => {});
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await within(
    new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)),
    3000,
    "the server to listen",
  );
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

/** The error a wss: socket to `port` fails with (after checking it is error then close, never open). */
async function tlsError(
  t: Parameters<typeof connect>[0],
  port: number,
  http2: "never" | "always",
): Promise<HandshakeError> {
  const ws = connect(t, `wss://127.0.0.1:${port}/`, undefined, { ca: certificate!.cert, http2 });
  const { log, types, closed } = record(ws);
  await within(closed, 5000, "the close");
  assert.deepEqual(types(), ["error", "close"]);
  const error = (log[0].event as ErrorEvent).error;
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.code, "SJ_ERR_TLS_FAILED");
  return error;
}

const NOT_TLS = /does not speak TLS/;

describe("wss: a TLS failure says whether the server speaks TLS, from OpenSSL's reason", () => {
  for (const http2 of ["never", "always"] as const) {
    test(`http2 ${http2}: a plain HTTP server does not speak TLS ("wrong version number")`, async (t) => {
      if (certificate === null) return t.skip("openssl is not available");
      const port = await listen(t, http.createServer());
      const error = await tlsError(t, port, http2);
      assert.equal(
        error.message,
        "TLS failed: the server does not speak TLS on this port (a plain ws:// server? then use ws://, not wss://; OpenSSL: wrong version number)",
      );
    });

    for (const [name, options] of [
      ["a client certificate required (TLS 1.2)", { requestCert: true, rejectUnauthorized: true }],
      ["no cipher suite in common", { ciphers: "AES128-SHA" }],
    ] as const) {
      test(`regression: http2 ${http2}: ${name}: the server refused the handshake, it speaks TLS`, async (t) => {
        if (certificate === null) return t.skip("openssl is not available");
        const server = tls.createServer({ ...certificate, maxVersion: "TLSv1.2", ...options });
        const error = await tlsError(t, await listen(t, server), http2);
        // Before the fix (http2 "never"): "TLS failed: the server does not speak TLS (a plain ws://
        // server?): write EPROTO …:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:…".
        assert.doesNotMatch(error.message, NOT_TLS);
        assert.equal(
          error.message,
          "TLS failed: the server refused the TLS handshake (OpenSSL: sslv3 alert handshake failure): no TLS version, cipher suite or certificate both ends accept, or it requires a client certificate (the cert and key options); its log says which",
        );
        assert.match((error.cause as Error).message, /alert handshake failure/, "Node's error is the cause");
      });
    }

    test(`regression: http2 ${http2}: a server that speaks only TLS 1.0: no version in common`, async (t) => {
      if (certificate === null) return t.skip("openssl is not available");
      const server = tls.createServer({
        ...certificate,
        minVersion: "TLSv1",
        maxVersion: "TLSv1",
        // OpenSSL 3 allows TLS 1.0 only at security level 0.
        ciphers: "DEFAULT:@SECLEVEL=0",
      });
      const error = await tlsError(t, await listen(t, server), http2);
      assert.doesNotMatch(error.message, NOT_TLS);
      assert.equal(
        error.message,
        `TLS failed: the server refused the TLS handshake (OpenSSL: tlsv1 alert protocol version): no TLS version in common (this client speaks ${tls.DEFAULT_MIN_VERSION} to ${tls.DEFAULT_MAX_VERSION}); the server's TLS settings must allow one of them`,
      );
    });
  }

  test("a client certificate required (TLS 1.3, where the alert follows the client's Finished)", async (t) => {
    if (certificate === null) return t.skip("openssl is not available");
    const server = tls.createServer({ ...certificate, requestCert: true, rejectUnauthorized: true });
    const error = await tlsError(t, await listen(t, server), "never");
    assert.equal(
      error.message,
      "TLS failed: the server refused the TLS handshake (OpenSSL: tlsv13 alert certificate required): it requires a client certificate: give the cert and key options",
    );
  });

  // RFC 8446 §4.4.2, §6.2: in TLS 1.3 the client's handshake is over (secureConnect) before the server reads
  // its (missing) certificate: the alert comes after, when the HTTP/2 session is already being set up.
  for (const http2Mode of ["auto", "always"] as const) {
    test(`regression: http2 ${http2Mode}: an HTTP/2 server requiring a client certificate (TLS 1.3): the TLS error at once`, async (t) => {
      if (certificate === null) return t.skip("openssl is not available");
      const server = http2.createSecureServer({
        ...certificate,
        requestCert: true,
        rejectUnauthorized: true,
        allowHTTP1: true,
      });
      const port = await listen(t, server);
      const started = Date.now();
      const ws = connect(t, `wss://127.0.0.1:${port}/`, undefined, {
        ca: certificate!.cert,
        http2: http2Mode,
        handshakeTimeoutMs: 3000,
      });
      const { log, types, closed } = record(ws);
      await within(closed, 5000, "the close");
      const elapsed = Date.now() - started;
      assert.deepEqual(types(), ["error", "close"]);
      const error = (log[0].event as ErrorEvent).error as HandshakeError;
      t.diagnostic(`failed after ${elapsed} ms`);
      // Before the fix: "SJ_ERR_NETWORK: no HTTP/2 session within 3000 ms", after 3000 ms.
      assert.equal(
        `${error.code}: ${error.message}`,
        "SJ_ERR_TLS_FAILED: TLS failed: the server refused the TLS handshake (OpenSSL: tlsv13 alert certificate required): it requires a client certificate: give the cert and key options",
      );
      assert.ok(elapsed < 1500, `failed after ${elapsed} ms, not at the handshake timeout`);
    });
  }
});
