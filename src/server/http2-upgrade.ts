import type { IncomingMessage, ServerResponse } from "node:http";
import http2, {
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { Duplex } from "node:stream";
import type { SecureContextOptions } from "node:tls";
import type { Transport } from "../connection/connection-options.js";
import { destroyTransport } from "../connection/destroy-transport.js";
import { type UpgradeRequestResult, validateExtendedConnect } from "../protocol/handshake.js";
import { isValidHeaderName, isValidHeaderValue } from "../protocol/header-grammar.js";
import type { WebSocket } from "../web/websocket.js";
import type { HandshakeWire } from "./handshake-wire.js";
import { answerMethodNotAllowed } from "./method-not-allowed.js";
import { type PathTargets, routeByPath } from "./upgrade-router.js";

// WebSockets over HTTP/2 (RFC 8441): the server's extended-CONNECT path, beside the HTTP/1.1 upgrade path
// (upgrade-router.ts). A node:http2 server (secure, with allowHTTP1 for HTTP/1.1 clients on the same port, or
// cleartext h2c) announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (§3); a CONNECT stream with `:protocol
// websocket` is checked, answered `:status 200` (never 101, §5) and handed to the same accept step as an
// upgrade, its stream becoming the connection's transport. Every other stream is left to its owner.

export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** What a WebSocketServer offers the HTTP/2 router (its handshake is the HTTP/1.1 one, with another wire). */
export interface Http2Target {
  handles(request: IncomingMessage): boolean;
  handshake(
    request: IncomingMessage,
    wire: HandshakeWire,
    head: Buffer,
    callback: (webSocket: WebSocket, request: IncomingMessage) => void,
  ): void;
  emit(event: "connection", webSocket: WebSocket, request: IncomingMessage): boolean;
  /** Its 'request' listeners: with one, the app serves the plain requests of a standalone server. */
  listenerCount(event: "request"): number;
}

const EMPTY = Buffer.alloc(0);

/** A node:http2 server (they have updateSettings; http/https servers do not). */
export function isHttp2Server(server: unknown): server is AnyHttp2Server {
  return typeof (server as { updateSettings?: unknown } | null)?.updateSettings === "function";
}

/** RFC 8441 §4: a CONNECT whose `:protocol` is websocket (the one pseudo-header a plain CONNECT lacks). */
export function isExtendedConnect(headers: IncomingHttpHeaders): boolean {
  const protocol = headers[":protocol"];
  return (
    headers[":method"] === "CONNECT" && typeof protocol === "string" && protocol.toLowerCase() === "websocket"
  );
}

/**
 * An extended CONNECT for another protocol than websocket (RFC 8441 §4: a `:protocol` we do not serve). RFC
 * 9220 §3, for the extended CONNECT that RFC 8441 defines: the server "SHOULD respond to the request with a
 * 501 (Not Implemented) status code". (A 405 would need Allow, RFC 9110 §15.5.6, and CONNECT is allowed.)
 */
function isOtherExtendedConnect(headers: IncomingHttpHeaders): boolean {
  return (
    headers[":method"] === "CONNECT" && headers[":protocol"] !== undefined && !isExtendedConnect(headers)
  );
}

const UNSUPPORTED_PROTOCOL = "Unsupported :protocol: this server speaks websocket";

/**
 * The request object of an extended CONNECT, as hooks and 'connection' listeners see it: Node's own
 * Http2ServerRequest (httpVersion "2.0", url = :path, headers with the pseudo-headers), plus a `host` header
 * from `:authority` when the client sent none (RFC 9113 §8.3.1: :authority replaces Host), so that the
 * origin policy and anything else that reads Host work unchanged.
 */
export function http2Request(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
): IncomingMessage {
  const authority = headers[":authority"];
  if (headers.host === undefined && typeof authority === "string") headers.host = authority;
  return new http2.Http2ServerRequest(stream, headers, {}, rawHeaders) as unknown as IncomingMessage;
}

/**
 * Fields HTTP/2 forbids (RFC 9113 §8.2.2: connection-specific), which Node refuses to send, and those the
 * server frames the answer with. Dropped from a hook's extra headers, as the HTTP/1.1 path drops framing ones.
 */
const DROPPED_HEADERS = new Set([
  "connection",
  "upgrade",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "content-length",
]);

function answerHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (!isValidHeaderName(name) || (value !== "" && !isValidHeaderValue(String(value)))) {
      throw new TypeError(`Invalid response header ${JSON.stringify(name)}`);
    }
    const lower = name.toLowerCase();
    if (DROPPED_HEADERS.has(lower) || lower.startsWith(":")) continue;
    out[lower] = String(value);
  }
  return out;
}

