import { isIP } from "node:net";
import { validateExtraHeaders } from "../client/connect.js";
import { resolveProxy } from "../client/proxy.js";
import { resolveHeartbeat } from "../connection/heartbeat.js";
import { MAX_TIMER_MS } from "../connection/max-timer.js";
import { isValidHeaderValue } from "../protocol/header-grammar.js";
import type { WebSocketOptions } from "./websocket-options.js";
import { rejectWsOptionNames } from "./ws-option-names.js";

// The checks of the Node-only third constructor argument, as the server checks its own: a wrong value is a
// TypeError naming the option at construction, not a limit that silently does something else later.

/** Options that are true or false. */
const BOOLEANS = ["proxyFromEnvironment", "rejectUnauthorized"] as const;

/** Limits that must be numbers ≥ 0. */
const NON_NEGATIVE = ["maxFragmentsPerMessage", "handshakeTimeoutMs", "closeTimeoutMs"] as const;

/**
 * The WebSocket constructor's checks of its options; `path` is how messages name the object ("options", or
 * "options.webSocket" for the options ReconnectingWebSocket passes on).
 */
export function validateClientOptions(options: unknown, path = "options"): WebSocketOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object") throw new TypeError(`${path} must be an object`);
  rejectWsOptionNames(options, "client", path);
  const opts = options as WebSocketOptions;
  checkMaxPayloadBytes(opts.maxPayloadBytes, path);
  // Node's maxHeaderSize: a whole number of bytes; 0 would refuse every response.
  const headerBytes = opts.maxHeaderBytes;
  if (headerBytes !== undefined && !(Number.isSafeInteger(headerBytes) && headerBytes >= 1)) {
    throw new TypeError(`${path}.maxHeaderBytes must be a whole number ≥ 1, not ${describe(headerBytes)}`);
  }
  for (const key of NON_NEGATIVE) {
    const value = opts[key];
    if (value !== undefined && !(typeof value === "number" && value >= 0)) {
      throw new TypeError(`${path}.${key} must be a non-negative number, not ${describe(value)}`);
    }
    if (key === "maxFragmentsPerMessage" && value !== undefined && !isCount(value)) {
      throw new TypeError(
        `${path}.${key} must be a whole number (Infinity for no limit), not ${describe(value)}`,
      );
    }
    // ws reads a handshakeTimeout of 0 as "none"; here it would fail every connection at once (review 132).
    if (key === "handshakeTimeoutMs" && value === 0) {
      throw new TypeError(
        `${path}.handshakeTimeoutMs must be above 0 (0 would fail every handshake at once; the default is 30000)`,
      );
    }
    // Node's timers take at most 2^31 - 1 ms: a longer one fires after 1 ms (TimeoutOverflowWarning).
    if (key.endsWith("Ms") && value !== undefined && value > MAX_TIMER_MS) {
      throw new TypeError(
        `${path}.${key} must be at most ${MAX_TIMER_MS} ms (Node's timers), not ${describe(value)}`,
      );
    }
  }
  // The Origin header's value: a header value, not Node's raw "Invalid character in header content".
  const origin = opts.origin;
  if (origin !== undefined && (typeof origin !== "string" || !isValidHeaderValue(origin))) {
    throw new TypeError(
      `${path}.origin must be a header value such as https://app.example (no CR, LF or NUL), not ${describe(origin)}`,
    );
  }
  // Flags are booleans, as on the server and in perMessageDeflate: "yes" or 1 would otherwise be taken as
  // false (proxyFromEnvironment counts only true) or as true (Node's rejectUnauthorized counts all but false).
  for (const key of BOOLEANS) {
    const value = opts[key];
    if (value !== undefined && typeof value !== "boolean") {
      throw new TypeError(`${path}.${key} must be a boolean, not ${describe(value)}`);
    }
  }
  checkLocalEnd(opts, path);
  const mode = opts.http2;
  if (mode !== undefined && mode !== "auto" && mode !== "never" && mode !== "always") {
    throw new TypeError(`${path}.http2 must be "auto", "never" or "always", not ${describe(mode)}`);
  }
  const deflate = opts.perMessageDeflate;
  if (
    deflate !== undefined &&
    typeof deflate !== "boolean" &&
    (deflate === null || typeof deflate !== "object")
  ) {
    throw new TypeError(
      `${path}.perMessageDeflate must be a boolean or an options object, not ${describe(deflate)}`,
    );
  }
  return opts;
}

/**
 * Every check the WebSocket constructor makes of its options before it connects, naming them under `path`:
 * for options another constructor passes to the WebSockets it opens (ReconnectingWebSocket's `webSocket`), so
 * that a mistake names the place it was made ("options.webSocket.maxPayload", not "options.maxPayload").
 * perMessageDeflate's own members are named from "perMessageDeflate" (permessage-deflate/options.ts).
 */
export function checkWebSocketOptions(options: unknown, path: string): void {
  const opts = validateClientOptions(options, path);
  validateExtraHeaders(opts.headers, `${path}.headers`);
  resolveHeartbeat(opts.heartbeat, `${path}.heartbeat`);
  if (opts.proxy !== undefined && opts.proxy !== null) resolveProxy(opts.proxy, `${path}.proxy`, {});
}

/** localAddress, family and lookup: what net.connect takes, checked here so that the TypeError names them. */
function checkLocalEnd(opts: WebSocketOptions, path: string): void {
  const { localAddress, family, lookup } = opts;
  if (localAddress !== undefined && (typeof localAddress !== "string" || isIP(localAddress) === 0)) {
    throw new TypeError(
      `${path}.localAddress must be an IP address of this host, such as "127.0.0.2" or "::1", not ${describe(localAddress)}`,
    );
  }
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) {
    throw new TypeError(`${path}.family must be 4, 6 or 0 (either), not ${describe(family)}`);
  }
  if (lookup !== undefined && typeof lookup !== "function") {
    throw new TypeError(`${path}.lookup must be a function (as dns.lookup), not ${describe(lookup)}`);
  }
}

/**
 * maxPayloadBytes, on both sides: a number ≥ 1. 0 is refused rather than taken as "no limit" (ws's meaning
 * of maxPayload 0) or as "refuse every non-empty message" (what the limit would do): use Infinity for none.
 */
export function checkMaxPayloadBytes(value: unknown, path = "options"): void {
  if (value !== undefined && !(isCount(value) && value >= 1)) {
    throw new TypeError(
      `${path}.maxPayloadBytes must be a whole number ≥ 1 (Infinity for no limit), not ${describe(value)}`,
    );
  }
}

/** A limit that counts something: a whole number, or Infinity for none (2.5 was taken as "limit 2.5"). */
function isCount(value: unknown): value is number {
  return typeof value === "number" && (Number.isInteger(value) || value === Number.POSITIVE_INFINITY);
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
