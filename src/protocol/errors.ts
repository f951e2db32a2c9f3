import { CloseCode } from "./constants.js";

/** Stable error codes users can match on (like ws's WS_ERR_*). */
export type ProtocolErrorCode =
  | "SJ_ERR_UNEXPECTED_RSV"
  | "SJ_ERR_INVALID_OPCODE"
  | "SJ_ERR_EXPECTED_MASK"
  | "SJ_ERR_UNEXPECTED_MASK"
  | "SJ_ERR_CONTROL_FRAME_TOO_LONG"
  | "SJ_ERR_FRAGMENTED_CONTROL_FRAME"
  | "SJ_ERR_INVALID_LENGTH"
  | "SJ_ERR_MESSAGE_TOO_BIG"
  | "SJ_ERR_TOO_MANY_FRAGMENTS"
  | "SJ_ERR_UNEXPECTED_CONTINUATION"
  | "SJ_ERR_EXPECTED_CONTINUATION"
  | "SJ_ERR_INVALID_UTF8"
  | "SJ_ERR_INVALID_CLOSE_PAYLOAD"
  | "SJ_ERR_INVALID_CLOSE_CODE"
  | "SJ_ERR_INVALID_COMPRESSED_DATA"
  | "SJ_ERR_EXTENSION_FAILED"
  /** The peer did not read: more than maxBufferedBytes waited to be sent (1008). */
  | "SJ_ERR_SLOW_CONSUMER"
  /** The peer sent frames or bytes faster than the connection's rate limit allows (1008). */
  | "SJ_ERR_RATE_LIMITED"
  /** A Blob given to send() could not be read (1011). */
  | "SJ_ERR_BLOB_UNREADABLE";

/**
 * A protocol violation. `closeCode` is the status code the connection is failed with (RFC 6455 §7.1.7);
 * `code` is a stable identifier for programs.
 */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, message: string, closeCode: number = CloseCode.ProtocolError) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** Why an opening handshake failed (the `error` of the client's ErrorEvent). */
export type HandshakeErrorCode =
  /** Nothing listens at the address (ECONNREFUSED). */
  | "SJ_ERR_CONNECTION_REFUSED"
  /** The host name did not resolve (ENOTFOUND, EAI_AGAIN). */
  | "SJ_ERR_HOST_NOT_FOUND"
  /**
   * TLS failed: a certificate not trusted, expired or for another name, a server that speaks no TLS, or one that
   * refused the handshake (the message gives OpenSSL's reason: a client certificate required, no version in
   * common…).
   */
  | "SJ_ERR_TLS_FAILED"
  /** Any other network error before the handshake finished (reset, unreachable…); see `cause`. */
  | "SJ_ERR_NETWORK"
  /** No answer within handshakeTimeoutMs. */
  | "SJ_ERR_HANDSHAKE_TIMEOUT"
  /** The server answered with an HTTP status other than 101 (`status`). */
  | "SJ_ERR_HANDSHAKE_REFUSED"
  /**
   * An answer RFC 6455 §4.1 does not allow: a 101 without Upgrade: websocket or Connection: Upgrade, or with a
   * wrong accept key, subprotocol or extension; an answer that is not HTTP/1.1 (another protocol on the port,
   * an HTTP/2-only server), or not HTTP/2 to http2 "always" on ws:; a head over maxHeaderBytes.
   */
  | "SJ_ERR_INVALID_HANDSHAKE"
  /** close() or terminate() was called before the handshake finished. */
  | "SJ_ERR_ABORTED"
  /** The URL's port is on Fetch's "bad port" list (§2.9): nothing was connected. */
  | "SJ_ERR_BAD_PORT"
  /** The proxy could not be reached (refused, not found, reset); see `cause`. */
  | "SJ_ERR_PROXY_UNREACHABLE"
  /** TLS to an https: proxy failed (its certificate, or it speaks no TLS). */
  | "SJ_ERR_PROXY_TLS_FAILED"
  /** The proxy wants credentials, or rejected the ones given (HTTP 407, SOCKS5 authentication). */
  | "SJ_ERR_PROXY_AUTH_REQUIRED"
  /** An HTTP proxy answered CONNECT with a status other than 2xx and 407 (`status`; the message quotes it). */
  | "SJ_ERR_PROXY_REFUSED"
  /** A SOCKS5 proxy could not or would not connect to the target (its reply code is in the message). */
  | "SJ_ERR_PROXY_TARGET_REFUSED"
  /** The proxy broke its protocol: a malformed reply, or it closed the connection mid-negotiation. */
  | "SJ_ERR_PROXY_PROTOCOL";

/** The opening handshake failed: `code` says how, `status` is the HTTP status (or null), `cause` Node's error. */
export class HandshakeError extends Error {
  readonly code: HandshakeErrorCode;
  readonly status: number | null;

  constructor(code: HandshakeErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HandshakeError";
    this.code = code;
    this.status = options.status ?? null;
  }
}

/** How a connection was lost: dropped by the peer or the network, or terminated by our keepalive. */
export type ConnectionLostErrorCode =
  /** The peer vanished, reset the connection, or the socket was terminated. */
  | "SJ_ERR_CONNECTION_LOST"
  /** The server's keepalive terminated a peer that did not answer a ping within pingIntervalMs. */
  | "SJ_ERR_KEEPALIVE_TIMEOUT"
  /** The client's heartbeat heard nothing within its timeoutMs of a Ping. */
  | "SJ_ERR_HEARTBEAT_TIMEOUT";

/**
 * The transport closed without a closing handshake (RFC 6455 §7.1.5: 1006) and without a failure of ours:
 * the peer vanished, reset the connection, or was terminated (`SJ_ERR_CONNECTION_LOST`; `cause` is the
 * socket's error, if any), answered no keepalive ping (`SJ_ERR_KEEPALIVE_TIMEOUT`) or no heartbeat Ping in
 * time (`SJ_ERR_HEARTBEAT_TIMEOUT`).
 */
export class ConnectionLostError extends Error {
  readonly code: ConnectionLostErrorCode;

  constructor(
    cause: Error | null,
    options: { code?: ConnectionLostErrorCode; message?: string; heartbeatTimeoutMs?: number } = {},
  ) {
    const heartbeat = options.heartbeatTimeoutMs !== undefined;
    super(
      options.message ??
        (heartbeat
          ? `connection lost: no pong (or any frame) within ${options.heartbeatTimeoutMs} ms of a ping`
          : cause === null
            ? "connection closed without a Close frame"
            : `connection lost without a Close frame: ${cause.message}`),
      cause === null ? undefined : { cause },
    );
    this.name = "ConnectionLostError";
    this.code = options.code ?? (heartbeat ? "SJ_ERR_HEARTBEAT_TIMEOUT" : "SJ_ERR_CONNECTION_LOST");
  }
}
