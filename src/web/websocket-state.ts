import type { ClientHandshake } from "../client/connect.js";
import type { BinaryType } from "./websocket-options.js";

// A WebSocket's readyState values and the state it keeps in bits or makes on first use (issue 17): the
// bookkeeping behind the class's private accessors, apart from the standard's algorithms in websocket.ts.

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

export interface QueuedSend {
  payload: Buffer | null;
  isText: boolean;
  compress: boolean | undefined;
  size: number;
  /** A topic or control message (deliverPublished, sendInOrder): its bytes are final, so it goes around Connection.hooks. */
  published: boolean;
}

/** The bits of WebSocket's #bits. */
export const Bits = {
  /** readyState: CONNECTING (0) to CLOSED (3). */
  readyState: 3,
  hasMessageListener: 1 << 2,
  taken: 1 << 3,
  /** The index of binaryType in BINARY_TYPES. */
  binaryType: 3 << 4,
  binaryTypeShift: 4,
} as const;
export const BINARY_TYPES: readonly BinaryType[] = ["blob", "arraybuffer", "nodebuffer"];

/**
 * A WebSocket's state that an accepted, idle socket does not use: a client's handshake, sends waiting behind
 * a Blob, a close() waiting for them, bytes sent after closing. One object made on first use instead of a
 * field each per socket (issue 17).
 */
export class RareState {
  handshake: ClientHandshake | null = null;
  queue: QueuedSend[] | null = null;
  queuedBytes = 0;
  pendingClose: { code: number; reason: string } | null = null;
  discardedBytes = 0;

  /** Nothing is kept: the object can go (its fields read as these defaults without it). */
  get unused(): boolean {
    return (
      this.handshake === null &&
      this.queue === null &&
      this.queuedBytes === 0 &&
      this.pendingClose === null &&
      this.discardedBytes === 0
    );
  }
}
