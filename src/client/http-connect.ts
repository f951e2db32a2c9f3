import http from "node:http";
import https from "node:https";
import { isIP, type Socket } from "node:net";
import { HandshakeError } from "../protocol/errors.js";
import type { ResolvedProxy } from "./proxy.js";
import { escapeProxyText, isProxyTlsError, proxyNetworkError } from "./proxy-errors.js";

// A tunnel through an HTTP proxy (RFC 9110 §9.3.6 CONNECT), or through an HTTPS proxy: TLS to the proxy first,
// then the same CONNECT inside it. node:http parses the proxy's answer (and bounds its size); a 2xx makes the
// connection a tunnel, anything else is the proxy's refusal, quoted escaped in the error. node:http hands
// CONNECT's first response to 'connect' even when it is interim (1xx): those are skipped here and the next
// head is read from the bytes that follow (readInterimResponses), under the same size limit.

export function connectThroughHttpProxy(
  proxy: ResolvedProxy,
  host: string,
  port: number,
  onOpen: (socket: Socket) => void,
  onFailure: (error: HandshakeError) => void,
): { abort(): void } {
  // RFC 9110 §9.3.6: the request target is the authority (RFC 3986 §3.2.2: IPv6 literals in brackets).
  const target = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  const headers: Record<string, string> = { Host: target };
  // RFC 9110 §11.7.2 Proxy-Authorization, RFC 7617 Basic: base64 of user-id ":" password, in UTF-8.
  const sendsCredentials = proxy.username !== "" || proxy.password !== "";
  if (sendsCredentials) {
    const token = Buffer.from(`${proxy.username}:${proxy.password}`, "utf8").toString("base64");
    headers["Proxy-Authorization"] = `Basic ${token}`;
  }
  const options: https.RequestOptions = {
    host: proxy.host,
    port: proxy.port,
    method: "CONNECT",
    path: target,
    headers,
    agent: false,
    ...proxy.local,
  };
  if (proxy.scheme === "https") {
    options.ca = proxy.tls.ca;
    options.rejectUnauthorized = proxy.tls.rejectUnauthorized;
    // SNI only for names (RFC 6066 §3).
    if (isIP(proxy.host) === 0) options.servername = proxy.host;
  }

  let done = false;
  let reached = false;
  // The socket while the heads after a 1xx are read (node:http no longer owns it then).
  let reading: Socket | null = null;
  const finish = (error: HandshakeError) => {
    if (done) return;
    done = true;
    request.destroy();
    reading?.destroy();
    onFailure(error);
  };
  const request = (proxy.scheme === "https" ? https : http).request(options);
  // Without an agent node:http would add "Connection: close", which asks the proxy to close the connection
  // after its answer (RFC 9112 §9.6): the tunnel itself. The request is only CONNECT, Host and credentials.
  request.removeHeader("connection");
  request.on("socket", (socket: Socket) => {
    socket.once(proxy.scheme === "https" ? "secureConnect" : "connect", () => {
      reached = true;
    });
  });
  /** The final (non-1xx) answer: a 2xx opens the tunnel (RFC 9110 §9.3.6), anything else is a refusal. */
  const answered = (status: number, statusLine: string, socket: Socket, head: Buffer) => {
    if (status >= 200 && status <= 299) {
      done = true;
      if (head.length > 0) socket.unshift(head);
      onOpen(socket);
      return;
    }
    socket.destroy();
    const line = escapeProxyText(statusLine);
    // RFC 9110 §15.5.8: 407, the proxy wants credentials. A 401 to CONNECT can only be the proxy's too (nothing
    // reached the target yet): tinyproxy 1.11 answers wrong credentials with 401 (after a 3 s delay).
    if (status === 407 || status === 401) {
      const what = sendsCredentials ? "rejected the credentials" : "requires credentials";
      finish(
        new HandshakeError(
          "SJ_ERR_PROXY_AUTH_REQUIRED",
          `proxy ${proxy.label} ${what}: it answered ${line}`,
          {
            status,
          },
        ),
      );
      return;
    }
    finish(
      new HandshakeError(
        "SJ_ERR_PROXY_REFUSED",
        `proxy ${proxy.label} refused to CONNECT: it answered ${line}`,
        {
          status,
        },
      ),
    );
  };
  request.on("connect", (response: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (done) {
      socket.destroy();
      return;
    }
    const status = response.statusCode ?? 0;
    const statusLine = `HTTP/${response.httpVersion} ${status} ${response.statusMessage ?? ""}`.trimEnd();
    if (!isInterim(status)) {
      answered(status, statusLine, socket, head);
      return;
    }
    // RFC 9110 §15.2: a client must parse (and here skip) any 1xx before the final response. The handshake
    // timeout (connect.ts) aborts an endless series of them; each head is bounded by the same size limit.
    reading = socket;
    readInterimResponses(socket, head, (result) => {
      reading = null;
      if (done) {
        socket.destroy();
        return;
      }
      if ("status" in result) {
        answered(result.status, result.statusLine, socket, result.rest);
        return;
      }
      socket.destroy();
      const detail = escapeProxyText(result.problem);
      const what = result.closed
        ? `closed the connection before answering CONNECT (${detail})`
        : `sent a malformed answer to CONNECT (${detail})`;
      finish(new HandshakeError("SJ_ERR_PROXY_PROTOCOL", `proxy ${proxy.label} ${what}`));
    });
  });
  request.on("error", (error: NodeJS.ErrnoException) => {
    // RFC 8446 §4.4.2: in TLS 1.3 the proxy's alert for a missing client certificate comes after the client's
    // secureConnect; it is the proxy's TLS that failed, not its answer to CONNECT.
    if (!reached || isProxyTlsError(proxy, error)) {
      finish(proxyNetworkError(proxy, error));
      return;
    }
    const detail = escapeProxyText(error.message.split("\n")[0]);
    const what = (error.code ?? "").startsWith("HPE_")
      ? `sent a malformed answer to CONNECT (${detail})`
      : `closed the connection before answering CONNECT (${detail})`;
    finish(new HandshakeError("SJ_ERR_PROXY_PROTOCOL", `proxy ${proxy.label} ${what}`, { cause: error }));
  });
  request.end();
  return {
    abort: () => {
      done = true;
      request.destroy();
      reading?.destroy();
    },
  };
}

