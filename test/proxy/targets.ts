// The other end of the tunnel: our own WebSocketServer (ws: or wss: with a self-signed certificate), echoing
// with a prefix, and what a client that went through a proxy reports (its echo, or its error and close).

import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { WebSocket, type WebSocketOptions } from "../../src/index.js";
import type { HandshakeError } from "../../src/protocol/errors.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { CloseEvent, ErrorEvent } from "../../src/web/events.js";
import { selfSignedCertificate } from "../support/certificate.js";

let certificate: { key: string; cert: string } | null | undefined;

/** The self-signed certificate of this run (localhost, 127.0.0.1), or null without openssl. */
export function testCertificate(): { key: string; cert: string } | null {
  if (certificate === undefined) certificate = selfSignedCertificate();
  return certificate;
}

/** Our server on 127.0.0.1:0, echoing "echo:<data>"; closed when the test ends. */
export async function echoServer(
  t: TestContext,
  secure = false,
): Promise<{ port: number; url: string; hosts: string[] }> {
  const cert = secure ? testCertificate() : null;
  if (secure && cert === null) throw new Error("openssl is needed to make the test certificate");
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, ...(cert ? { tls: cert } : {}) });
  const hosts: string[] = [];
  server.on("connection", (ws, request) => {
    hosts.push(String(request.headers.host));
    ws.addEventListener("message", (event) => ws.send(`echo:${(event as MessageEvent).data}`));
  });
  server.on("error", () => {});
  await new Promise((resolve) => server.once("listening", resolve));
  t.after(async () => {
    for (const client of server.clients) client.terminate();
    await server.close();
  });
  const { port } = server.address() as { port: number };
  return { port, url: `${secure ? "wss" : "ws"}://127.0.0.1:${port}`, hosts };
}

/** Connects, sends "hi" and resolves with the reply; rejects with the handshake error when it fails. */
export async function echoThrough(t: TestContext, url: string, options: WebSocketOptions): Promise<string> {
  const ws = new WebSocket(url, [], options);
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  return await withTimeout(
    new Promise<string>((resolve, reject) => {
      ws.addEventListener("open", () => ws.send("hi"));
      ws.addEventListener("message", (event) => {
        resolve(String((event as MessageEvent).data));
        ws.close();
      });
      ws.addEventListener("error", (event) => reject((event as ErrorEvent).error));
    }),
    10_000,
    `an echo from ${url}`,
  );
}

/** Connects and resolves with the failure: the HandshakeError and the close event that follows it. */
export async function failureThrough(
  t: TestContext,
  url: string,
  options: WebSocketOptions,
): Promise<{ error: HandshakeError; close: CloseEvent }> {
  const ws = new WebSocket(url, [], options);
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
  let opened = false;
  ws.addEventListener("open", () => {
    opened = true;
  });
  const error = new Promise<HandshakeError>((resolve) =>
    ws.addEventListener("error", (event) => resolve((event as ErrorEvent).error), { once: true }),
  );
  const close = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener("close", (event) => resolve(event as CloseEvent), { once: true }),
  );
  const result = {
    error: await withTimeout(error, 10_000, "the error event"),
    close: await withTimeout(close, 3000, "close"),
  };
  assert.equal(opened, false, "no open event before a failed handshake");
  assert.deepEqual([result.close.code, result.close.wasClean], [1006, false]);
  return result;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Asserts that no part of the error (message, cause chain, stack) mentions `secret`. */
export function assertNoSecret(error: unknown, secret: string): void {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    assert.ok(!e.message.includes(secret), `the error message leaks the secret: ${e.message}`);
    assert.ok(!(e.stack ?? "").includes(secret), "the error stack leaks the secret");
  }
}
