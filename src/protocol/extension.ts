// The extension interface (RFC 6455 §9). An extension negotiated in the handshake becomes a
// PerMessageExtension on the Protocol: it owns RSV1 and transforms whole messages (RFC 7692 is the one we
// ship). Both directions are asynchronous (zlib runs on the thread pool); Protocol keeps message order.

export type TransformCallback = (error: Error | null, result?: Buffer) => void;

/**
 * An encoding whose output depends only on the payload and its `key` (RFC 7692 §7.1.1.1: a compressor that
 * takes over no context from earlier messages), so a message sent to many connections is encoded once.
 */
export interface SharedEncoder {
  /** Encoders with equal keys make equal output from equal payloads. */
  readonly key: string;
  /** As PerMessageExtension.encode, but tied to no connection: it calls back even if they all close. */
  encode(payload: Buffer, callback: TransformCallback): void;
  /** Encodes at once, on this thread, when the payload is small enough for that to be cheap; else null. */
  encodeNow(payload: Buffer): Buffer | null;
}

/** A message sent unchanged to many connections (a topic publish), whose encodings are shared by key. */
export interface SharedPayload {
  /** The application bytes (UTF-8 for text). */
  readonly payload: Buffer;
  readonly isText: boolean;
  /**
   * The payload as encoded by `encoder` (or one with its key): done already, or done now when the encoder
   * can encode it at once (encodeNow); undefined when it must be waited for (encode()).
   */
  encodedNow(encoder: SharedEncoder): Buffer | undefined;
  /** Encodes the payload with `encoder`, unless an encoding with its key is running or done; calls back once. */
  encode(encoder: SharedEncoder, callback: TransformCallback): void;
}

export interface PerMessageExtension {
  /** The extension's registered name, e.g. "permessage-deflate". */
  readonly name: string;
  /** Whether an outgoing message of this size is transformed (sent with RSV1) by default. */
  shouldTransform(byteLength: number): boolean;
  /** Transforms an outgoing message payload (e.g. compresses it). */
  encode(payload: Buffer, callback: TransformCallback): void;
  /**
   * Reverses the transform on a received message whose first frame had RSV1 set. Must fail with a
   * ProtocolError (close code 1009) as soon as the output would exceed `maxBytes`, and with 1007 on data
   * that cannot be decoded.
   */
  decode(fragments: Buffer[], maxBytes: number, callback: TransformCallback): void;
  /** Releases resources (zlib streams). */
  dispose(): void;
  /** This connection's encoder when it keeps no state between messages (shareable), else null. */
  readonly sharedEncoder?: SharedEncoder | null;
}
