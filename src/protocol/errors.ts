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
  | "SJ_ERR_INVALID_HANDSHAKE"
  | "SJ_ERR_HEADERS_TOO_LARGE"
  | "SJ_ERR_INVALID_EXTENSION_OFFER"
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
