import http from "node:http";
import { HandshakeError } from "../protocol/errors.js";
import { escapeProxyText } from "./proxy-errors.js";
import { TLS_ERROR, tlsFailureMessage } from "./tls-failure.js";

// What a failed handshake request says when Node's http client or the network failed it: the error's code
// and, for an answer Node's parser could not read, the bytes it began with. Node's error stays the `cause`.

/** Names a network error of the handshake request; Node's error stays the `cause`. */
export function networkError(
  error: NodeJS.ErrnoException,
  host: string,
  secure: boolean,
  maxHeaderBytes?: number,
): HandshakeError {
  const code = error.code ?? "";
  const detail = error.message.split("\n")[0];
  // Node's parser met a response head past maxHeaderSize: the limit is ours to name (review 132).
  if (code === "HPE_HEADER_OVERFLOW") {
    const limit = maxHeaderBytes ?? http.maxHeaderSize;
    return new HandshakeError(
      "SJ_ERR_INVALID_HANDSHAKE",
      `the server's answer has a head over ${limit} bytes (the maxHeaderBytes option; raise it if the server is right)`,
      { cause: error },
    );
  }
  // Any other llhttp error ("Parse Error: Expected HTTP/, RTSP/ or ICE/"): an answer that is not an HTTP/1.1
  // response, which RFC 6455 §4.1 requires ("the client MUST validate the server's response").
  if (code.startsWith("HPE_")) {
    return new HandshakeError("SJ_ERR_INVALID_HANDSHAKE", unreadableAnswer(error, secure), { cause: error });
  }
  if (code === "ECONNREFUSED") {
    return new HandshakeError("SJ_ERR_CONNECTION_REFUSED", `connection refused (${detail})`, {
      cause: error,
    });
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new HandshakeError("SJ_ERR_HOST_NOT_FOUND", `host not found: ${host} (${code})`, { cause: error });
  }
  // EPROTO on wss: OpenSSL failed the handshake; its reason says whether the server speaks TLS at all.
  if ((secure && code === "EPROTO") || TLS_ERROR.test(code) || "library" in error) {
    return new HandshakeError("SJ_ERR_TLS_FAILED", tlsFailureMessage(error, detail), { cause: error });
  }
  // Node's "socket hang up": the server closed without an HTTP answer, as a server does that drops requests
  // for a path it has no endpoint at (an `upgrade` handler that destroys the socket), or a TLS server on
  // plain HTTP.
  if (code === "ECONNRESET" && detail === "socket hang up") {
    const hint = secure
      ? " (no WebSocket endpoint at this path?)"
      : " (no WebSocket endpoint at this path, or a TLS server: then use wss://)";
    return new HandshakeError(
      "SJ_ERR_NETWORK",
      `the server closed the connection without answering the handshake${hint}`,
      { cause: error },
    );
  }
  return new HandshakeError("SJ_ERR_NETWORK", detail, { cause: error });
}

/** llhttp's errors for an answer that does not begin as an HTTP/1.x status line. */
const NOT_A_STATUS_LINE = new Set(["HPE_INVALID_CONSTANT", "HPE_INVALID_VERSION", "HPE_INVALID_STATUS"]);

/**
 * Why the answer could not be read, from llhttp's error and the chunk it failed in (Node's `rawPacket`; the
 * parser stopped at `bytesParsed`). An h2c-only server (RFC 9113 §3.3: HTTP/2 by prior knowledge) answers an
 * HTTP/1.1 request with its SETTINGS frame, then GOAWAY: the http2 option reaches it.
 */
function unreadableAnswer(error: NodeJS.ErrnoException, secure: boolean): string {
  const raw = (error as { rawPacket?: unknown }).rawPacket;
  const parsed = (error as { bytesParsed?: unknown }).bytesParsed;
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
  const reason = (error as { reason?: unknown }).reason;
  const parser = typeof reason === "string" && reason !== "" ? reason : error.message.split("\n")[0];
  if (!NOT_A_STATUS_LINE.has(error.code ?? "") && parsed !== 0) {
    return `the server's answer is not valid HTTP/1.1 (Node's parser: ${parser})`;
  }
  const frame = http2FrameName(bytes);
  if (frame !== null) {
    const mode = secure ? '"auto" or "always"' : '"always" (HTTP/2 by prior knowledge, h2c)';
    return `the server did not answer in HTTP/1.1: its answer is an HTTP/2 ${frame}, so it speaks only HTTP/2 on this port; use the http2 option ${mode}`;
  }
  const start = escapeProxyText(bytes.subarray(0, 32).toString("latin1"), 32);
  const begins = bytes.length === 0 ? "" : ` (its answer begins "${start}")`;
  return `the server did not answer in HTTP/1.1${begins}: not an HTTP server on this port?`;
}

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * "a SETTINGS frame" or "a GOAWAY frame" when `bytes` begin as one does on stream 0 (RFC 9113 §4.1 frame
 * header: 24-bit length, type, flags, 31-bit stream id; §6.5 SETTINGS, a multiple of 6 bytes; §6.8 GOAWAY,
 * at least 8), or the client preface (§3.4) when a server echoes one; else null.
 */
function http2FrameName(bytes: Buffer): string | null {
  if (bytes.length >= 14 && bytes.subarray(0, 14).equals(HTTP2_PREFACE.subarray(0, 14))) {
    return "connection preface";
  }
  if (bytes.length < 9 || (bytes.readUInt32BE(5) & 0x7fffffff) !== 0) return null;
  const length = bytes.readUIntBE(0, 3);
  if (bytes[3] === 0x4 && length % 6 === 0 && length <= 16384) return "SETTINGS frame";
  if (bytes[3] === 0x7 && length >= 8 && length <= 16384) return "GOAWAY frame";
  return null;
}

/**
 * Whether the connection closed before any answer: Node's "socket hang up" (no HTTP response), or a close
 * before the TLS handshake to the target was done (wss:).
 */
export function closedWithoutAnswer(error: NodeJS.ErrnoException): boolean {
  if (error.code !== "ECONNRESET") return false;
  return /^(socket hang up|Client network socket disconnected before secure TLS connection)/.test(
    error.message,
  );
}
