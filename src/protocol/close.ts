import { CloseCode } from "./constants.js";
import { ProtocolError } from "./errors.js";
import { isValidUtf8 } from "./utf8.js";

/**
 * RFC 6455 §7.4.1/§7.4.2 and the IANA registry: may this code appear in a Close frame on the wire?
 * 1004 (reserved), 1005, 1006 and 1015 (never sent), other unassigned codes below 3000, and anything outside
 * 1000–4999 are invalid.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

export interface ClosePayload {
  /** 1005 when the frame had no payload (RFC 6455 §7.1.5). */
  code: number;
  reason: string;
}

/** Parses a received Close frame's payload (RFC 6455 §5.5.1). Throws ProtocolError. */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: "" };
  // §5.5.1: if there is a body, its first two bytes are the status code.
  if (payload.length === 1) {
    throw new ProtocolError(
      "SJ_ERR_INVALID_CLOSE_PAYLOAD",
      "close frame with a 1-byte payload (RFC 6455 §5.5.1)",
    );
  }
  const code = payload.readUInt16BE(0);
  if (!isValidWireCloseCode(code)) {
    throw new ProtocolError("SJ_ERR_INVALID_CLOSE_CODE", `invalid close code ${code} (RFC 6455 §7.4)`);
  }
  const reasonBytes = payload.subarray(2);
  // §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails the connection with 1007.
  if (!isValidUtf8(reasonBytes)) {
    throw new ProtocolError("SJ_ERR_INVALID_UTF8", "invalid UTF-8 in close reason", CloseCode.InvalidPayload);
  }
  return { code, reason: reasonBytes.toString("utf8") };
}

/** Builds a Close frame payload; code 1005 (no status) means an empty body. */
export function encodeClosePayload(code: number, reason: string | Buffer = ""): Buffer {
  if (code === CloseCode.NoStatus) return Buffer.alloc(0);
  const reasonBytes = typeof reason === "string" ? Buffer.from(reason, "utf8") : reason;
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}

/**
 * `text` cut to the 123 bytes of UTF-8 a Close frame's reason may hold (RFC 6455 §5.5: a control frame's
 * payload is at most 125 bytes, 2 of them the code), on a character boundary so it stays valid UTF-8 (§5.5.1).
 */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text, "utf8") <= MAX_CLOSE_REASON_BYTES) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, "utf8");
    if (bytes + size > MAX_CLOSE_REASON_BYTES) break;
    out += char;
    bytes += size;
  }
  return out;
}

export const MAX_CLOSE_REASON_BYTES = 123;