/** How long a refused stream may stay half-open (the client still sending) before it is reset. */
const REFUSED_STREAM_LINGER_MS = 1000;

/** An extended CONNECT: answered with HEADERS on the stream, `:status 200` to accept. */
export class Http2Wire implements HandshakeWire {
  readonly socket: Transport;
  private readonly stream: ServerHttp2Stream;
  private readonly headers: IncomingHttpHeaders;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    this.stream = stream;
    this.headers = headers;
    // The connection layer and the per-IP limit read the peer's address from the transport.
    const remoteAddress = stream.session?.socket?.remoteAddress;
    Object.defineProperty(stream, "remoteAddress", { value: remoteAddress, configurable: true });
    this.socket = stream as Duplex as Transport;
  }

  validate(): UpgradeRequestResult {
    return validateExtendedConnect(this.headers);
  }

  url(secure: boolean): URL {
    // RFC 8441 §5: the target URI's scheme is https for wss and http for ws.
    const https = this.headers[":scheme"] === "https" || secure;
    const scheme = https ? "wss" : "ws";
    const path = this.headers[":path"] ?? "/";
    try {
      return new URL(`${scheme}://${this.headers[":authority"] ?? "localhost"}${path}`);
    } catch {
      try {
        return new URL(path, `${scheme}://localhost`);
      } catch {
        return new URL(`${scheme}://localhost/`);
      }
    }
  }

  refuse(status: number, reason: string, headers?: Record<string, string>): void {
    const stream = this.stream;
    if (stream.destroyed || stream.headersSent) {
      destroyTransport(stream);
      return;
    }
    let extra: Record<string, string>;
    try {
      extra = answerHeaders(headers);
    } catch {
      extra = {};
    }
    const body = Buffer.from(reason, "utf8");
    try {
      stream.respond({
        "content-type": "text/plain; charset=utf-8",
        ...extra,
        ":status": status,
        "content-length": body.length,
      });
      stream.end(body);
    } catch {
      destroyTransport(stream);
      return;
    }
    // A client that goes on sending must not keep the stream: reset it (NO_ERROR) soon after the answer.
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_NO_ERROR), REFUSED_STREAM_LINGER_MS);
    timer.unref();
    stream.once("close", () => clearTimeout(timer));
  }

  prepareAccept(
    _key: string,
    protocol: string,
    extensions: string,
    headers: Record<string, string> | undefined,
  ): () => void {
    // RFC 8441 §5: a 2xx accepts (200), with Sec-WebSocket-Protocol/-Extensions as in RFC 6455 §4.2.2 but no
    // Sec-WebSocket-Accept; the HEADERS frame must not end the stream, which carries the frames.
    const answer: Record<string, string | number> = { ...answerHeaders(headers), ":status": 200 };
    if (protocol !== "") answer["sec-websocket-protocol"] = protocol;
    if (extensions !== "") answer["sec-websocket-extensions"] = extensions;
    const stream = this.stream;
    return () => {
      if (stream.destroyed) return;
      stream.respond(answer, { endStream: false });
      liftIdleTimeout(stream);
    };
  }
}

/** The WebSockets each session carries now, and its idle timeout before the first (liftIdleTimeout). */
const carried = new WeakMap<Http2Session, { webSockets: number; timeoutMs: number }>();

