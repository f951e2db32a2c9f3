// The extension interface (RFC 6455 §9). An extension negotiated in the handshake becomes a
// PerMessageExtension on the Protocol: it owns RSV1 and transforms whole messages (RFC 7692 is the one we
// ship). Both directions are asynchronous (zlib runs on the thread pool); Protocol keeps message order.

export type TransformCallback = (error: Error | null, result?: Buffer) => void;

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
}
