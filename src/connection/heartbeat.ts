// The client's heartbeat (Node-only, off by default): while nothing arrives from the peer for intervalMs, send
// a Ping (RFC 6455 §5.5.2: the peer must answer with a Pong "as soon as practical"); if nothing at all — the
// Pong or any other byte — arrives within timeoutMs after it, the peer is gone or frozen and the connection
// is dropped (1006). One timer per connection, re-armed only at its own deadlines: a read costs one store.

import { MAX_TIMER_MS } from "./max-timer.js";

/** The `heartbeat` option: `true` for the defaults, or either time. */
export interface HeartbeatOptions {
  /** Silence from the peer, in ms, after which a Ping is sent. Default 30000. */
  intervalMs?: number;
  /** Time, in ms, allowed after the Ping for the Pong (or any frame) to arrive. Default 10000. */
  timeoutMs?: number;
}

export interface ResolvedHeartbeat {
  intervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;

function checkedMs(value: unknown, name: string, fallback: number, path: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new TypeError(`${path}.${name} must be a number of ms from 1 to ${MAX_TIMER_MS}`);
  }
  return value;
}

/**
 * Checks the `heartbeat` option (at construction, so a mistake throws where it was made; `path` names it in
 * messages). Null: off.
 */
export function resolveHeartbeat(option: unknown, path = "options.heartbeat"): ResolvedHeartbeat | null {
  if (option === undefined || option === false || option === null) return null;
  if (option === true) {
    return { intervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS, timeoutMs: DEFAULT_HEARTBEAT_TIMEOUT_MS };
  }
  if (typeof option !== "object") {
    throw new TypeError(`${path} must be a boolean or { intervalMs, timeoutMs }`);
  }
  const { intervalMs, timeoutMs } = option as HeartbeatOptions;
  return {
    intervalMs: checkedMs(intervalMs, "intervalMs", DEFAULT_HEARTBEAT_INTERVAL_MS, path),
    timeoutMs: checkedMs(timeoutMs, "timeoutMs", DEFAULT_HEARTBEAT_TIMEOUT_MS, path),
  };
}

/** The connection as the heartbeat sees it. */
export interface HeartbeatHost {
  /** Sends a Ping; false when the closing handshake has started (the close timer takes over). */
  ping(): boolean;
  /** We stopped reading the peer (backpressure): its silence proves nothing. */
  readonly inputPaused: boolean;
  /** Nothing arrived within timeoutMs of a Ping: drop the connection. */
  lost(timeoutMs: number): void;
}

export class Heartbeat {
  private readonly host: HeartbeatHost;
  private readonly options: ResolvedHeartbeat;
  private timer: NodeJS.Timeout | null = null;
  /** Something arrived since the timer was last armed. */
  private inputSeen = false;
  /** A Ping is out and the timer is its deadline. */
  private awaitingAnswer = false;

  constructor(host: HeartbeatHost, options: ResolvedHeartbeat) {
    this.host = host;
    this.options = options;
    this.arm(options.intervalMs);
  }

  /** Called on every read. */
  seen(): void {
    this.inputSeen = true;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.onTimer(), ms);
    // An open socket keeps the process alive by itself; the heartbeat must not.
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    const heard = this.inputSeen || this.host.inputPaused;
    this.inputSeen = false;
    if (this.awaitingAnswer) {
      this.awaitingAnswer = false;
      if (!heard) {
        this.host.lost(this.options.timeoutMs);
        return;
      }
      this.arm(this.options.intervalMs);
      return;
    }
    if (heard) {
      // Not idle: the peer spoke during the interval, so no Ping is needed yet.
      this.arm(this.options.intervalMs);
      return;
    }
    if (!this.host.ping()) return;
    this.awaitingAnswer = true;
    this.arm(this.options.timeoutMs);
  }
}
