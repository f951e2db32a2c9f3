import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { resumeClientModule } from "../index.js";
import { countFields } from "../protocol/header-fields.js";
import { pageSecurityPolicy, renderPage } from "./page.js";
import { HOST_REFUSED } from "./serve-guard.js";
import { errorMessage, quoted } from "./terminal.js";

// The plain-HTTP side of `sockjet serve`: the demo page on `GET /`, the resume client module on
// `GET /sockjet-resume.js` (the page's chat imports it), 404/405/400 for everything else, and the
// answer to a request Node could not parse. No request of any shape may take the process down: the request
// target is never handed to a URL parser that throws, and a handler that throws anyway answers 500.

/** Headers on every response, errors included: no framing (clickjacking), no MIME sniffing. */
const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
} as const;

/** A response for a request that is not the page: one line of text. */
function plainText(
  response: ServerResponse,
  status: number,
  text: string,
  extra: Record<string, string> = {},
) {
  const body = Buffer.from(`${text}\n`);
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    // Nothing in a plain-text answer runs or gets framed (frame-ancestors: CSP Level 3 §6.4.2).
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": body.length,
    ...extra,
  });
  response.end(body);
}

/**
 * The path of a request target, or null when the target is not one we accept. RFC 9112 §3.2: a request is
 * origin-form (`/path?query`) or, to a proxy, absolute-form (`http://host/path`); `*` and authority-form are for
 * OPTIONS and CONNECT only. A target starting with `//` is refused too: URL parsers read it as a
 * scheme-relative reference whose first segment is a host (`//a:b` throws, `//evil/` changes the host).
 */
