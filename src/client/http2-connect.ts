import type { ClientHttp2Session, IncomingHttpHeaders } from "node:http2";
import type { Transport } from "../connection/connection-options.js";
import { destroyTransport } from "../connection/destroy-transport.js";
import { HandshakeError } from "../protocol/errors.js";
import type { PerMessageExtension } from "../protocol/extension.js";
import { validateExtendedConnectResponse, WEBSOCKET_VERSION } from "../protocol/handshake.js";
import {
  type ClientHandshake,
  type ClientHandshakeOptions,
  type ClientHandshakeResult,
  startClientHandshake,
} from "./connect.js";
import { acquireRoute, type Http2Mode, type RouteRequest } from "./http2-session-pool.js";
import { SessionSetupTimeout } from "./http2-session-setup.js";
import { notProcessed, refusedBeforeSending, watchSendRefusal } from "./http2-unprocessed.js";
import { networkError } from "./network-error.js";
import { readRefusalReason } from "./refusal-reason.js";

// The client's opening handshake over HTTP/2 (RFC 8441 §4–5), and the choice between it and HTTP/1.1 by the
// `http2` option (http2-session-pool.ts decides the route).

let defaultMode: Http2Mode = "never";

/**
 * The process-wide default of the `http2` WebSocket option, for code that cannot pass constructor options.
 * The default is "never": HTTP/1.1 gives every WebSocket its own TCP connection, so one socket's lost packets
 * or full flow-control window never stall another (on a shared session they can), and many proxies and load
 * balancers still do not forward RFC 8441. "auto" is the browsers' behaviour.
 */
export function setDefaultHttp2Mode(mode: Http2Mode): void {
  if (mode !== "auto" && mode !== "never" && mode !== "always")
    throw new TypeError(`The http2 mode must be "auto", "never" or "always", not ${JSON.stringify(mode)}`);
  defaultMode = mode;
}

export function defaultHttp2Mode(): Http2Mode {
  return defaultMode;
}

/** Opens the WebSocket over HTTP/1.1 or an HTTP/2 session, by `mode`. */
export function startHandshake(
  url: URL,
  options: ClientHandshakeOptions,
  mode: Http2Mode,
  onSuccess: (result: ClientHandshakeResult) => void,
  onFailure: (error: HandshakeError) => void,
): ClientHandshake {
  if (mode !== "auto" && mode !== "never" && mode !== "always")
    throw new TypeError(`options.http2 must be "auto", "never" or "always", not ${JSON.stringify(mode)}`);
  // Through a proxy the tunnel carries HTTP/1.1 (proxy.ts): HTTP/2 sessions are direct only.
  if (mode === "never" || (mode === "auto" && url.protocol === "ws:") || (options.proxy ?? null) !== null)
    return startClientHandshake(url, options, onSuccess, onFailure);
  let inner: ClientHandshake | null = null;
  /** The route being waited for (a session being set up), withdrawn when the socket gives up. */
  let waiting: RouteRequest | null = null;
  /** Aborted, or timed out, while no attempt's handshake (`inner`) was running: onFailure has been called. */
  let givenUp = false;
  // handshakeTimeoutMs is the time allowed for the whole opening handshake, as over HTTP/1.1 (one timer from
  // the request to the answer): the session (a new one: TCP, TLS, the server's SETTINGS), the extended
  // CONNECT, and its one retry (RFC 9113 §8.7) all share this deadline. Each had a timer of its own: a stream
  // refused just before the timeout was retried with a fresh one, and failed at nearly twice the time while
  // saying "within handshakeTimeoutMs" (review 141).
  const deadline = Date.now() + options.handshakeTimeoutMs;
  const timedOut = () =>
    new HandshakeError(
      "SJ_ERR_HANDSHAKE_TIMEOUT",
      `no answer to the opening handshake within ${options.handshakeTimeoutMs} ms`,
    );
  /** Gives up waiting for the route: the pool abandons a session's setup that no socket waits for. */
  const giveUp = (error: HandshakeError) => {
    givenUp = true;
    waiting?.withdraw();
    waiting = null;
    onFailure(error);
  };
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  // `avoid`: null for the first attempt; for the one retry of a stream refused unprocessed (RFC 9113 §8.7),
  // the session that refused it. There are at most two attempts, within the one deadline.
  const attempt = (avoid: ClientHttp2Session | null) => {
    const left = deadline - Date.now();
    if (left <= 0) {
      giveUp(timedOut());
      return;
    }
    // Waiting for a route (a session being set up, maybe by another socket) counts too: this socket gives up
    // at its own deadline, whatever the other sockets waiting on that session allow (review 144).
    const routeTimer = setTimeout(() => {
      if (!givenUp) giveUp(timedOut());
    }, left);
    routeTimer.unref();
    const request = acquireRoute(url, mode, { ...options.tls, ...options.local }, deadline, avoid);
    waiting = request;
    request.route.then(
      (route) => {
        clearTimeout(routeTimer);
        waiting = null;
        if (givenUp) {
          if (route.kind === "h2") route.release();
          else route.socket?.destroy();
          return;
        }
        if (route.kind === "http1") {
          // HTTP/1.1 (ALPN chose it, or the server's SETTINGS have no extended CONNECT): connect.ts's
          // handshake, within what is left of the same deadline (it had a fresh handshakeTimeoutMs: review 143).
          const socket = route.socket ?? undefined;
          inner = startClientHandshake(url, { ...options, socket, deadline }, onSuccess, onFailure);
          return;
        }
        const retry =
          avoid === null
            ? () => {
                inner = null;
                attempt(route.session);
              }
            : null;
        inner = startHttp2Handshake(
          url,
          options,
          deadline,
          route.session,
          route.release,
          onSuccess,
          onFailure,
          retry,
        );
      },
      (error: NodeJS.ErrnoException) => {
        clearTimeout(routeTimer);
        waiting = null;
        if (givenUp) return;
        // The setup ran to the latest deadline of the sockets waiting on it: this one's has passed too.
        giveUp(
          error instanceof SessionSetupTimeout
            ? timedOut()
            : error instanceof HandshakeError
              ? // The setup's own verdict (http2-session-setup.ts), one per socket as the others are.
                new HandshakeError(error.code, error.message, { cause: error.cause })
              : networkError(error, hostname, url.protocol === "wss:"),
        );
      },
    );
  };
  attempt(null);
  return {
    abort() {
      if (inner !== null) {
        inner.abort();
        return;
      }
      if (givenUp) return;
      giveUp(
        new HandshakeError("SJ_ERR_ABORTED", "WebSocket was closed before the connection was established"),
      );
    },
  };
}

