// What a publish looks like on Redis. Channel: the prefix (default "sockjet:") followed by the topic, in
// UTF-8, one Redis channel per topic so that a process receives only the topics it has subscribers for.
// Message: an 18-byte header, then the payload as is (the message's bytes, never a frame: each receiving
// process frames it once for its own subscribers):
//
//   offset  size  field
//   0       1     format version, 1
//   1       1     flags: bit 0 set = text message (payload is UTF-8), clear = binary
//   2       16    publisher id: random per adapter instance, so an adapter skips its own publishes
//   18      n     payload
//
// Anything else on a sockjet channel (a shorter message, another version) is counted and ignored.

/** The format version in the first byte of every message. */
export const WIRE_VERSION = 1;
export const ID_BYTES = 16;
/** Bytes before the payload: version, flags, publisher id. */
export const HEADER_BYTES = 2 + ID_BYTES;
const FLAG_TEXT = 0x01;

export interface DecodedMessage {
  /** The publisher's id: a view into the message. */
  publisher: Buffer;
  isText: boolean;
  payload: Buffer;
}

/** A message as it goes on Redis: the header above, then the payload. */
export function encodeMessage(publisher: Buffer, payload: Buffer, isText: boolean): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out[0] = WIRE_VERSION;
  out[1] = isText ? FLAG_TEXT : 0;
  publisher.copy(out, 2, 0, ID_BYTES);
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** The message, or null when it is not one of ours (too short, unknown version). */
export function decodeMessage(message: Buffer): DecodedMessage | null {
  if (message.length < HEADER_BYTES || message[0] !== WIRE_VERSION) return null;
  return {
    publisher: message.subarray(2, HEADER_BYTES),
    isText: (message[1] & FLAG_TEXT) !== 0,
    payload: message.subarray(HEADER_BYTES),
  };
}
