import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { after, describe, test } from "node:test";
import { closeReason } from "../../src/protocol/close.js";
import { ConnectionLostError, HandshakeError, ProtocolError } from "../../src/protocol/errors.js";
import { ErrorEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import { killAll, serve } from "../cli/helpers.js";
import {
  defer,
  nextConnection,
  nextEvent,
  selfSignedCert,
  startServer,
  suiteCleanup,
} from "../server/helpers.js";
import { HOST, OP } from "./peers.js";
import { StreamPeer } from "./stream-peer.js";

// Issue 14 item 2: every Close we send for a failure says why (RFC 6455 §7.1.6), and the `error` event gives
// Node code the cause (an ErrorEvent, as undici does), on both roles.

const MIB = 1024 * 1024;
const cleanup = suiteCleanup(after);
after(killAll);

/** The Close frame's code and reason. */
function closeOf(frame: { opcode: number; payload: Buffer }): [number, string] {
  assert.equal(frame.opcode, OP.close, `expected a Close frame, got opcode ${frame.opcode}`);
  return [frame.payload.readUInt16BE(0), frame.payload.subarray(2).toString("utf8")];
}

/** Opens a client to `url` that must fail; resolves with its error event (checked to come before close 1006). */
async function failedOpen(
  url: string,
  options?: ConstructorParameters<typeof WebSocket>[2],
): Promise<ErrorEvent> {
  const ws = new WebSocket(url, [], options);
  defer(cleanup, () => ws.terminate());
  const order: string[] = [];
  const error = new Promise<ErrorEvent>((resolve) =>
    ws.addEventListener("error", (event) => {
      order.push("error");
      resolve(event as ErrorEvent);
    }),
  );
  const closed = new Promise<void>((resolve) =>
    ws.addEventListener("close", (event) => {
      order.push(`close ${event.code}`);
      resolve();
    }),
  );
  const event = await error;
  await closed;
  assert.deepEqual(order, ["error", "close 1006"]);
  assert.ok(event instanceof ErrorEvent);
  assert.equal(event.message, (event.error as Error).message);
  return event;
}

describe("RFC 6455 §7.1.6: the Close frames sockjet serve sends for a failure carry a reason", () => {
  test("regression: a 5 MiB message to `sockjet serve` (limit 1 MiB) → Close 1009 'message too big: limit 1048576 bytes'", async () => {
    const served = await serve();
    const peer = await StreamPeer.open(served.port);
    defer(cleanup, () => peer.destroy());
    peer.sendFrame(OP.binary, Buffer.alloc(5 * MIB));
    assert.deepEqual(closeOf(await peer.readFrame()), [1009, "message too big: limit 1048576 bytes"]);
    // The connection log names the reason, not a bare 1006.
    const line = await served.cli.waitFor(/close .*\n/);
    assert.match(line[0], /1009 message too big \(limit 1 MiB\)/);
  });

  test("regression: invalid UTF-8 in a text message → Close 1007 'invalid UTF-8 in text message'", async () => {
    const { port } = await startServer(cleanup);
    const peer = await StreamPeer.open(port);
    defer(cleanup, () => peer.destroy());
    peer.sendFrame(OP.text, Buffer.from([0x61, 0xff, 0xfe]));
    assert.deepEqual(closeOf(await peer.readFrame()), [1007, "invalid UTF-8 in text message"]);
  });

  test("regression: a reserved opcode → Close 1002 naming the rule (reserved opcode 0x3, RFC 6455 §5.2)", async () => {
    const { port } = await startServer(cleanup);
    const peer = await StreamPeer.open(port);
    defer(cleanup, () => peer.destroy());
    peer.sendFrame(0x3, Buffer.alloc(0));
    assert.deepEqual(closeOf(await peer.readFrame()), [1002, "reserved opcode 0x3 (RFC 6455 §5.2)"]);
  });

  test("a reason is cut to 123 bytes of UTF-8 on a character boundary", () => {
    assert.equal(closeReason("short"), "short");
    const ascii = "a".repeat(200);
    assert.equal(closeReason(ascii), "a".repeat(123));
    // 122 ASCII bytes then a 3-byte character: it does not fit whole, so it is left out.
    const cut = `${"b".repeat(122)}€tail`;
    assert.equal(closeReason(cut), "b".repeat(122));
    assert.equal(Buffer.byteLength(closeReason("€".repeat(60))), 123);
    assert.equal(closeReason("😀".repeat(40)), "😀".repeat(30));
  });
});

describe("the server-side socket's error event gives the cause", () => {
  test("regression: the server fails a peer with 1009 → the server socket's ErrorEvent has the ProtocolError (closeCode 1009, the reason sent)", async () => {
    const { server, port } = await startServer(cleanup, { maxPayloadBytes: 1024 });
    const connection = nextConnection(server);
    const peer = await StreamPeer.open(port);
    defer(cleanup, () => peer.destroy());
    const [ws] = await connection;
    const error = nextEvent<ErrorEvent>(ws, "error");
    const close = nextEvent<CloseEvent>(ws, "close");
    peer.sendFrame(OP.binary, Buffer.alloc(2048));
    const event = await error;
    assert.ok(event.error instanceof ProtocolError);
    assert.equal(event.error.closeCode, 1009);
    assert.equal(event.error.code, "SJ_ERR_MESSAGE_TOO_BIG");
    assert.equal(event.message, "message too big: limit 1024 bytes");
    assert.equal((await close).code, 1006, "WHATWG: a failed connection closes with 1006");
  });

  test("a peer that vanishes without a Close → ConnectionLostError", async () => {
    const { server, port } = await startServer(cleanup);
    const connection = nextConnection(server);
    const peer = await StreamPeer.open(port);
    const [ws] = await connection;
    const error = nextEvent<ErrorEvent>(ws, "error");
    peer.destroy();
    const event = await error;
    assert.ok(event.error instanceof ConnectionLostError);
    assert.equal(event.error.code, "SJ_ERR_CONNECTION_LOST");
  });
});

describe("the client's error event gives the cause (undici-compatible ErrorEvent)", () => {
  test("regression: connection refused → HandshakeError SJ_ERR_CONNECTION_REFUSED, cause ECONNREFUSED", async () => {
    // A port that was free a moment ago: listen, note it, close.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const event = await failedOpen(`ws://${HOST}:${port}/`);
    assert.ok(event.error instanceof HandshakeError);
    assert.equal(event.error.code, "SJ_ERR_CONNECTION_REFUSED");
    assert.equal((event.error.cause as NodeJS.ErrnoException).code, "ECONNREFUSED");
    assert.match(event.message, /connection refused/);
  });

  test("regression: a host that does not resolve (.invalid, RFC 6761) → SJ_ERR_HOST_NOT_FOUND", async () => {
    const event = await failedOpen("ws://no-such-host.invalid/");
    assert.ok(event.error instanceof HandshakeError);
    assert.equal(event.error.code, "SJ_ERR_HOST_NOT_FOUND");
    assert.match(event.message, /no-such-host\.invalid/);
  });

  test("regression: a self-signed certificate → SJ_ERR_TLS_FAILED", async (t) => {
    const pem = await selfSignedCert();
    if (pem === null) return t.skip("openssl is not available");
    const { url } = await startServer(cleanup, { tls: pem });
    const event = await failedOpen(url);
    assert.ok(event.error instanceof HandshakeError);
    assert.equal(event.error.code, "SJ_ERR_TLS_FAILED");
  });

  test("regression: wss:// to a plain-HTTP server → SJ_ERR_TLS_FAILED", async () => {
    const { port } = await startServer(cleanup);
    const event = await failedOpen(`wss://${HOST}:${port}/`);
    assert.ok(event.error instanceof HandshakeError);
    assert.equal(event.error.code, "SJ_ERR_TLS_FAILED");
  });

  test("regression: a server that never answers → SJ_ERR_HANDSHAKE_TIMEOUT after handshakeTimeoutMs", async () => {
    const silent = net.createServer(() => {});
    const sockets: net.Socket[] = [];
    silent.on("connection", (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, HOST, resolve));
    defer(cleanup, () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const event = await failedOpen(`ws://${HOST}:${port}/`, { handshakeTimeoutMs: 200 });
    assert.ok(event.error instanceof HandshakeError);
    assert.equal(event.error.code, "SJ_ERR_HANDSHAKE_TIMEOUT");
    assert.match(event.message, /200 ms/);
  });

  for (const [name, options, status] of [
    ["a path the server does not serve", { path: "/only-here" }, 404],
    ["verify returning false", { verify: () => false }, 403],
    ["verify returning { status: 403 }", { verify: () => ({ status: 403 }) }, 403],
  ] as const) {
    test(`regression: ${name} → SJ_ERR_HANDSHAKE_REFUSED with status ${status}`, async () => {
      const { port } = await startServer(cleanup, options);
      const event = await failedOpen(`ws://${HOST}:${port}/elsewhere`);
      assert.ok(event.error instanceof HandshakeError);
      assert.equal(event.error.code, "SJ_ERR_HANDSHAKE_REFUSED");
      assert.equal(event.error.status, status);
      assert.match(event.message, new RegExp(`HTTP ${status}`));
    });
  }

  test("regression: a server that sends a masked frame → ProtocolError 1002 with the reason we sent", async () => {
    const server = http.createServer();
    const upgraded: net.Socket[] = [];
    server.on("upgrade", (request, socket: net.Socket) => {
      upgraded.push(socket);
      const key = request.headers["sec-websocket-key"];
      const accept = acceptFor(String(key));
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      // §5.1: a server must not mask; a masked "hi".
      socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    defer(cleanup, () => {
      for (const socket of upgraded) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const port = (server.address() as net.AddressInfo).port;
    const event = await failedOpen(`ws://${HOST}:${port}/`);
    assert.ok(event.error instanceof ProtocolError, `${event.error}`);
    assert.equal(event.error.closeCode, 1002);
    assert.equal(event.message, "server frame masked (RFC 6455 §5.1)");
  });
});

function acceptFor(key: string): string {
  return createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
}