/**
 * A session that carries a WebSocket is not idle, whatever the server's idle timeout (server.timeout)
 * says: the WebSocket's keepalive watches it, as an upgraded HTTP/1.1 socket loses that timer too. Once its
 * last WebSocket has closed, the session's timeout as it was comes back (the server's, or one its owner set
 * on the session): a client that opened one, closed it and went silent kept its session forever (past
 * handshakeTimeoutMs, and counted by no connection limit: review).
 */
function liftIdleTimeout(stream: ServerHttp2Stream): void {
  const session = stream.session;
  if (session === undefined || session.destroyed) return;
  let state = carried.get(session);
  if (state === undefined || state.webSockets === 0) {
    // Node keeps the value of the session's last setTimeout() (the server's, set on each new session).
    const timeoutMs = (session as { timeout?: unknown }).timeout;
    state = { webSockets: 0, timeoutMs: typeof timeoutMs === "number" ? timeoutMs : 0 };
    carried.set(session, state);
  }
  state.webSockets++;
  session.setTimeout(0);
  const carrying = state;
  stream.once("close", () => {
    if (--carrying.webSockets > 0 || session.destroyed) return;
    if (carrying.timeoutMs > 0) session.setTimeout(carrying.timeoutMs);
  });
}

/**
 * Runs the handshake of one extended CONNECT stream on `target` (the noServer mode's entry point, and the
 * router's). `callback` gets the WebSocket once it is open.
 */
export function handleHttp2Stream(
  target: Http2Target,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  callback: (webSocket: WebSocket, request: IncomingMessage) => void,
): void {
  const request = http2Request(stream, headers, rawHeaders);
  target.handshake(request, new Http2Wire(stream, headers), EMPTY, callback);
}

interface Router {
  targets: PathTargets<Http2Target>;
  onStream: (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
  ) => void;
  onConnect: (request: IncomingMessage, second: Duplex | Http2ServerResponse | ServerResponse) => void;
}

const routers = new WeakMap<AnyHttp2Server, Router>();
/**
 * The servers createHttp2Server made (a standalone WebSocketServer's): their methods are ours to list, while
 * no WebSocketServer on them has a 'request' listener (then the app serves other methods too).
 */
const ownServers = new WeakSet<AnyHttp2Server>();

/**
 * Serves extended CONNECTs on `server` for `target` (several targets share one router, by path, as with
 * upgrades). Turns SETTINGS_ENABLE_CONNECT_PROTOCOL on for the sessions that start from now on.
 */
