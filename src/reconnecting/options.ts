import { MAX_TIMER_MS } from "../connection/max-timer.js";
import type { WebSocket, WebSocketOptions } from "../index.js";
import { checkWebSocketOptions } from "../web/client-options.js";
import { optionsGoThird } from "../web/constructor-arguments.js";
import { checkQueueOptions, type SendQueueOptions } from "./send-queue.js";

// The ReconnectingWebSocket's options, their defaults in one place, checked at construction.

/** The second argument of the `onOpen` hook: which connection this is. */
export interface OpenInfo {
  /** False for the first connection, true for every reconnection. */
  reconnect: boolean;
  /** Failed attempts before this connection since the last stable one (0 for a first try). */
  attempt: number;
}

/**
 * Options of `new ReconnectingWebSocket(url, protocols, options)`: backoff, when to stop, queue, hook. The
 * reconnecting-websocket package's names (`maxRetries`, `minUptime`…), ResumableWebSocket's and Socket.IO's,
 * and the WebSocket's own options given here instead of in `webSocket`, throw a TypeError naming the option
 * to use.
 */
export interface ReconnectingWebSocketOptions {
  /** Node-only options for every WebSocket it opens (headers, TLS, heartbeat…). */
  webSocket?: WebSocketOptions;
  /** Ceiling of the first retry's random delay, doubled for each further one. Default 1000. */
  initialDelayMs?: number;
  /** Largest ceiling of a retry's delay. Default 30000. */
  maxDelayMs?: number;
  /** Retries after which it gives up (the final `close`). Default Infinity. */
  maxAttempts?: number;
  /** A connection open this long counts as stable: the next drop starts the backoff over. Default 5000. */
  stableAfterMs?: number;
  /** Close codes from the server that mean "do not come back": no retry. Default [1000, 1008]. */
  stopCloseCodes?: Iterable<number>;
  /** HTTP statuses refusing the opening handshake that mean the same. Default [401, 403]. */
  stopStatuses?: Iterable<number>;
  /** Keep sends made while disconnected (bounded) and send them on the next open. Default: none (send() throws). */
  queue?: SendQueueOptions;
  /**
   * Runs on each connection before it counts as open (resubscribe, authenticate): the `open` event, and the
   * queued sends, wait for its promise. A hook that throws or rejects fails that connection (an `error`
   * event with its error; the next attempt follows).
   */
  onOpen?: (webSocket: WebSocket, info: OpenInfo) => void | Promise<void>;
  /** The random source of the jitter, [0, 1). Default Math.random. */
  random?: () => number;
}

export interface ResolvedOptions {
  webSocket: WebSocketOptions | undefined;
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  stableAfterMs: number;
  stopCloseCodes: ReadonlySet<number>;
  stopStatuses: ReadonlySet<number>;
  queue: SendQueueOptions | null;
  onOpen: NonNullable<ReconnectingWebSocketOptions["onOpen"]> | null;
  random: () => number;
}

function nonNegative(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new TypeError(`options.${name} must be a number ≥ 0`);
  }
  return value;
}

/** A number of attempts: an integer ≥ 0, or Infinity (no limit); 1.5 attempts means nothing. */
function attemptCount(value: number | undefined, name: string): number {
  const count = nonNegative(value, name, Number.POSITIVE_INFINITY);
  if (!Number.isInteger(count) && count !== Number.POSITIVE_INFINITY) {
    throw new TypeError(`options.${name} must be a whole number ≥ 0, or Infinity`);
  }
  return count;
}

/** stopCloseCodes / stopStatuses: an iterable of numbers, else a TypeError that names the option. */
function numberSet(value: Iterable<number> | undefined, name: string, fallback: number[]): Set<number> {
  if (value === undefined) return new Set(fallback);
  // A string is iterable too, by character: "1000" would be a set of digits that match no code.
  if (value === null || typeof value !== "object" || typeof value[Symbol.iterator] !== "function") {
    const got =
      value === null ? "null" : typeof value === "object" ? "an object that is not iterable" : typeof value;
    throw new TypeError(`options.${name} must be an iterable of numbers (an array); got ${got}`);
  }
  const set = new Set<number>();
  for (const item of value) {
    if (typeof item !== "number") {
      throw new TypeError(`options.${name} must hold numbers (${typeof item} found)`);
    }
    set.add(item);
  }
  return set;
}

const RWS_PACKAGE = "the reconnecting-websocket package's name";
const IN_WEBSOCKET = "an option of the WebSocket: pass it in webSocket ({ webSocket: { … } })";

/**
 * Other clients' names for options this class names otherwise (the reconnecting-websocket package's, which
 * people move from; ResumableWebSocket's; Socket.IO's), and the WebSocket's own options given at the top
 * level: a TypeError that says where they go, not ignored (`maxRetries: 1` retried without end).
 */