/**
 * RFC 9113 §8.2.2: connection-specific fields make an HTTP/2 request malformed (Node will not send them:
 * "HTTP/1 Connection specific headers are forbidden"), and TE may only be "trailers". They are about the hop
 * of an HTTP/1.1 connection, which an extended CONNECT does not have: the `headers` option's ones are left
 * out over HTTP/2 (and still sent over HTTP/1.1).
 */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/**
 * A stream refused unprocessed twice (RFC 9113 §8.7: REFUSED_STREAM, or above a GOAWAY's last-stream-id). The
 * refusal does not say why: a server shutting down or over a limit of its own refuses any stream, and a
 * server may refuse this way a request it does not take (a header block over its limit), which a retry sends
 * again. Both causes are named. (Review 141's 70 kB cookie was not a server's refusal: the client's own
 * nghttp2 did not send it, OVER_SEND_LIMIT; node:http2's server answers ENHANCE_YOUR_CALM past its limit.)
 */
const REFUSED_TWICE =
  "the server refused the HTTP/2 stream twice before processing it (GOAWAY or REFUSED_STREAM, RFC 9113 §8.7): either it is shutting down or overloaded (then try again later), or it does not take this request (for example a header block larger than it accepts: big cookies or headers)";

/**
 * The request's header block is over node:http2's own limit on one it sends (http2-unprocessed.ts): nothing
 * was sent, and a retry would be refused the same way. Not the server's refusal (review 144: a 70 kB cookie
 * was retried and reported as REFUSED_TWICE). A network error, as Fetch has a request that cannot be sent.
 */
const OVER_SEND_LIMIT =
  'the client\'s node:http2 refused to send the request: its header block is over the limit node:http2 sets on one it sends (maxSendHeaderBlockLength, 64 KiB), and nothing was sent. Send fewer or smaller headers (the headers option: big cookies), or use HTTP/1.1 (the http2 option "never") if the server takes headers that large';

/**
 * RFC 8441 §4: an extended CONNECT on `session`, with the request headers an HTTP/1.1 handshake has but
 * those HTTP/2 has no place for (Upgrade, Connection, Host: RFC 9113 §8.2.2, §8.3.1) and the key (§5).
 * A stream the server refuses unprocessed calls `retry` instead of `onFailure` (always later, never from
 * within this call), or fails with REFUSED_TWICE when `retry` is null (this is the retry). No answer by
 * `deadline` (the socket's: startHandshake's) fails it with SJ_ERR_HANDSHAKE_TIMEOUT.
 */
