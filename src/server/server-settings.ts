import type { ConnectionOptions } from "../connection/connection-options.js";
import { MAX_TIMER_MS } from "../connection/max-timer.js";
import type { ResolvedRateLimit } from "../connection/rate-limit.js";
import { CloseCode } from "../protocol/constants.js";
import { SERVER_DEFAULTS, type WebSocketServerOptions } from "./options.js";

// A server's numeric and slow-consumer settings, checked once against their defaults, and the options its
// connections share: plain data, apart from the server's handshake and lifecycle.

export type Settings = Required<Pick<WebSocketServerOptions, keyof typeof SERVER_DEFAULTS>>;

/**
 * Limits that count something (bytes, header fields, connections, frames): whole numbers, or Infinity for no
 * limit. A fraction was taken as it was ("limit 2.5"; a newcomer's review).
 */
const COUNTS: ReadonlySet<keyof Settings> = new Set([
  "maxPayloadBytes",
  "maxFragmentsPerMessage",
  "maxHeaderBytes",
  "maxHeaderCount",
  "maxConnections",
  "maxConnectionsPerIp",
  "maxBufferedBytes",
] as const);

/**
 * Settings where 0 would refuse every connection: a verify hook timed out at once, every upgrade over the
 * limit, every request's head or fields too many (431 "limit 0"). 0 is "off" for pingIntervalMs,
 * idleTimeoutMs and maxConnectionsPerIp. Refused (review 132, a newcomer's review).
 */
const ABOVE_ZERO: ReadonlySet<keyof Settings> = new Set([
  "handshakeTimeoutMs",
  "maxConnections",
  "maxHeaderBytes",
  "maxHeaderCount",
] as const);

function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** The settings of `options` over SERVER_DEFAULTS; a wrong value is a TypeError naming the option. */
export function resolveSettings(options: WebSocketServerOptions): Settings {
  const settings = { ...SERVER_DEFAULTS } as Settings;
  for (const key of Object.keys(SERVER_DEFAULTS) as (keyof Settings)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (key === "slowConsumer") {
      if (value !== "close" && value !== "pause")
        throw new TypeError("options.slowConsumer must be 'close' or 'pause'");
    } else if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
      throw new TypeError(`options.${key} must be a non-negative number (got ${shown(value)})`);
    } else if (value === 0 && ABOVE_ZERO.has(key)) {
      throw new TypeError(
        `options.${key} must be above 0 (0 would refuse every connection; the default is ${SERVER_DEFAULTS[key]})`,
      );
    } else if (COUNTS.has(key) && !Number.isInteger(value) && value !== Number.POSITIVE_INFINITY) {
      throw new TypeError(`options.${key} must be a whole number (Infinity for no limit; got ${value})`);
    } else if (key.endsWith("Ms") && value > MAX_TIMER_MS) {
      // Node's timers take at most 2^31 - 1 ms: a longer one fires after 1 ms (TimeoutOverflowWarning).
      throw new TypeError(`options.${key} must be at most ${MAX_TIMER_MS} ms (Node's timers)`);
    }
    (settings as Record<string, unknown>)[key] = value;
  }
  return settings;
}

/**
 * The options of a new connection: the Connection keeps the object it is given, so all of them share one
 * (issue 17); a negotiated extension is given to each beside it.
 */
export function serverConnectionOptions(
  settings: Settings,
  rateLimit: ResolvedRateLimit | null,
  resume: boolean,
): ConnectionOptions {
  return {
    role: "server",
    maxPayloadBytes: settings.maxPayloadBytes,
    maxFragmentsPerMessage: settings.maxFragmentsPerMessage,
    extension: null,
    closeTimeoutMs: settings.closeTimeoutMs,
    maxBufferedBytes: settings.maxBufferedBytes,
    slowConsumer: settings.slowConsumer,
    // docs/resume.md: a lagging resume connection is to come back and resume, not stop (1008 would).
    ...(resume ? { slowConsumerCloseCode: CloseCode.TryAgainLater } : {}),
    rateLimit,
  };
}
