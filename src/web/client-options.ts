import { MAX_TIMER_MS } from "../connection/max-timer.js";
import { isValidHeaderValue } from "../protocol/header-grammar.js";
import type { WebSocketOptions } from "./websocket-options.js";
import { rejectWsOptionNames } from "./ws-option-names.js";

// The checks of the Node-only third constructor argument, as the server checks its own: a wrong value is a
// TypeError naming the option at construction, not a limit that silently does something else later.

/** Limits that must be numbers ≥ 0. */
const NON_NEGATIVE = ["maxFragmentsPerMessage", "handshakeTimeoutMs", "closeTimeoutMs"] as const;

export function validateClientOptions(options: unknown): WebSocketOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object") throw new TypeError("options must be an object");
  rejectWsOptionNames(options, "client");
  const opts = options as WebSocketOptions;
  checkMaxPayloadBytes(opts.maxPayloadBytes);
  // Node's maxHeaderSize: a whole number of bytes; 0 would refuse every response.
  const headerBytes = opts.maxHeaderBytes;
  if (headerBytes !== undefined && !(Number.isSafeInteger(headerBytes) && headerBytes >= 1)) {
    throw new TypeError(`options.maxHeaderBytes must be a whole number ≥ 1, not ${describe(headerBytes)}`);
  }
  for (const key of NON_NEGATIVE) {
    const value = opts[key];
    if (value !== undefined && !(typeof value === "number" && value >= 0)) {
      throw new TypeError(`options.${key} must be a non-negative number, not ${describe(value)}`);
    }
    // ws reads a handshakeTimeout of 0 as "none"; here it would fail every connection at once (review 132).
    if (key === "handshakeTimeoutMs" && value === 0) {
      throw new TypeError(
        "options.handshakeTimeoutMs must be above 0 (0 would fail every handshake at once; the default is 30000)",
      );
    }
    // Node's timers take at most 2^31 - 1 ms: a longer one fires after 1 ms (TimeoutOverflowWarning).
    if (key.endsWith("Ms") && value !== undefined && value > MAX_TIMER_MS) {
      throw new TypeError(
        `options.${key} must be at most ${MAX_TIMER_MS} ms (Node's timers), not ${describe(value)}`,
      );
    }
  }
  // The Origin header's value: a header value, not Node's raw "Invalid character in header content".
  const origin = opts.origin;
  if (origin !== undefined && (typeof origin !== "string" || !isValidHeaderValue(origin))) {
    throw new TypeError(
      `options.origin must be a header value such as https://app.example (no CR, LF or NUL), not ${describe(origin)}`,
    );
  }
  const deflate = opts.perMessageDeflate;
  if (
    deflate !== undefined &&
    typeof deflate !== "boolean" &&
    (deflate === null || typeof deflate !== "object")
  ) {
    throw new TypeError(
      `options.perMessageDeflate must be a boolean or an options object, not ${describe(deflate)}`,
    );
  }
  return opts;
}

/**
 * maxPayloadBytes, on both sides: a number ≥ 1. 0 is refused rather than taken as "no limit" (ws's meaning
 * of maxPayload 0) or as "refuse every non-empty message" (what the limit would do): use Infinity for none.
 */
export function checkMaxPayloadBytes(value: unknown): void {
  if (value !== undefined && !(typeof value === "number" && value >= 1)) {
    throw new TypeError(
      `options.maxPayloadBytes must be a number ≥ 1 (Infinity for no limit), not ${describe(value)}`,
    );
  }
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
