import { type FrameGate, FrameVerdict } from "../protocol/frame-gate.js";
import { TokenBucket } from "./token-bucket.js";

// Per-connection rate limits on what the peer sends: frames per second and payload bytes per second, each a
// token bucket (a steady rate, bursts up to the bucket's size). Frames are counted from their headers as the
// parser meets them (Protocol asks this gate), so pings, pongs, empty frames and fragments all count, and a
// flood is refused or slowed before any payload is read or any message is built. A compressed message is
// charged again once inflated, for what inflating added: the byte rate bounds the peer's decompression bombs.
//
// Past a limit the connection is either failed with 1008 and a reason ("close"), or its input is held:
// the frame that emptied the bucket is read whole, then nothing more is parsed and the socket is paused
// (TCP slows the peer down) until a timer finds the buckets refilled ("pause").

/** The server's `rateLimit` option: per connection, token buckets on what the peer sends. */
export interface RateLimitOptions {
  /**
   * Frames per second the peer may send, every kind but Close: messages (a browser sends one frame per
   * message), fragments, pings, pongs, empty frames. Default: no limit.
   */
  framesPerSecond?: number;
  /** Frames the peer may send at once after a quiet spell (the bucket's size). Default: framesPerSecond. */
  frameBurst?: number;
  /**
   * Payload bytes per second: as on the wire, and what a compressed message inflates to beyond that (so it
   * bounds the work of permessage-deflate too). Default: no limit.
   */
  bytesPerSecond?: number;
  /**
   * Payload bytes the peer may send at once (the bucket's size). Default: bytesPerSecond. A single frame
   * larger than this is let through when the bucket is full, and the bucket goes into debt.
   */
  byteBurst?: number;
  /** Past a limit: fail the connection with 1008 and a reason ("close", default), or pause reading ("pause"). */
  onExceeded?: "close" | "pause";
}

/** Limits with every default filled in; an unlimited rate is Infinity. */
export interface ResolvedRateLimit {
  readonly framesPerSecond: number;
  readonly frameBurst: number;
  readonly bytesPerSecond: number;
  readonly byteBurst: number;
  readonly onExceeded: "close" | "pause";
}

/** Checks and completes a `rateLimit` option; null (or undefined) means no limit. Throws a TypeError. */
export function resolveRateLimit(option: unknown, name = "rateLimit"): ResolvedRateLimit | null {
  if (option === undefined || option === null) return null;
  if (typeof option !== "object") throw new TypeError(`options.${name} must be an object or null`);
  const o = option as RateLimitOptions;
  const rate = (key: keyof RateLimitOptions, fallback: number): number => {
    const value = o[key];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || Number.isNaN(value) || value <= 0)
      throw new TypeError(`options.${name}.${key} must be a positive number`);
    return value;
  };
  const framesPerSecond = rate("framesPerSecond", Number.POSITIVE_INFINITY);
  const bytesPerSecond = rate("bytesPerSecond", Number.POSITIVE_INFINITY);
  const frameBurst = rate("frameBurst", framesPerSecond);
  const byteBurst = rate("byteBurst", bytesPerSecond);
  if (frameBurst < 1) throw new TypeError(`options.${name}.frameBurst must be at least 1`);
  const onExceeded = o.onExceeded ?? "close";
  if (onExceeded !== "close" && onExceeded !== "pause")
    throw new TypeError(`options.${name}.onExceeded must be 'close' or 'pause'`);
  if (framesPerSecond === Number.POSITIVE_INFINITY && bytesPerSecond === Number.POSITIVE_INFINITY)
    return null;
  return { framesPerSecond, frameBurst, bytesPerSecond, byteBurst, onExceeded };
}

/** What the limiter asks of its connection while it holds the input. */
export interface RateLimitHost {
  /** Stop reading from the transport (the parser already stops after the current frame). */
  holdInput(): void;
  /** The buckets have refilled: parse what waits, and read from the transport again. */
  releaseInput(): void;
}

export class RateLimiter implements FrameGate {
  private readonly limits: ResolvedRateLimit;
  private readonly host: RateLimitHost;
  private readonly frames: TokenBucket | null;
  private readonly bytes: TokenBucket | null;
  private refilledAt = performance.now();
  /** The release timer, while the input is held. */
  private timer: NodeJS.Timeout | null = null;
  readonly refusal: string;

