import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import tls from "node:tls";
import { failureThrough, testCertificate } from "./targets.js";

// What a failed TLS handshake to an https: proxy says: OpenSSL's reason read as for a wss: server
// (src/client/tls-failure.ts), with the proxy's advice, still SJ_ERR_PROXY_TLS_FAILED. Before the fix, a
// proxy that speaks no TLS gave "TLS to the proxy … failed: write EPROTO …:error:0A00010B:SSL
// routines:ssl3_get_record:wrong version number:…", and a TLS 1.3 proxy that wants a client certificate
// "SJ_ERR_PROXY_PROTOCOL … closed the connection before answering CONNECT".

/** Listens on 127.0.0.1:0; closed with its connections after the test. */
async function listen(t: Parameters<typeof failureThrough>[0], server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

describe("an https: proxy's TLS failure says why, from OpenSSL's reason", () => {
  for (const target of ["ws://127.0.0.1:8080/", "wss://127.0.0.1:8443/"]) {
    test(`regression: ${target.split("/")[0]} through a plain HTTP server given as https: the proxy does not speak TLS`, async (t) => {
      // A plain server answers the ClientHello with an HTTP 400, as an HTTP proxy does.
      const server = net.createServer((socket) => {
        socket.once("data", () => socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
      });
      const port = await listen(t, server);
      const { error } = await failureThrough(t, target, { proxy: `https://127.0.0.1:${port}` });
      assert.equal(error.code, "SJ_ERR_PROXY_TLS_FAILED");
      assert.equal(
        error.message,
        `TLS to the proxy https://127.0.0.1:${port} failed: the proxy does not speak TLS on this port (a plain HTTP proxy? then its URL is http://, not https://; OpenSSL: wrong version number)`,
      );
      assert.equal((error.cause as NodeJS.ErrnoException).code, "EPROTO", "Node's error is the cause");
    });
  }

  test("a TLS 1.2 proxy that requires a client certificate: it refused the handshake (none is sent to a proxy)", async (t) => {
    const cert = testCertificate();
    if (cert === null) return t.skip("openssl is missing: no test certificate");
    const server = tls.createServer({
      ...cert,
      requestCert: true,
      rejectUnauthorized: true,
      maxVersion: "TLSv1.2",
    });
    const port = await listen(t, server);
    const { error } = await failureThrough(t, "ws://127.0.0.1:8080/", {
      proxy: { url: `https://127.0.0.1:${port}`, ca: cert.cert },
    });
    assert.equal(error.code, "SJ_ERR_PROXY_TLS_FAILED");
    assert.equal(
      error.message,
      `TLS to the proxy https://127.0.0.1:${port} failed: the proxy refused the TLS handshake (OpenSSL: sslv3 alert handshake failure): no TLS version or cipher suite both ends accept, or it requires a client certificate (none is sent to a proxy); its log says which`,
    );
  });

  test("regression: a TLS 1.3 proxy that requires a client certificate (its alert follows secureConnect, RFC 8446 §4.4.2)", async (t) => {
    const cert = testCertificate();
    if (cert === null) return t.skip("openssl is missing: no test certificate");
    const server = tls.createServer({ ...cert, requestCert: true, rejectUnauthorized: true });
    const port = await listen(t, server);
    const { error } = await failureThrough(t, "ws://127.0.0.1:8080/", {
      proxy: { url: `https://127.0.0.1:${port}`, ca: cert.cert },
    });
    assert.equal(
      `${error.code}: ${error.message}`,
      `SJ_ERR_PROXY_TLS_FAILED: TLS to the proxy https://127.0.0.1:${port} failed: the proxy refused the TLS handshake (OpenSSL: tlsv13 alert certificate required): it wants a client certificate, and none is sent to a proxy`,
    );
  });
});