const OTHER_NAMES: Record<string, string> = {
  maxRetries: `${RWS_PACKAGE} (and ResumableWebSocket's): use maxAttempts`,
  maxReconnectionDelay: `${RWS_PACKAGE}: use maxDelayMs`,
  minReconnectionDelay: `${RWS_PACKAGE}: use initialDelayMs (the ceiling of the first retry's random delay)`,
  reconnectionDelayGrowFactor: `${RWS_PACKAGE}: the delay's ceiling doubles with each retry, from initialDelayMs up to maxDelayMs`,
  minUptime: `${RWS_PACKAGE}: use stableAfterMs`,
  connectionTimeout: `${RWS_PACKAGE}: use handshakeTimeoutMs in webSocket ({ webSocket: { handshakeTimeoutMs } })`,
  maxEnqueuedMessages: `${RWS_PACKAGE}: use queue ({ queue: { maxMessages } }; without it send() throws while disconnected)`,
  startClosed: `${RWS_PACKAGE}: there is none; construct the ReconnectingWebSocket when it should connect`,
  debug: `${RWS_PACKAGE}: there is none; listen to its events (reconnecting, error, close)`,
  WebSocket: `${RWS_PACKAGE}: there is none; it always opens sockjet's WebSocket`,
  webSocketOptions: "ResumableWebSocket's name: use webSocket",
  maxQueuedMessages: "ResumableWebSocket's name: use queue ({ queue: { maxMessages } })",
  reconnectionAttempts: "Socket.IO's name: use maxAttempts",
  reconnectionDelay: "Socket.IO's name: use initialDelayMs",
  reconnectionDelayMax: "Socket.IO's name: use maxDelayMs",
  protocols: "the constructor's second argument: new ReconnectingWebSocket(url, protocols, options)",
  binaryType: 'a property: set socket.binaryType (e.g. "arraybuffer") after construction',
  // WebSocketOptions (src/web/websocket-options.ts), every one.
  headers: IN_WEBSOCKET,
  origin: IN_WEBSOCKET,
  baseURL: IN_WEBSOCKET,
  ca: IN_WEBSOCKET,
  cert: IN_WEBSOCKET,
  key: IN_WEBSOCKET,
  rejectUnauthorized: IN_WEBSOCKET,
  servername: IN_WEBSOCKET,
  maxPayloadBytes: IN_WEBSOCKET,
  maxFragmentsPerMessage: IN_WEBSOCKET,
  handshakeTimeoutMs: IN_WEBSOCKET,
  closeTimeoutMs: IN_WEBSOCKET,
  heartbeat: IN_WEBSOCKET,
  maxHeaderBytes: IN_WEBSOCKET,
  extension: IN_WEBSOCKET,
  perMessageDeflate: IN_WEBSOCKET,
  http2: IN_WEBSOCKET,
  proxy: IN_WEBSOCKET,
  proxyFromEnvironment: IN_WEBSOCKET,
  localAddress: IN_WEBSOCKET,
  family: IN_WEBSOCKET,
  lookup: IN_WEBSOCKET,
};

/**
 * The constructor's second argument given the options, as ws and this class's third argument take them: an
 * object that is no sequence reads as the subprotocol "[object Object]" (WebIDL), and the WebSocket's
 * SyntaxError would point to "new WebSocket(url, protocols, options)". Thrown here with this constructor's
 * name; anything else is converted and checked by the first WebSocket, as always.
 */
function checkProtocolsArgument(protocols: unknown): void {
  if (
    typeof protocols !== "object" ||
    protocols === null ||
    typeof (protocols as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function" ||
    (protocols as { toString?: unknown }).toString !== Object.prototype.toString ||
    Symbol.toPrimitive in protocols
  )
    return;
  throw new DOMException(
    `The subprotocol '[object Object]' is invalid.${optionsGoThird("ReconnectingWebSocket")}`,
    "SyntaxError",
  );
}

/**
 * Checks the constructor's options (as the WebSocket's: undefined and null are none, another non-object a
 * TypeError) and applies the defaults; then that `protocols` is not the options (checkProtocolsArgument). The
 * `webSocket` options get every check of the WebSocket constructor here, so that a mistake is named where it
 * was made: "options.webSocket.maxPayload" (the first WebSocket would have said "options.maxPayload").
 */
export function resolveOptions(given: unknown, protocols?: unknown): ResolvedOptions {
  if (given !== undefined && given !== null && typeof given !== "object") {
    throw new TypeError("options must be an object");
  }
  const options = (given ?? {}) as ReconnectingWebSocketOptions;
  for (const [name, hint] of Object.entries(OTHER_NAMES)) {
    if ((options as Record<string, unknown>)[name] !== undefined)
      throw new TypeError(`ReconnectingWebSocket: options.${name} is ${hint}`);
  }
  if (options.webSocket !== undefined) checkWebSocketOptions(options.webSocket, "options.webSocket");
  if (options.queue !== undefined) checkQueueOptions(options.queue);
  if (options.onOpen !== undefined && typeof options.onOpen !== "function") {
    throw new TypeError("options.onOpen must be a function");
  }
  if (options.random !== undefined && typeof options.random !== "function") {
    throw new TypeError("options.random must be a function");
  }
  const initialDelayMs = nonNegative(options.initialDelayMs, "initialDelayMs", 1000);
  const resolved: ResolvedOptions = {
    webSocket: options.webSocket,
    initialDelayMs,
    maxDelayMs: Math.min(nonNegative(options.maxDelayMs, "maxDelayMs", 30_000), MAX_TIMER_MS),
    maxAttempts: attemptCount(options.maxAttempts, "maxAttempts"),
    stableAfterMs: nonNegative(options.stableAfterMs, "stableAfterMs", 5000),
    stopCloseCodes: numberSet(options.stopCloseCodes, "stopCloseCodes", [1000, 1008]),
    stopStatuses: numberSet(options.stopStatuses, "stopStatuses", [401, 403]),
    queue: options.queue ?? null,
    onOpen: options.onOpen ?? null,
    random: options.random ?? Math.random,
  };
  checkProtocolsArgument(protocols);
  return resolved;
}