export function attachHttp2Target(
  server: AnyHttp2Server,
  target: Http2Target,
  path: string | undefined,
): void {
  let router = routers.get(server);
  if (router === undefined) {
    const targets: PathTargets<Http2Target> = new Map();
    const find = (request: IncomingMessage) => routeByPath(targets, request);
    const onStream: Router["onStream"] = (stream, headers, _flags, rawHeaders) => {
      if (!isExtendedConnect(headers)) {
        // Left to the server's owner, unless this listener is the only one: a 501 (RFC 9220 §3).
        if (isOtherExtendedConnect(headers) && server.listenerCount("stream") === 1)
          new Http2Wire(stream, headers).refuse(501, UNSUPPORTED_PROTOCOL);
        return;
      }
      const request = http2Request(stream, headers, rawHeaders);
      const chosen = find(request);
      if (chosen !== undefined) {
        chosen.handshake(request, new Http2Wire(stream, headers), EMPTY, (webSocket, req) =>
          chosen.emit("connection", webSocket, req),
        );
        return;
      }
      // No WebSocketServer serves this path: a 404, unless other code handles streams or (with the
      // compatibility API) CONNECTs on this server.
      if (server.listenerCount("stream") === 1)
        new Http2Wire(stream, headers).refuse(404, "No WebSocket endpoint at this path");
    };
    // With a 'request' listener (the compatibility API), Node also hands every CONNECT to 'connect' and
    // answers 405 when nobody listens: this listener keeps the WebSocket ones (served by onStream) from that,
    // and does what Node would for the others when it is the only one (but a 501 for another :protocol).
    const onConnect: Router["onConnect"] = (request, second) => {
      if (server.listenerCount("connect") > 1) return;
      if (request.httpVersion !== "2.0") {
        // An HTTP/1.1 CONNECT (allowHTTP1): Node destroys the socket when nobody listens.
        (second as Duplex).destroy();
        return;
      }
      const response = second as Http2ServerResponse;
      const headers = request.headers as IncomingHttpHeaders;
      if (isOtherExtendedConnect(headers)) {
        // RFC 9220 §3: an unsupported :protocol gets 501 (Node's 405 had no Allow, RFC 9110 §15.5.6).
        response.statusCode = 501;
        response.setHeader("content-type", "text/plain; charset=utf-8");
        response.end(UNSUPPORTED_PROTOCOL);
      } else if (!isExtendedConnect(headers)) {
        // A plain CONNECT: a 405 with Allow (RFC 9110 §15.5.6) on our own server when its methods are ours
        // alone. RFC 9110 §10.2.1: Allow lists the methods the target resource supports, and with a 'request'
        // listener the app serves methods we do not know (POST, DELETE…): then, as on a user's server, what
        // Node does with a CONNECT nobody listens for, a 405 without Allow (the app can answer with its own
        // from a 'connect' listener on its httpServer, leaving the CONNECTs with :protocol to us).
        let appServes = false;
        for (const t of targets.keys()) if (t.listenerCount("request") > 0) appServes = true;
        if (!ownServers.has(server)) {
          response.statusCode = 405;
          response.end();
        } else if (!appServes) answerMethodNotAllowed(response);
        else {
          // Node's 405, its head sent by writeHead(): Node then resets the half of the stream the client keeps
          // open once the answer is sent (RST_STREAM NO_ERROR, RFC 9113 §8.1). Node's own `statusCode = 405;
          // end()` leaves a CONNECT open for as long as the client does, and its session held close() (seen).
          response.writeHead(405, { "content-length": 0 });
          response.end();
        }
      } else if (find(request) === undefined) {
        response.statusCode = 404;
        response.end("No WebSocket endpoint at this path");
      }
    };
    router = { targets, onStream, onConnect };
    routers.set(server, router);
    server.on("stream", onStream);
    server.on("connect", onConnect);
    // RFC 8441 §3: the server announces that it accepts extended CONNECT.
    server.updateSettings({ enableConnectProtocol: true });
  }
  router.targets.set(target, path);
}

export function detachHttp2Target(server: AnyHttp2Server, target: Http2Target): void {
  const router = routers.get(server);
  if (router === undefined) return;
  router.targets.delete(target);
  if (router.targets.size === 0) {
    server.off("stream", router.onStream);
    server.off("connect", router.onConnect);
    routers.delete(server);
  }
}

/** Options of a standalone HTTP/2 server: TLS (with HTTP/1.1 on the same port through ALPN), or h2c. */
export function createHttp2Server(
  tls: (SecureContextOptions & { cert?: string | Buffer; key?: string | Buffer }) | undefined,
  handshakeTimeoutMs: number,
): AnyHttp2Server {
  const settings = { enableConnectProtocol: true };
  // Nagle off on every connection: a session's small frames (a chat line, a pong) must not wait for an ACK.
  const server =
    tls !== undefined
      ? http2.createSecureServer({
          ...tls,
          allowHTTP1: true,
          settings,
          noDelay: true,
          // Slowloris: a TLS handshake that never finishes is cut at the handshake timeout too.
          handshakeTimeout: handshakeTimeoutMs,
        })
      : http2.createServer({ settings, noDelay: true } as http2.ServerOptions);
  // Slowloris: a connection or session with no activity for the handshake timeout (nothing sent, a preface
  // then silence, a header block never finished, an HTTP/1.1 head that stops) is destroyed. A session that
  // carries a WebSocket has its timeout lifted on accept (Http2Wire), so idle WebSockets are not affected.
  server.setTimeout(handshakeTimeoutMs);
  // Node emits 'timeout' with the idle session (or, on the HTTP/1.1 fallback, socket) and leaves it open.
  server.on("timeout", (idle: { destroy(): void }) => idle.destroy());
  ownServers.add(server);
  return server;
}
