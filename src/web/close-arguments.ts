import { MAX_CLOSE_REASON_BYTES } from "../protocol/constants.js";
import { toClampedUnsignedShort, toUSVString } from "./webidl.js";

// The close(code, reason) method's argument conversion (WebIDL) and checks, steps 1 and 2: apart from the
// closing itself, which is the WebSocket's state.

/**
 * The codes a server's socket may close with besides 1000 and 3000–4999: those RFC 6455 §7.4.1 and the IANA
 * registry (§11.7) define for an endpoint to send — going away, protocol error, unacceptable data,
 * inconsistent data, policy, too big, internal error, service restart, try again later, bad gateway — but
 * not 1010, which a client sends, nor 1004–1006 and 1015, never sent. The WHATWG standard's client may not
 * send them (a page must not pass for the browser); it says nothing of servers, whose code sends them as with
 * ws (1008 for a policy, 1011 for a failure, 1013 to shed load).
 */
const SERVER_CODES = new Set([1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013, 1014]);

/** Whether a server's socket may close with `code` beside 1000 and 3000–4999 (SERVER_CODES). */
export function isServerCloseCode(code: number): boolean {
  return SERVER_CODES.has(code);
}

/** The InvalidAccessError of a code a server's socket may not close with. */
export function serverCodeError(context: string, code: number): DOMException {
  return new DOMException(
    `${context}: A server's socket closes with 1000–1003, 1007–1009, 1011–1014 or 3000–4999 (RFC 6455 §7.4). ${code} is none of them.`,
    "InvalidAccessError",
  );
}

/**
 * §"The close(code, reason) method", steps 1–2: the converted code (null if absent) and reason. `accepted`:
 * a server's socket, which may also send SERVER_CODES. `owner`: the interface the errors name.
 */
export function closeArguments(
  code: unknown,
  reason: unknown,
  accepted = false,
  owner = "WebSocket",
): { status: number | null; reasonText: string } {
  // WebIDL converts both arguments ([Clamp] unsigned short, USVString) before the method's steps run, so a
  // reason whose toString() throws throws even when the code is invalid.
  const status = code === undefined ? null : toClampedUnsignedShort(code);
  const reasonText = reason === undefined ? "" : toUSVString(reason);
  // 1. code present and neither 1000 nor 3000–4999 → InvalidAccessError.
  if (status !== null && status !== 1000 && (status < 3000 || status > 4999)) {
    if (!accepted) {
      throw new DOMException(
        `Failed to execute 'close' on '${owner}': The close code must be either 1000, or between 3000 and 4999. ${status} is neither.`,
        "InvalidAccessError",
      );
    }
    if (!SERVER_CODES.has(status)) throw serverCodeError(`Failed to execute 'close' on '${owner}'`, status);
  }
  // 2. reason longer than 123 bytes of UTF-8 → SyntaxError.
  if (Buffer.byteLength(reasonText) > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(
      `Failed to execute 'close' on '${owner}': The close reason must not be greater than 123 UTF-8 bytes.`,
      "SyntaxError",
    );
  }
  return { status, reasonText };
}
