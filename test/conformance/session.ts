// One conformance case, run against both of our roles: our server (an echo server) driven by the raw client
// of peers.ts, and our client (echoing every message back) driven by the raw server. The case scripts the
// peer's bytes and states the outcome the RFC requires — the echoed frame, the Close code on the wire, the
// TCP close, and the events our WebSocket fires — so one body checks both roles.

import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import type { WebSocketOptions } from "../../src/web/websocket.js";
import {
  type Cleanup,
  closePayload,
  echoServer,
  type FrameSpec,
  Local,
  OP,
  ourClient,
  RawServer,
  type RawServerOptions,
  rawClient,
  until,
  type WireFrame,
  type WirePeer,
} from "./peers.js";

/** The side of ours under test. */
export type Side = "server" | "client";
export const SIDES: readonly Side[] = ["server", "client"];

export interface SessionOptions {
  /** Options for our server (server side). */
  server?: Omit<WebSocketServerOptions, "port">;
  /** Options for our client (client side). */
  client?: WebSocketOptions;
  /** Extra 101 response lines from the raw server (client side), e.g. an extension. */
  responseHeaders?: RawServerOptions["responseHeaders"];
  /** Extra request headers from the raw client (server side), e.g. an extension offer. */
  requestHeaders?: Record<string, string>;
  /** Our side echoes every message (default true). */
  echo?: boolean;
}

export class Session {
  readonly side: Side;
  /** The scripted peer. */
  readonly peer: WirePeer;
  /** Our WebSocket with its events. */
  readonly local: Local;
  /** The raw client's 101 response headers (server side) or the raw server's request headers (client side). */
  readonly handshakeHeaders: Record<string, string>;

  private constructor(side: Side, peer: WirePeer, local: Local, headers: Record<string, string>) {
    this.side = side;
    this.peer = peer;
    this.local = local;
    this.handshakeHeaders = headers;
  }

  static async open(t: Cleanup, side: Side, options: SessionOptions = {}): Promise<Session> {
    if (side === "server") {
      const server = await echoServer(t, options.server);
      if (options.echo === false) server.server.removeAllListeners("connection");
      let local: Local | null = null;
      if (options.echo === false) server.server.on("connection", (ws) => (local = new Local(ws, false)));
      const { peer, head } = await rawClient(t, server.port, { headers: options.requestHeaders });
      await until(
        () => (options.echo === false ? local !== null : server.connections.length === 1),
        3000,
        "the server's connection event",
      );
      return new Session(side, peer, local ?? server.connections[0], head.headers);
    }
    const raw = await RawServer.start(t, { responseHeaders: options.responseHeaders });
    const local = ourClient(t, raw.url, options.client, options.echo !== false);
    const { peer, request } = await raw.accept();
    await until(() => local.events.length > 0, 3000, "our client's open event");
    assert.deepEqual(local.types(), ["open"], "our client opened");
    return new Session(side, peer, local, request?.headers ?? {});
  }

  /** Sends a frame the way the peer's role does (masked from a client, RFC 6455 §5.3). */
  send(spec: FrameSpec): Promise<void> {
    return this.peer.send(spec);
  }

  /** A frame built with the peer's masking, not sent. */
  build(spec: FrameSpec): Buffer {
    return this.peer.build(spec);
  }

  /** The next frame is a single-frame message with this opcode and exactly these bytes. */
  async expectEcho(opcode: number, payload: string | Uint8Array, ms = 5000): Promise<WireFrame> {
    const f = await this.peer.readFrame(ms);
    const expected = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
    assert.equal(
      f.opcode,
      opcode,
      `expected opcode 0x${opcode.toString(16)}, got 0x${f.opcode.toString(16)}`,
    );
    assert.equal(f.fin, true, "the echo is one final frame");
    assert.deepEqual([f.rsv1, f.rsv2, f.rsv3], [false, false, false], "no RSV bit without an extension");
    assertSameBytes(f.payload, expected);
    return f;
  }

  /** The next frame is a Pong with exactly these bytes (RFC 6455 §5.5.3). */
  async expectPong(payload: string | Uint8Array, ms = 3000): Promise<void> {
    await this.expectEcho(OP.pong, payload, ms);
  }