  constructor(limits: ResolvedRateLimit, host: RateLimitHost) {
    this.limits = limits;
    this.host = host;
    this.frames = Number.isFinite(limits.framesPerSecond)
      ? new TokenBucket(limits.framesPerSecond, limits.frameBurst)
      : null;
    this.bytes = Number.isFinite(limits.bytesPerSecond)
      ? new TokenBucket(limits.bytesPerSecond, limits.byteBurst)
      : null;
    this.refusal = refusalReason(limits);
  }

  /** True while the input is held, waiting for the buckets to refill. */
  get holding(): boolean {
    return this.timer !== null;
  }

  admit(payloadLength: number): FrameVerdict {
    // The buckets are refilled once per read (refill(), from the connection): the clock is read per frame
    // only when a frame does not fit, to credit the time since.
    if (!this.fits(payloadLength)) {
      this.refill();
      if (this.limits.onExceeded === "close" && !this.fits(payloadLength)) return FrameVerdict.refuse;
    }
    // "pause": the frame is read even if it does not fit (its header is in already), and the input waits
    // until the next one would.
    if (this.frames !== null) this.frames.level -= 1;
    if (this.bytes !== null) this.bytes.level -= payloadLength;
    if (this.limits.onExceeded === "close") return FrameVerdict.pass;
    const waitMs = this.waitMs();
    if (waitMs <= 0) return FrameVerdict.pass;
    this.hold(waitMs);
    return FrameVerdict.holdAfter;
  }

  /**
   * A compressed message of `wireBytes` inflated to `inflatedBytes`: what inflating added is charged to the
   * byte bucket, so bytesPerSecond bounds what the peer makes us inflate, not only what it sends (1 KiB that
   * inflates to 1 MiB costs 1 MiB). Past the limit as for a frame: "close" refuses (1008), "pause" holds the
   * input; a message larger than the burst passes when the bucket was full before its frames.
   */
  admitInflated(wireBytes: number, inflatedBytes: number): FrameVerdict {
    const extra = inflatedBytes - wireBytes;
    if (this.bytes === null || extra <= 0) return FrameVerdict.pass;
    const bytes = this.bytes;
    // As if the whole message had been charged at once, against the level before its frames.
    const fits = () => bytes.level + wireBytes >= Math.min(inflatedBytes, bytes.size);
    if (!fits()) {
      this.refill();
      if (this.limits.onExceeded === "close" && !fits()) return FrameVerdict.refuse;
    }
    bytes.level -= extra;
    if (this.limits.onExceeded === "close") return FrameVerdict.pass;
    const waitMs = this.waitMs();
    if (waitMs <= 0) return FrameVerdict.pass;
    this.hold(waitMs);
    return FrameVerdict.holdAfter;
  }

  /** Credits the time since the last refill; the connection calls it for every chunk it reads. */
  refill(): void {
    const now = performance.now();
    const elapsed = now - this.refilledAt;
    this.refilledAt = now;
    this.frames?.refill(elapsed);
    this.bytes?.refill(elapsed);
  }

  /** Stops the release timer (the connection closed). */
  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private fits(payloadLength: number): boolean {
    return (
      (this.frames === null || this.frames.allows(1)) &&
      (this.bytes === null || this.bytes.allows(payloadLength))
    );
  }

  /** Time until a frame of one byte passes both buckets (a frame's size is unknown until it arrives). */
  private waitMs(): number {
    return Math.max(this.frames?.waitMs(1) ?? 0, this.bytes?.waitMs(1) ?? 0);
  }

  private hold(waitMs: number): void {
    if (this.timer !== null) return;
    this.host.holdInput();
    this.armRelease(waitMs);
  }

  private armRelease(waitMs: number): void {
    // At least 1 ms: a timer of 0 would spin when the clock's resolution hides the refill.
    this.timer = setTimeout(() => this.onReleaseTimer(), Math.max(1, Math.ceil(waitMs)));
    this.timer.unref();
  }

  private onReleaseTimer(): void {
    this.timer = null;
    this.refill();
    const waitMs = this.waitMs();
    if (waitMs > 0) {
      this.armRelease(waitMs);
      return;
    }
    this.host.releaseInput();
  }
}

function refusalReason(limits: ResolvedRateLimit): string {
  const parts: string[] = [];
  if (Number.isFinite(limits.framesPerSecond)) parts.push(`${limits.framesPerSecond} frames/s`);
  if (Number.isFinite(limits.bytesPerSecond)) parts.push(`${limits.bytesPerSecond} bytes/s`);
  // RFC 6455 §5.5: a Close reason fits in 123 bytes; numbers keep this well under.
  return `rate limit exceeded (${parts.join(", ")})`;
}
