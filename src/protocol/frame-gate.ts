// A hook that sees the header of every frame the peer sends before its payload is read: the connection
// layer's rate limiter (src/connection/rate-limit.ts). It counts frames, not messages, so that a flood of
// pings, pongs or empty fragments costs a header each to refuse (RFC 6455 §10.4: "implementations SHOULD
// impose" limits on what a peer may make them do).

export const FrameVerdict = {
  /** Read the frame. */
  pass: 0,
  /** Read the frame, then stop reading until the gate's owner releases the input (Protocol.releaseInput). */
  holdAfter: 1,
  /** Fail the connection with 1008 (RFC 6455 §7.4.1 policy violation) and `refusal` as the reason. */
  refuse: 2,
} as const;

export type FrameVerdict = (typeof FrameVerdict)[keyof typeof FrameVerdict];

export interface FrameGate {
  /** A frame header (any opcode but Close: a peer that leaves is never refused) of `payloadLength` bytes. */
  admit(payloadLength: number): FrameVerdict;
  /**
   * A compressed message of `wireBytes` (its frames' payloads, admitted already) was inflated to
   * `inflatedBytes` (RFC 7692 §6.2): the gate may charge the difference too, so that what the peer makes us
   * inflate is bounded as well as what it sends (RFC 6455 §10.4; RFC 7692 §8.1 on decompression). refuse:
   * the message is not delivered.
   */
  admitInflated?(wireBytes: number, inflatedBytes: number): FrameVerdict;
  /** The reason sent in the 1008 Close when a frame is refused (at most 123 bytes of UTF-8). */
  readonly refusal: string;
}
