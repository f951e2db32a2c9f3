import { MAX_CLOSE_REASON_BYTES } from "../protocol/constants.js";
import { isServerCloseCode, serverCodeError } from "./close-arguments.js";
import { toDictionary, toDOMString, toUSVString } from "./webidl.js";

// WebSocketError and the close-info validation it shares with WebSocketStream.close(): the WebSockets
// Standard's WebSocketStream draft (whatwg/websockets PR #48, as Chromium ships it).
//
// dictionary WebSocketCloseInfo { [EnforceRange] unsigned short closeCode; USVString reason = ""; };

/** A close code and reason, as `WebSocketStream.close()` and `WebSocketError` take them. */
export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/** A close code and reason checked as the draft's "validate close code and reason" does; code null = none. */
export interface ValidCloseInfo {
  closeCode: number | null;
  reason: string;
}

/** WebIDL §3.2.4 unsigned short with [EnforceRange]: NaN, ±Infinity or out of 0–65535 → TypeError. */
function toEnforcedUnsignedShort(value: unknown, name: string): number {
  if (typeof value === "symbol" || typeof value === "bigint") {
    throw new TypeError(`${name}: cannot convert the value to a number`);
  }
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`${name}: ${n} is not a finite number`);
  const int = Math.trunc(n);
  if (int < 0 || int > 65535) throw new TypeError(`${name}: ${int} is outside the range 0–65535`);
  return int;
}

/** Converts a WebSocketCloseInfo dictionary (WebIDL §3.2.17) and validates it. */
export function toValidCloseInfo(value: unknown, context: string, accepted = false): ValidCloseInfo {
  const init = toDictionary(value, `${context}: the close info`);
  // Dictionary members are read in lexicographic order (WebIDL §3.2.17): closeCode, then reason.
  const rawCode = init.closeCode;
  const closeCode = rawCode === undefined ? null : toEnforcedUnsignedShort(rawCode, `${context}: closeCode`);
  const rawReason = init.reason;
  const reason = rawReason === undefined ? "" : toUSVString(rawReason);
  return validateCloseCodeAndReason(closeCode, reason, context, accepted);
}

/**
 * The draft's "validate close code and reason". `accepted`: the stream of a server's socket, which may also
 * close with the codes servers send (close-arguments.ts).
 */
export function validateCloseCodeAndReason(
  closeCode: number | null,
  reason: string,
  context: string,
  accepted = false,
): ValidCloseInfo {
  // 1. A code that is neither 1000 nor in 3000–4999 → InvalidAccessError.
  if (closeCode !== null && closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
    if (accepted) {
      if (!isServerCloseCode(closeCode)) throw serverCodeError(context, closeCode);
    } else
      throw new DOMException(
        `${context}: the close code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
        "InvalidAccessError",
      );
  }
  // 2. A reason longer than 123 bytes of UTF-8 → SyntaxError.
  if (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new DOMException(
      `${context}: the close reason must not be greater than ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes.`,
      "SyntaxError",
    );
  }
  // 3. A reason without a code is sent with 1000.
  return { closeCode: closeCode === null && reason !== "" ? 1000 : closeCode, reason };
}

let closeInfoOf: (value: unknown) => ValidCloseInfo;
/** Set for the one constructor call of webSocketErrorFor(): a code the user could not pass (1006, 1011…). */
let unchecked: ValidCloseInfo | null = null;

/**
 * The error of a WebSocketStream whose connection did not close cleanly (its `closed` rejects with one),
 * and what an application passes to `writable.abort()` / `readable.cancel()` to close with a code.
 */
export class WebSocketError extends DOMException {
  readonly #closeCode: number | null;
  readonly #reason: string;

  constructor(message: string = "", init: WebSocketCloseInfo = {}) {
    const given = unchecked;
    unchecked = null;
    const text = toDOMString(message);
    const info = given ?? toValidCloseInfo(init, "Failed to construct 'WebSocketError'");
    super(text, "WebSocketError");
    this.#closeCode = info.closeCode;
    this.#reason = info.reason;
  }

  /** The close code, or null when none was given. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  get reason(): string {
    return this.#reason;
  }

  static {
    closeInfoOf = (value) =>
      typeof value === "object" && value !== null && #closeCode in value
        ? { closeCode: value.#closeCode, reason: value.#reason }
        : { closeCode: null, reason: "" };
  }
}

/**
 * The close code and reason an abort() or cancel() reason asks for: only a WebSocketError carries them; any
 * other value (a DOMException with such properties included) closes with no code (WPT close.any.js).
 */
export function closeInfoOfReason(reason: unknown): ValidCloseInfo {
  return closeInfoOf(reason);
}

/** A WebSocketError reporting a close: any code (1006 for a drop), not only those a user may send. */
export function webSocketErrorFor(message: string, closeCode: number, reason: string): WebSocketError {
  unchecked = { closeCode, reason };
  try {
    return new WebSocketError(message);
  } finally {
    unchecked = null;
  }
}

Object.defineProperty(WebSocketError.prototype, Symbol.toStringTag, {
  value: "WebSocketError",
  configurable: true,
});
for (const name of ["closeCode", "reason"]) {
  Object.defineProperty(WebSocketError.prototype, name, { enumerable: true });
}