  /**
   * Our side failed the connection (RFC 6455 §7.1.7): the next frame is a Close with `code`, nothing follows
   * it, our side closes the TCP connection, and our WebSocket fires error then close (1006, not clean).
   * `reason`, if given, must match the Close frame's reason.
   */
  async expectFailure(code: number, ms = 3000, reason?: RegExp): Promise<void> {
    const f = await this.peer.readFrame(ms);
    assert.equal(f.opcode, OP.close, `expected a Close ${code}, got opcode 0x${f.opcode.toString(16)}`);
    assert.equal(f.closeCode, code, `expected close code ${code}, got ${f.closeCode}`);
    if (reason !== undefined) assert.match(f.closeReason!.toString("utf8"), reason);
    await this.peer.waitEnd(ms);
    assert.equal(this.peer.pending, 0, "nothing may follow the Close frame (§5.5.1)");
    const event = await this.local.close(ms);
    assert.equal(event.code, 1006, "a failed connection closes with 1006 (WHATWG, RFC 6455 §7.1.5)");
    assert.equal(event.wasClean, false);
    const types = this.local.types();
    assert.deepEqual(types.slice(-2), ["error", "close"], `events: ${types.join(", ")}`);
  }

  /**
   * Our side answered the peer's Close (RFC 6455 §5.5.1): the next frame is a Close echoing `code` (an
   * empty body for 1005) and `reason`, then the TCP connection closes — the server closes it first
   * (§7.1.1), so on the client side the scripted server does — and our close event carries code and reason.
   */
  async expectCloseEcho(code: number, reason: string | Uint8Array = "", ms = 3000): Promise<void> {
    const f = await this.peer.readFrame(ms);
    assert.equal(f.opcode, OP.close, `expected a Close, got opcode 0x${f.opcode.toString(16)}`);
    if (code === 1005) assert.equal(f.payload.length, 0, "a Close without status is echoed without one");
    else assertSameBytes(f.payload, closePayload(code, reason));
    if (this.side === "server") {
      await this.peer.waitEnd(ms);
    } else {
      this.peer.end();
      await this.peer.waitEnd(ms);
    }
    assert.equal(this.peer.pending, 0, "nothing may follow the Close frame (§5.5.1)");
    const event = await this.local.close(ms);
    assert.equal(event.code, code);
    assert.equal(
      event.reason,
      Buffer.from(typeof reason === "string" ? Buffer.from(reason) : reason).toString(),
    );
    assert.equal(event.wasClean, true, "the closing handshake completed");
    assert.ok(!this.local.types().includes("error"), `no error event: ${this.local.types().join(", ")}`);
  }

  /** Ends the session with a normal closing handshake, proving the connection was still healthy. */
  async closeNormally(): Promise<void> {
    await this.send({ opcode: OP.close, payload: closePayload(1000, "done") });
    await this.expectCloseEcho(1000, "done");
  }
}

/** Asserts equal bytes, reporting lengths and the first difference instead of dumping megabytes. */
export function assertSameBytes(actual: Buffer, expected: Buffer, what = "payload"): void {
  if (actual.equals(expected)) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what} differs: ${actual.length} bytes vs ${expected.length} expected; first difference at ${i}` +
      (actual.length <= 64 && expected.length <= 64
        ? ` (${actual.toString("hex")} vs ${expected.toString("hex")})`
        : ""),
  );
}

/**
 * Registers the case for both roles: "our server <name>" and "our client <name>". `body` scripts the peer
 * and asserts the outcome through the Session.
 */
export function bothRoles(
  name: string,
  body: (s: Session, t: TestContext) => Promise<void>,
  options: SessionOptions & { sides?: readonly Side[]; timeout?: number; skip?: string } = {},
): void {
  for (const side of options.sides ?? SIDES) {
    test(`our ${side} ${name}`, { timeout: options.timeout ?? 20_000, skip: options.skip }, async (t) => {
      const s = await Session.open(t, side, options);
      await body(s, t);
    });
  }
}