function startHttp2Handshake(
  url: URL,
  options: ClientHandshakeOptions,
  deadline: number,
  session: ClientHttp2Session,
  release: () => void,
  onSuccess: (result: ClientHandshakeResult) => void,
  onFailure: (error: HandshakeError) => void,
  retry: (() => void) | null,
): ClientHandshake {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (CONNECTION_SPECIFIC.has(lower)) continue;
    if (lower === "te") {
      if (value.toLowerCase() === "trailers") headers.te = "trailers";
      continue;
    }
    headers[lower] = value;
  }
  if (headers["cache-control"] === undefined) headers["cache-control"] = "no-cache";
  if (headers.pragma === undefined) headers.pragma = "no-cache";
  if (options.origin !== undefined) headers.origin = options.origin;
  if (options.protocols.length > 0) headers["sec-websocket-protocol"] = options.protocols.join(", ");
  const negotiator = options.extension ?? null;
  if (negotiator !== null) headers["sec-websocket-extensions"] = negotiator.offer();
  // Fetch: credentials in the URL become Authorization: Basic, as on HTTP/1.1 (connect.ts).
  if ((url.username !== "" || url.password !== "") && headers.authorization === undefined) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }

  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    return true;
  };
  let stream: ReturnType<ClientHttp2Session["request"]> | undefined;
  const fail = (error: HandshakeError) => {
    if (!settle()) return;
    // RFC 8441 §6: a handshake given up (aborted, timed out, refused) resets its stream with CANCEL.
    if (stream !== undefined) destroyTransport(stream);
    release();
    onFailure(error);
  };
  /** No answer, and the stream (or the request) is gone: refused unprocessed (§8.7, §6.8), or lost. */
  const lost = (message: string, cause?: unknown) => {
    const withCause = cause === undefined ? undefined : { cause };
    if (refusedBeforeSending(stream)) fail(new HandshakeError("SJ_ERR_NETWORK", OVER_SEND_LIMIT, withCause));
    else if (!notProcessed(session, stream)) fail(new HandshakeError("SJ_ERR_NETWORK", message, withCause));
    else if (retry === null) fail(new HandshakeError("SJ_ERR_NETWORK", REFUSED_TWICE, withCause));
    else if (settle()) {
      if (stream !== undefined) destroyTransport(stream);
      release();
      retry();
    }
  };
  const invalid = (reason: string) => fail(new HandshakeError("SJ_ERR_INVALID_HANDSHAKE", reason));
  const timer = setTimeout(
    () =>
      fail(
        new HandshakeError(
          "SJ_ERR_HANDSHAKE_TIMEOUT",
          `no answer to the opening handshake within ${options.handshakeTimeoutMs} ms`,
        ),
      ),
    // The time left of the socket's handshake (startHandshake's deadline), not a handshakeTimeoutMs of its own.
    Math.max(0, deadline - Date.now()),
  );
  timer.unref();

  try {
    stream = session.request(
      {
        ...headers,
        ":method": "CONNECT",
        ":protocol": "websocket",
        // §4: unlike a plain CONNECT, :scheme and :path are sent; §5: https for wss, http for ws.
        ":scheme": url.protocol === "wss:" ? "https" : "http",
        ":path": `${url.pathname}${url.search}`,
        ":authority": url.host,
        "sec-websocket-version": WEBSOCKET_VERSION,
      },
      // The HEADERS must not end the stream: the frames follow on it.
      { endStream: false },
    );
  } catch (error) {
    // A session that has received GOAWAY takes no stream (ERR_HTTP2_GOAWAY_SESSION): retried, as refused.
    queueMicrotask(() => lost((error as Error).message, error));
    return {
      abort: () =>
        fail(
          new HandshakeError("SJ_ERR_ABORTED", "WebSocket was closed before the connection was established"),
        ),
    };
  }
  watchSendRefusal(stream);
  // A refusal's body is being read: its end, reset or error ends that read, which then fails the handshake.
  let refusing = false;
  stream.on("error", (error: Error) => {
    if (!settled && !refusing) lost(error.message, error);
  });
  stream.once("close", () => {
    if (!settled && !refusing) lost("the HTTP/2 stream closed during the handshake");
    else if (settled) release();
  });
  stream.once("response", (response: IncomingHttpHeaders) => {
    if (settled) return;
    const status = Number(response[":status"] ?? 0);
    if (status !== 200) {
      // Anything but 200 refuses (Fetch: a WebSocket never follows a redirect), with the reason the body
      // gives, read as over HTTP/1.1 (refusal-reason.ts: a short text/plain body's first line, bounded).
      refusing = true;
      readRefusalReason(response, stream, (reason) => {
        const message = `the server answered HTTP ${status}${reason === "" ? "" : `: ${reason}`}`;
        fail(new HandshakeError("SJ_ERR_HANDSHAKE_REFUSED", message, { status }));
      });
      return;
    }
    const checked = validateExtendedConnectResponse(
      { statusCode: status, headers: response },
      {
        key: "",
        offeredProtocols: options.protocols,
        offeredExtensions: negotiator === null ? [] : [negotiator.name],
      },
    );
    if (!checked.ok) {
      invalid(checked.reason);
      return;
    }
    let extension: PerMessageExtension | null = null;
    if (checked.extensions.length > 0 && negotiator !== null) {
      try {
        extension = negotiator.accept(checked.extensions[0]);
      } catch (error) {
        invalid((error as Error).message);
        return;
      }
    }
    if (!settle()) {
      extension?.dispose();
      return;
    }
    const extensionsHeader = response["sec-websocket-extensions"];
    // WebSocket.remoteAddress reads the transport's: the stream's is its session's.
    Object.defineProperty(stream, "remoteAddress", {
      value: session.socket?.remoteAddress,
      configurable: true,
    });
    onSuccess({
      socket: stream as unknown as Transport,
      head: Buffer.alloc(0),
      protocol: checked.protocol,
      extensions: Array.isArray(extensionsHeader) ? extensionsHeader.join(", ") : (extensionsHeader ?? ""),
      extension,
    });
  });
  return {
    abort: () =>
      fail(
        new HandshakeError("SJ_ERR_ABORTED", "WebSocket was closed before the connection was established"),
      ),
  };
}
