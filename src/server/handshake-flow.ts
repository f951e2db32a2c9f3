import type { IncomingMessage } from "node:http";
import type { UpgradeRequestResult } from "../protocol/handshake.js";
import type { WebSocket } from "../web/websocket.js";
import type { HandshakeWire } from "./handshake-wire.js";
import type { WebSocketServerOptions } from "./options.js";
import { PendingPeer } from "./pending-peer.js";
import { interpretVerdict, isThenable, type Verdict } from "./verify-verdict.js";

// One server-side opening handshake from request to WebSocket (RFC 6455 §4.2), over HTTP/1.1 or HTTP/2 alike
// (`wire` checks the request and writes the answers): the checks before verify, verify (sync or async) under
// the handshake timeout, and the accept. What it asks of its server is HandshakeServer; the server keeps
// what outlives one handshake (its counts, its sockets, its options).

export type ValidRequest = Extract<UpgradeRequestResult, { ok: true }>;
export type Refusal = Extract<UpgradeRequestResult, { ok: false }>;
export type AcceptedCallback = (webSocket: WebSocket, request: IncomingMessage) => void;

/** What a handshake asks of its WebSocketServer. */
export interface HandshakeServer {
  /** close() has begun: handshakes are refused (503). */
  readonly closing: boolean;
  /** Handshakes under way (they count against maxConnections), kept by the flow. */
  handshaking: number;
  /** Handshakes waiting on an async verify: close() answers them 503 before it emits 'close'. */
  readonly pendingHandshakes: Set<() => void>;
  readonly handshakeTimeoutMs: number;
  readonly secure: boolean;
  readonly verify: WebSocketServerOptions["verify"];
  /** The request's refusal before verify (limits, RFC 6455 §4.2.1, origin, counts), or the valid request.
   * Throws when a hook of the server's fails (a 500). */
  admit(request: IncomingMessage, wire: HandshakeWire): UpgradeRequestResult;
  /** A refusal is being sent ('rejected', diagnostics). */
  rejected(request: IncomingMessage, status: number, reason: string): void;
  /** A hook (origins, verify, headers, protocol choice) threw: the server reports it; the client gets 500. */
  hookFailed(error: unknown, request: IncomingMessage): void;
  /**
   * Chooses the protocol and extensions and prepares the 101; throws when a hook fails. The function it
   * returns sends the 101 and opens the WebSocket over `head` (the bytes read after the request).
   */
  prepareAccept(
    valid: ValidRequest,
    request: IncomingMessage,
    wire: HandshakeWire,
    url: URL,
  ): (head: Buffer, callback: AcceptedCallback) => void;
}

export function runHandshake(
  server: HandshakeServer,
  request: IncomingMessage,
  wire: HandshakeWire,
  head: Buffer,
  callback: AcceptedCallback,
): void {
  const socket = wire.socket;
  // Errors on the raw socket before the connection layer owns it must not crash the process.
  const onEarlyError = () => socket.destroy();
  socket.on("error", onEarlyError);
  const refuse = (status: number, reason: string, headers?: Record<string, string>) => {
    socket.off("error", onEarlyError);
    socket.on("error", () => {});
    server.rejected(request, status, reason);
    wire.refuse(status, reason, headers);
  };
  // A hook's bug is the server's error, not the client's: 500 (never the server's 'error' event, which
  // would take down a process that has no 'error' listener).
  const hookFailed = (error: unknown) => {
    server.hookFailed(error, request);
    refuse(500, "Internal error while accepting the WebSocket");
  };
  if (server.closing) {
    refuse(503, "Server is shutting down");
    return;
  }
  let checked: UpgradeRequestResult;
  try {
    checked = server.admit(request, wire);
  } catch (error) {
    hookFailed(error);
    return;
  }
  if (!checked.ok) {
    refuse(checked.status, checked.reason, checked.headers);
    return;
  }
  const valid = checked;

  server.handshaking++;
  let done = false;
  /** Reads the socket while an async verify runs, to notice a peer that leaves. */
  let pending: PendingPeer | null = null;
  const finish = (): boolean => {
    if (done) return false;
    done = true;
    server.handshaking--;
    clearTimeout(timer);
    pending?.stop();
    server.pendingHandshakes.delete(abortForShutdown);
    // This closure's scope holds the request, its headers and the URL: nothing may keep it alive once
    // the handshake is over, or every idle connection would cost them too.
    socket.off("close", onCloseDuringHandshake);
    return true;
  };
  const onCloseDuringHandshake = () => finish();
  // The request head is complete (Node answers a slow head with 408 itself): what is late is verify, the
  // server's side. RFC 9110 §15.5.9: 408 would blame the client (and invite a blind retry); §15.6.4: 503
  // with Retry-After says the server could not answer now.
  const timer = setTimeout(() => {
    if (finish()) refuse(503, "The server did not decide in time", { "Retry-After": "5" });
  }, server.handshakeTimeoutMs);
  timer.unref();
  socket.once("close", onCloseDuringHandshake);

  /** close() during an async verify: answered now, so that nothing is emitted after 'close'. */
  const abortForShutdown = () => {
    if (finish()) refuse(503, "Server is shutting down");
  };

  const url = wire.url(server.secure);
  const proceed = (value: unknown) => {
    if (done) return;
    // close() started while verify ran: accepting now would add a connection close() never closes (and
    // whose socket keeps the port). Refuse it as a handshake arriving during shutdown is refused.
    if (server.closing) {
      finish();
      refuse(503, "Server is shutting down");
      return;
    }
    let verdict: Verdict;
    try {
      verdict = interpretVerdict(value);
    } catch (error) {
      finish();
      hookFailed(error);
      return;
    }
    if (!verdict.accept) {
      finish();
      refuse(verdict.status, verdict.message, verdict.headers);
      return;
    }
    // A peer that left while verify ran (FIN or reset) is not accepted: it could never take part in a
    // closing handshake, and nothing would ever remove it.
    if (socket.destroyed || !socket.writable || socket.readableEnded) {
      if (finish()) socket.destroy();
      return;
    }
    let accept: ReturnType<HandshakeServer["prepareAccept"]>;
    try {
      accept = server.prepareAccept(valid, request, wire, url);
    } catch (error) {
      finish();
      hookFailed(error);
      return;
    }
    if (!finish()) return;
    socket.off("error", onEarlyError);
    accept(pending === null ? head : pending.received(head), callback);
  };

  const verify = server.verify;
  if (verify === undefined) {
    proceed(true);
    return;
  }
  const origin = request.headers.origin;
  let verdict: unknown;
  try {
    verdict = verify({
      request,
      origin: typeof origin === "string" ? origin : "",
      secure: url.protocol === "wss:",
      url,
    });
    if (isThenable(verdict)) {
      pending = new PendingPeer(socket, () => {
        if (finish()) socket.destroy();
      });
      server.pendingHandshakes.add(abortForShutdown);
      // Any thenable is a promise (Promise.resolve adopts it, as await would).
      Promise.resolve(verdict)
        .then(proceed, (error) => {
          if (finish()) hookFailed(error);
        })
        // A 'connection' listener that throws: uncaught, as it would be when verify is synchronous.
        .catch((error) =>
          process.nextTick(() => {
            throw error;
          }),
        );
      return;
    }
  } catch (error) {
    finish();
    hookFailed(error);
    return;
  }
  proceed(verdict);
}
