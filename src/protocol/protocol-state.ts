import type { SharedPayload } from "./extension.js";
import { FrameParser } from "./frame-parser.js";
import type { MessageBuffer } from "./message-buffer.js";
import { Utf8StreamValidator } from "./utf8.js";

// A Protocol's state kept small for idle connections (issue 17): yes/no bits, the receiving state made on
// the first bytes, the send queue made on the first queued send, all behind named accessors. Bookkeeping,
// apart from the protocol's rules in protocol.ts.

/**
 * The frame parser, with the state of the frame and the message being received: one object made on the first
 * bytes received, instead of fields of the Protocol that every connection would keep from the start.
 */
export class Receiver extends FrameParser {
  frameOpcode = 0;
  framePieces = 0;
  expectedTotal = 0;
  control: Buffer[] | null = null;
  messageOpcode = 0;
  fragments = 0;
  messageBuffer: MessageBuffer | null = null;
  utf8Validator: Utf8StreamValidator | null = null;
}

/** Sends waiting for the extension's encoder, and their payload bytes (Protocol.encoderQueue). */
export class EncoderQueue {
  items: QueuedSend[] | null = null;
  bytes = 0;
}

export interface QueuedSend {
  opcode: number;
  payload: Buffer;
  transform: boolean;
  /** A message shared with other connections, whose encoding is shared too (sendShared). */
  shared?: SharedPayload;
}

/** The bits of Protocol.flags. */
export const Flag = {
  closeSent: 1,
  closeReceived: 1 << 1,
  failed: 1 << 2,
  frameFin: 1 << 3,
  messageTransformed: 1 << 4,
  validatingStream: 1 << 5,
  encoding: 1 << 6,
  decoding: 1 << 7,
  disposed: 1 << 8,
} as const;

/** The state Protocol reads and writes through accessors; Protocol extends it. */
export abstract class ProtocolState {
  /**
   * The frame parser and the state of the frame and message being received (Receiver), made on the first
   * bytes received (or the first pause/stop): an idle connection that never hears from its peer keeps none.
   * The accessors below read that state as fields of their own.
   */
  protected frameParser: Receiver | null = null;

  /** Made when the extension first queues a send (EncoderQueue): a connection without one keeps none. */
  protected encoderQueue: EncoderQueue | null = null;
  /** The yes/no state, one bit each (Flag), behind the accessors below: not 8 bytes each per connection. */
  protected flags = 0;

  protected flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  protected setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  protected get closeSent(): boolean {
    return this.flag(Flag.closeSent);
  }
  protected set closeSent(on: boolean) {
    this.setFlag(Flag.closeSent, on);
  }
  protected get closeReceived(): boolean {
    return this.flag(Flag.closeReceived);
  }
  protected set closeReceived(on: boolean) {
    this.setFlag(Flag.closeReceived, on);
  }
  protected get failed(): boolean {
    return this.flag(Flag.failed);
  }
  protected set failed(on: boolean) {
    this.setFlag(Flag.failed, on);
  }
  /** The frame being received is the final one of its message. */
  protected get frameFin(): boolean {
    return this.flag(Flag.frameFin);
  }
  protected set frameFin(on: boolean) {
    this.setFlag(Flag.frameFin, on);
  }
  /** The message being received is compressed (RSV1 on its first frame). */
  protected get messageTransformed(): boolean {
    return this.flag(Flag.messageTransformed);
  }
  protected set messageTransformed(on: boolean) {
    this.setFlag(Flag.messageTransformed, on);
  }
  /** The text message being received is validated piece by piece (utf8Validator). */
  protected get validatingStream(): boolean {
    return this.flag(Flag.validatingStream);
  }
  protected set validatingStream(on: boolean) {
    this.setFlag(Flag.validatingStream, on);
  }
  /** A message is with the extension's encoder; later sends wait in sendQueue. */
  protected get encoding(): boolean {
    return this.flag(Flag.encoding);
  }
  protected set encoding(on: boolean) {
    this.setFlag(Flag.encoding, on);
  }
  /** A received message is with the extension's decoder; the bytes after it wait in the parser. */
  protected get decoding(): boolean {
    return this.flag(Flag.decoding);
  }
  protected set decoding(on: boolean) {
    this.setFlag(Flag.decoding, on);
  }
  protected get disposed(): boolean {
    return this.flag(Flag.disposed);
  }
  protected set disposed(on: boolean) {
    this.setFlag(Flag.disposed, on);
  }
  // Outgoing messages wait here while an earlier one is being transformed, to keep send order = wire order.
  protected get sendQueue(): QueuedSend[] | null {
    return this.encoderQueue?.items ?? null;
  }
  protected set sendQueue(items: QueuedSend[] | null) {
    if (items !== null || this.encoderQueue !== null)
      (this.encoderQueue ??= new EncoderQueue()).items = items;
  }
  /** Payload bytes of the messages in sendQueue or with the encoder (see queuedSendBytes). */
  protected get queuedMessageBytes(): number {
    return this.encoderQueue?.bytes ?? 0;
  }
  protected set queuedMessageBytes(bytes: number) {
    if (bytes !== 0 || this.encoderQueue !== null) (this.encoderQueue ??= new EncoderQueue()).bytes = bytes;
  }

  /** The frame parser and receiving state, made on first use (Protocol.parser). */
  protected abstract get parser(): Receiver;

  // The control frame being received and the streaming UTF-8 check (Receiver): read while receiving, so the
  // parser exists. The per-frame path (protocol.ts) uses the Receiver's fields directly.
  protected get frameOpcode(): number {
    return this.frameParser?.frameOpcode ?? 0;
  }
  protected get control(): Buffer[] | null {
    return this.frameParser?.control ?? null;
  }
  protected set control(pieces: Buffer[] | null) {
    if (pieces !== null || this.frameParser !== null) this.parser.control = pieces;
  }

  protected get utf8(): Utf8StreamValidator {
    const receiver = this.parser;
    return (receiver.utf8Validator ??= new Utf8StreamValidator());
  }
}
