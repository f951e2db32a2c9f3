import { Opcode } from "../protocol/constants.js";
import type { SharedEncoder, TransformCallback } from "../protocol/extension.js";
import { encodeFrame } from "../protocol/frame-writer.js";
import type { PublishedMessage } from "../web/topic-hooks.js";

// A published message as every local subscriber shares it: framed at most once (server frames are unmasked,
// so every subscriber can take the same bytes), and compressed at most once per permessage-deflate
// configuration where the compressor keeps no context (RFC 7692 §7.1.1.1).

/** Counters of the in-process fan-out. */
export interface FanOutCounters {
  /** Frames built by encodeFrame: at most one per published message, none when nobody takes raw bytes. */
  framesEncoded: number;
  /** Writes of a published message to a local subscriber. */
  delivered: number;
  /** Subscribers skipped: closing, or a "pause" slow consumer over maxBufferedBytes. */
  dropped: number;
  /** Compressions of a published payload shared by its permessage-deflate subscribers (one per configuration). */
  sharedCompressions: number;
}

/** One shared encoding of a message: running (waiters) or done (result or error). */
interface SharedEncoding {
  result: Buffer | undefined;
  error: Error | null;
  waiters: TransformCallback[] | null;
}

/** One published message: the payload, and its frame built at most once, on first use. */
export class SharedMessage implements PublishedMessage {
  readonly payload: Buffer;
  readonly isText: boolean;
  private framed: Buffer | null = null;
  /** Encodings by encoder key; nearly always one (every subscriber negotiated the server's defaults). */
  private encodings: Map<string, SharedEncoding> | null = null;
  private readonly counters: FanOutCounters;

  constructor(payload: Buffer, isText: boolean, counters: FanOutCounters) {
    this.payload = payload;
    this.isText = isText;
    this.counters = counters;
  }

  frame(): Buffer {
    if (this.framed === null) {
      // RFC 6455 §5.1: a server never masks, so these bytes are valid on every server-side connection.
      this.framed = encodeFrame(this.isText ? Opcode.Text : Opcode.Binary, this.payload, {
        fin: true,
        rsv1: false,
        maskKeys: null,
      });
      this.counters.framesEncoded++;
    }
    return this.framed;
  }

  encodedNow(encoder: SharedEncoder): Buffer | undefined {
    const encoding = this.encodings?.get(encoder.key);
    if (encoding !== undefined) return encoding.result;
    let result: Buffer | null;
    try {
      result = encoder.encodeNow(this.payload);
    } catch (error) {
      // Kept for encode(), which hands it to every subscriber (each fails with 1011).
      this.store(encoder.key, { result: undefined, error: error as Error, waiters: null });
      return undefined;
    }
    if (result === null) return undefined;
    this.store(encoder.key, { result, error: null, waiters: null });
    return result;
  }

  private store(key: string, encoding: SharedEncoding): void {
    (this.encodings ??= new Map()).set(key, encoding);
    this.counters.sharedCompressions++;
  }

  encode(encoder: SharedEncoder, callback: TransformCallback): void {
    const encoding = this.encodings?.get(encoder.key);
    if (encoding !== undefined) {
      if (encoding.waiters !== null) encoding.waiters.push(callback);
      else callback(encoding.error, encoding.result);
      return;
    }
    const started: SharedEncoding = { result: undefined, error: null, waiters: [callback] };
    this.store(encoder.key, started);
    encoder.encode(this.payload, (error, result) => {
      started.error = error;
      started.result = error === null ? result : undefined;
      const waiters = started.waiters!;
      started.waiters = null;
      // Each subscriber writes the frame in its own callback, in subscription order.
      for (const waiter of waiters) waiter(error, result);
    });
  }
}
