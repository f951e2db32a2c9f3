/** RFC 6455 §11.8 opcodes. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 §7.4.1 close codes that this library sends or checks by name. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent on the wire (§7.4.1). */
  NoStatus: 1005,
  /** Reserved: never sent on the wire (§7.4.1). */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  /** IANA WebSocket Close Code registry (RFC 6455 §11.7): the service is restarting; reconnect. */
  ServiceRestart: 1012,
  /** IANA WebSocket Close Code registry (RFC 6455 §11.7): a temporary condition, come back later. */
  TryAgainLater: 1013,
  /** IANA WebSocket Close Code registry (RFC 6455 §11.7): a gateway or proxy got an invalid answer upstream. */
  BadGateway: 1014,
  /** Reserved: never sent on the wire (§7.4.1). */
  TlsHandshake: 1015,
} as const;

/** RFC 6455 §1.3: the GUID concatenated with Sec-WebSocket-Key to make Sec-WebSocket-Accept. */
export const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** RFC 6455 §5.5: control frames carry at most 125 bytes of payload. */
export const MAX_CONTROL_PAYLOAD = 125;

/** RFC 6455 §5.5.1 + WHATWG close(): a reason fits in a control frame after the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;
