import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { WebSocketServer } from "ws";
import { WebSocket } from "../../src/index.js";
import { connect, next, record, selfSignedCertificate, within } from "./helpers.js";

// wss: over node:tls, certificate verification on by default (as in browsers), SNI for host names only
// (RFC 6066 §3), and the TLS options of the Node-only third argument. The certificate is self-signed and
// made at test time with openssl (the suite is skipped with a message when openssl is not installed).

let certificate: { key: string; cert: string } | null = null;

before(() => {
  certificate = selfSignedCertificate();
});

interface TlsPeer {
  port: number;
  /** The SNI each TLS connection sent (false when none). */
  servernames: (string | false)[];
  wss: WebSocketServer;
}

/** An https server with a `ws` echo server on it, on 127.0.0.1:0. */
async function tlsEchoServer(t: Parameters<typeof connect>[0]): Promise<TlsPeer | null> {
  if (certificate === null) {
    t.skip("openssl is not available: cannot make a self-signed certificate, wss: tests skipped");
    return null;
  }
  const server: Server = createHttpsServer({ key: certificate.key, cert: certificate.cert });
  const servernames: (string | false)[] = [];
  server.on("secureConnection", (socket: TLSSocket) => {
    servernames.push((socket as TLSSocket & { servername: string | false }).servername);
  });
  server.on("tlsClientError", () => {});
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket) => {
    socket.on("error", () => {});
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await within(
    new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)),
    3000,
    "the https server to listen",
  );
  t.after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, servernames, wss };
}

describe("wss: TLS with certificate verification", () => {
  test("a self-signed certificate fails by default: error then close 1006, no open", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `wss://127.0.0.1:${peer.port}/`);
    const { types, closed } = record(ws);
    const event = await within(closed, 5000, "close");
    assert.deepEqual(types(), ["error", "close"]);
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.equal(peer.wss.clients.size, 0, "no WebSocket connection reached the server");
  });

  test("rejectUnauthorized: true explicitly behaves like the default", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `wss://localhost:${peer.port}/`, undefined, { rejectUnauthorized: true });
    const { types, closed } = record(ws);
    await within(closed, 5000, "close");
    assert.deepEqual(types(), ["error", "close"]);
  });

  test("the ca option trusts the certificate: open, echo, close (host name localhost, SNI sent)", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `wss://localhost:${peer.port}/secure`, undefined, { ca: certificate!.cert });
    await next(ws, "open", 5000);
    assert.equal(ws.url, `wss://localhost:${peer.port}/secure`);
    ws.send("over TLS");
    const message = await next<MessageEvent>(ws, "message");
    assert.equal(message.data, "over TLS");
    assert.equal(message.origin, `wss://localhost:${peer.port}`);
    assert.deepEqual(peer.servernames, ["localhost"]);
    const { closed } = record(ws);
    ws.close(1000);
    const event = await within(closed, 3000, "close");
    assert.deepEqual([event.code, event.wasClean], [1000, true]);
  });

  test("ca with an IP address URL: the certificate's IP SAN matches; no SNI for an IP literal (RFC 6066 §3)", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `wss://127.0.0.1:${peer.port}/`, undefined, { ca: [certificate!.cert] });
    await next(ws, "open", 5000);
    assert.deepEqual(peer.servernames, [false]);
  });

  test("ca given but the name does not match the certificate (servername other.example): fails", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `wss://127.0.0.1:${peer.port}/`, undefined, {
      ca: certificate!.cert,
      servername: "other.example",
    });
    const { types, closed } = record(ws);
    const event = await within(closed, 5000, "close");
    assert.deepEqual(types(), ["error", "close"]);
    assert.equal(event.code, 1006);
  });

  test("rejectUnauthorized: false accepts the self-signed certificate", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `wss://127.0.0.1:${peer.port}/`, undefined, { rejectUnauthorized: false });
    await next(ws, "open", 5000);
    ws.send(new Uint8Array([1, 2, 3]));
    ws.binaryType = "arraybuffer";
    const message = await next<MessageEvent>(ws, "message");
    assert.deepEqual([...new Uint8Array(message.data as ArrayBuffer)], [1, 2, 3]);
  });

  test("https: URLs become wss: and connect over TLS", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `https://localhost:${peer.port}/`, undefined, { ca: certificate!.cert });
    assert.equal(ws.url, `wss://localhost:${peer.port}/`);
    await next(ws, "open", 5000);
    assert.equal(ws.readyState, WebSocket.OPEN);
  });

  test("ws: to a TLS port fails (the server answers the plain request with a TLS alert): error, close 1006", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const ws = connect(t, `ws://127.0.0.1:${peer.port}/`, undefined, { handshakeTimeoutMs: 2000 });
    const { types, closed } = record(ws);
    const event = await within(closed, 5000, "close");
    assert.deepEqual(types(), ["error", "close"]);
    assert.equal(event.code, 1006);
  });

  test("with no TLS option given, Node's NODE_TLS_REJECT_UNAUTHORIZED=0 applies (no explicit undefined overrides it)", async (t) => {
    const peer = await tlsEchoServer(t);
    if (peer === null) return;
    const dir = mkdtempSync(join(tmpdir(), "sockjet-tls-env-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, "client.mts");
    writeFileSync(
      script,
      `import { WebSocket } from ${JSON.stringify(fileURLToPath(new URL("../../src/index.ts", import.meta.url)))};
const ws = new WebSocket("wss://127.0.0.1:${peer.port}/");
ws.onopen = () => { console.log("open"); ws.close(); };
ws.onerror = (event) => { console.log("error", event.error?.code); };
`,
    );
    // The peer runs in this process: the child must be waited for without blocking the event loop.
    const child = spawn(process.execPath, ["--no-warnings", "--import", "tsx", script], {
      env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: "0" },
    });
    t.after(() => child.kill());
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    await within(once(child, "exit"), 20_000, "the child client");
    assert.equal(stdout.trim(), "open", stderr);
  });
});