export function targetPath(target: string): string | null {
  if (target.startsWith("/")) {
    if (target.startsWith("//")) return null;
    const end = target.search(/[?#]/);
    return end === -1 ? target : target.slice(0, end);
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.pathname : null;
}

/** The `request` listener of `serve`'s http(s) server. */
export function pageHandler(
  log: (line: string) => void,
  hostAllowed: (host: string | undefined) => boolean = () => true,
): (request: IncomingMessage, response: ServerResponse) => void {
  const csp = pageSecurityPolicy();
  return (request, response) => {
    try {
      // The page under a Host its WebSockets would refuse (DNS rebinding) could not connect: refuse it too.
      const host = requestHost(request);
      if (isWebSocketUpgrade(request)) refuseWhileStopping(response);
      // RFC 9112 §3.2: more than one Host field line is a 400 (Node's headers keep only the first).
      else if (countFields(request.rawHeaders, "host") > 1)
        plainText(response, 400, "More than one Host header");
      else if (!hostAllowed(host)) plainText(response, 403, hostRefusal(host, request));
      else servePage(request, response, csp);
    } catch (error) {
      log(`error  ${request.method} ${quoted(request.url ?? "")}: ${errorMessage(error)}`);
      if (!response.headersSent) plainText(response, 500, "Internal server error");
      else response.destroy();
    }
  };
}

/**
 * A WebSocket upgrade reaches the page only once no WebSocketServer takes upgrades any more: serve is
 * stopping. Not the page (a 200 fails the handshake as well, RFC 6455 §4.1, but says nothing): 503 with
 * Retry-After (RFC 9110 §15.6.4, §10.2.3), which a reconnecting client can act on.
 */
function refuseWhileStopping(response: ServerResponse): void {
  plainText(
    response,
    503,
    "This server is shutting down: it takes no new WebSocket connections. Try again shortly.",
    {
      "Retry-After": "1",
      Connection: "close",
    },
  );
}

/** An upgrade to WebSocket as node:http sees one (Connection: upgrade too), RFC 6455 §4.1 and §4.2.1. */
function isWebSocketUpgrade(request: IncomingMessage): boolean {
  return (
    /\bwebsocket\b/i.test(String(request.headers.upgrade ?? "")) &&
    /\bupgrade\b/i.test(String(request.headers.connection ?? ""))
  );
}

/** The 403 of the page under a Host that is not served, with the way to allow it. */
/**
 * The request's host: an absolute-form target's authority, whatever Host says (RFC 9112 §3.2.2: the server
 * MUST ignore Host then), else Host, or over HTTP/2 :authority (RFC 9113 §8.3.1).
 */
function requestHost(request: IncomingMessage): string | undefined {
  const target = request.url ?? "";
  if (!target.startsWith("/") && targetPath(target) !== null) return new URL(target).host;
  const authority = request.headers[":authority"];
  return request.headers.host ?? (typeof authority === "string" ? authority : undefined);
}

function hostRefusal(host: string | undefined, request: IncomingMessage): string {
  // The Host is the client's text: named only when it is plainly a host[:port].
  const named = host !== undefined && /^[A-Za-z0-9.-]+(:\d+)?$/.test(host);
  const allow = named ? `--allow-origin http://${host}` : "--allow-origin ORIGIN";
  // The port this connection came in on (a worker's handed-over socket keeps it too), and its scheme.
  const scheme = (request.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
  const port = request.socket.localPort;
  const page = port === undefined ? `${scheme}://localhost/` : `${scheme}://localhost:${port}/`;
  return (
    `${HOST_REFUSED}. Open the page as ${page}, or, if this name is yours, ` +
    `start sockjet serve with ${allow}`
  );
}

function servePage(request: IncomingMessage, response: ServerResponse, csp: string): void {
  const path = targetPath(request.url ?? "");
  if (path === null) {
    plainText(response, 400, "Bad request: the request target must be a path like /");
    return;
  }
  if (path === RESUME_MODULE_PATH) {
    serveResumeModule(request, response);
    return;
  }
  if (path !== "/" && path !== "/index.html") {
    plainText(
      response,
      404,
      "Not found. The demo page is at /, the echo endpoint at ws://…/ and the chat at ws://…/chat",
    );
    return;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    plainText(response, 405, "Method not allowed", { Allow: "GET, HEAD" });
    return;
  }
  const host = requestHost(request);
  const body = Buffer.from(renderPage(host ?? "localhost"));
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": body.length,
    "Content-Security-Policy": csp,
  });
  response.end(request.method === "HEAD" ? undefined : body);
}

/** Where the page finds the resume client (docs/resume.md): same origin, so the page's CSP allows it. */
export const RESUME_MODULE_PATH = "/sockjet-resume.js";

/** The resume client module's bytes, read at its first request. */
let resumeModule: Buffer | undefined;

/** The resume client module (src/resume/client.ts as built): one ES module with no import. */
function serveResumeModule(request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== "GET" && request.method !== "HEAD") {
    plainText(response, 405, "Method not allowed", { Allow: "GET, HEAD" });
    return;
  }
  resumeModule ??= resumeClientModule();
  const body = resumeModule;
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    // A module script must come with a JavaScript MIME type (HTML §8.1.5.2 "fetch a single module script";
    // RFC 9239 names text/javascript); nosniff holds browsers to it.
    "Content-Type": "text/javascript; charset=utf-8",
    "Content-Length": body.length,
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  });
  response.end(request.method === "HEAD" ? undefined : body);
}

/** How long the answer to a refused request may take to reach the peer before the socket is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1000;

/** Statuses for what Node's HTTP parser refuses (its error codes are llhttp's, plus the head timeout). */
const CLIENT_ERROR_STATUS: Record<string, string> = {
  // The request line and headers together are over maxHeaderSize: a 20 KB URL lands here (RFC 6585 §5).
  HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
  // headersTimeout/requestTimeout: the head or the request did not arrive in time (RFC 9110 §15.5.9).
  ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout",
};

/**
 * The `clientError` listener: answers a request Node could not parse with a status (400, 431, 408) and the
 * security headers, then closes; a connection that broke, already got a response or never finished its TLS
 * handshake is just destroyed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const code = error.code ?? "";
  // A TLS error (a handshake that timed out or failed, OpenSSL's ERR_SSL_*) comes before any HTTP: an
  // answer would wait in the unfinished TLS session, unsent, for the linger's second.
  if (code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_")) {
    socket.destroy();
    return;
  }
  // Node sets _httpMessage while a response is on this socket; writing a status line then would corrupt it.
  const busy = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (code === "ECONNRESET" || !socket.writable || busy === true) {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_STATUS[code] ?? "400 Bad Request";
  const body = `${status}\n`;
  const headers = Object.entries({
    ...SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(body.length),
    Connection: "close",
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  // Closed from our side whether or not the peer reads or closes its own (a slowloris client does neither).
  socket.end(`HTTP/1.1 ${status}\r\n${headers}\r\n${body}`, () => socket.destroy());
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}
