import type { ProtocolError } from "./errors.js";
import type { PerMessageExtension } from "./extension.js";
import type { FrameGate } from "./frame-gate.js";
import type { ChunkSink } from "./frame-writer.js";
import type { MaskKeyPool } from "./mask.js";

// What a Protocol is given (its options and defaults) and what it calls (its handler). Apart from
// protocol.ts so that the layers above can name them without the state machine.

export type Role = "client" | "server";

export interface ProtocolOptions {
  role: Role;
  /** Largest message accepted, after decompression (§10.4). Default 64 MiB. */
  maxPayloadBytes?: number;
  /**
   * Most frames one message may span beyond one frame per payload byte (frames that carry bytes are bounded
   * by maxPayloadBytes; this stops a flood of empty fragments). Default 65536.
   */
  maxFragmentsPerMessage?: number;
  /** The negotiated RSV1 extension (permessage-deflate), if any. */
  extension?: PerMessageExtension | null;
  /** Source of masking keys (clients only). */
  maskKeys?: MaskKeyPool;
  /** Sees every frame header first (the connection's rate limiter), or null. */
  frameGate?: FrameGate | null;
}

/** Bytes to send to the peer leave through write() (or, for small frames, reserve()/commit(): ChunkSink). */
export interface ProtocolHandler extends ChunkSink {
  /** Bytes to send to the peer, in order. */
  write(chunk: Buffer): void;
  /** A complete message; text is validated UTF-8 bytes. */
  onMessage(data: Buffer, isText: boolean): void;
  /** A ping arrived; the pong has already been queued (§5.5.2). */
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** The peer's Close frame arrived and was valid; our Close (an echo, if we had not sent one) is queued. */
  onCloseFrame(code: number, reason: string): void;
  /** The connection failed (§7.1.7): our Close with error.closeCode is queued when allowed; input is ignored. */
  onFailure(error: ProtocolError): void;
  /**
   * With an extension only: a data message of `appBytes` (as given to send()) has just been handed to
   * write() — at once, or after waiting for the encoder (`queuedSendBytes` counted it meanwhile). A transport
   * counts those bytes here, with the write that carries the frame (WHATWG bufferedAmount).
   */
  onMessageWritten?(appBytes: number): void;
  /**
   * Work that waited for the extension has finished: `receivePending` or `sendPending` went false. The
   * transport is torn down only once both are false (the bytes received are processed to the end, the frames
   * queued are written).
   */
  onSettled?(): void;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 65536;