/** 1xx but not 101 (which would switch protocols: no final answer to CONNECT follows it). */
function isInterim(status: number): boolean {
  return status >= 100 && status <= 199 && status !== 101;
}

type HeadResult = { status: number; statusLine: string; rest: Buffer } | { problem: string; closed: boolean };

/** RFC 9112 §4 status-line (the reason phrase may be missing, as node:http allows). */
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
/** RFC 9112 §5 field-line: token ":" value of visible characters, spaces, tabs and obs-text (no obs-fold). */
const FIELD_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/;
const END_OF_HEAD = Buffer.from("\r\n\r\n");

/**
 * Reads response heads from `socket` (starting with `buffered`), skipping 1xx ones (RFC 9110 §15.2: they end
 * with their header section, no content), until a final one; `done` gets its status and the bytes after it, or
 * the problem. Each head may hold at most http.maxHeaderSize bytes, node:http's own limit, so what is kept
 * stays bounded however many interim responses come. The socket is left as node:http left it (not flowing).
 */
function readInterimResponses(socket: Socket, buffered: Buffer, done: (result: HeadResult) => void): void {
  const limit = http.maxHeaderSize;
  let pending = buffered;
  let over = false;
  const stop = (result: HeadResult) => {
    if (over) return;
    over = true;
    socket.removeListener("data", onData);
    socket.removeListener("end", onEnd);
    socket.removeListener("close", onEnd);
    socket.removeListener("error", onError);
    // As node:http leaves a socket it hands to 'connect': buffering, until the next reader attaches.
    // (readableFlowing is typed read-only, but null is what Readable's setter is for: node:http sets it too.)
    (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    done(result);
  };
  const parse = () => {
    for (;;) {
      const end = pending.indexOf(END_OF_HEAD);
      if (end === -1 ? pending.length > limit : end + END_OF_HEAD.length > limit) {
        return stop({ problem: `a response head larger than ${limit} bytes`, closed: false });
      }
      if (end === -1) return;
      const lines = pending.subarray(0, end).toString("latin1").split("\r\n");
      pending = pending.subarray(end + END_OF_HEAD.length);
      const match = STATUS_LINE.exec(lines[0]);
      if (match === null || !lines.slice(1).every((line) => FIELD_LINE.test(line))) {
        return stop({ problem: `an invalid response head after a 1xx: ${lines[0]}`, closed: false });
      }
      const status = Number(match[3]);
      if (isInterim(status)) continue;
      const statusLine = `HTTP/${match[1]}.${match[2]} ${status} ${match[4] ?? ""}`.trimEnd();
      return stop({ status, statusLine, rest: pending });
    }
  };
  const onData = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    parse();
  };
  const onEnd = () => stop({ problem: "it ended after a 1xx response", closed: true });
  const onError = (error: Error) => stop({ problem: error.message.split("\n")[0], closed: true });
  socket.on("end", onEnd);
  socket.on("close", onEnd);
  socket.on("error", onError);
  parse();
  if (!over) socket.on("data", onData);
}
