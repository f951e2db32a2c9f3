import type { SendPayload } from "../web/binary.js";
import type { SendData } from "./events.js";

// Messages given to send() while no connection is open, sent in order once one is (after the open hook).
// Bounded by a count and, optionally, by bytes; what happens when full is the caller's choice.

/** The `queue` option: sends made while disconnected wait here for the next connection. */
export interface SendQueueOptions {
  /** Most messages kept. */
  maxMessages: number;
  /** Most bytes kept (UTF-8 bytes of strings, byteLength of binary, size of Blobs). Default: no limit. */
  maxBytes?: number;
  /**
   * When a send would exceed a limit: "throw" (send() throws a QuotaExceededError DOMException, nothing is
   * queued; the default) or "drop-oldest" (the oldest messages are dropped, each with a `drop` event).
   */
  whenFull?: "throw" | "drop-oldest";
}

interface Queued {
  data: SendData;
  bytes: number;
}

/**
 * What is kept of a send() argument converted as WebSocket.send() converts it (binary.ts toSendPayload): the
 * text as a string, a copy of the caller's bytes (WHATWG send(): the bytes as they are at the call), a Blob.
 */
function snapshot(converted: SendPayload): SendData {
  if (converted.blob !== null) return converted.blob;
  const payload = converted.payload!;
  if (converted.isText) return payload.toString("utf8");
  return converted.borrowed ? Buffer.from(payload) : payload;
}

export function checkQueueOptions(options: SendQueueOptions): void {
  if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) {
    throw new TypeError("options.queue.maxMessages must be a positive integer");
  }
  if (options.maxBytes !== undefined && !(options.maxBytes >= 1)) {
    throw new TypeError("options.queue.maxBytes must be a positive number");
  }
  const whenFull = options.whenFull ?? "throw";
  if (whenFull !== "throw" && whenFull !== "drop-oldest") {
    throw new TypeError('options.queue.whenFull must be "throw" or "drop-oldest"');
  }
}

export class SendQueue {
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly dropOldest: boolean;
  private items: Queued[] = [];
  /** Bytes queued (counted in bufferedAmount). */
  bytes = 0;

  constructor(options: SendQueueOptions) {
    checkQueueOptions(options);
    this.maxMessages = options.maxMessages;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.dropOldest = options.whenFull === "drop-oldest";
  }

  get length(): number {
    return this.items.length;
  }

  /** Queues a converted send() argument; returns the messages dropped to make room. Throws when it cannot be kept. */
  push(converted: SendPayload): SendData[] {
    const bytes = converted.size;
    if (bytes > this.maxBytes) {
      throw new DOMException(
        `Failed to execute 'send': a message of ${bytes} bytes exceeds the send queue's maxBytes (${this.maxBytes}).`,
        "QuotaExceededError",
      );
    }
    const full = () => this.items.length >= this.maxMessages || this.bytes + bytes > this.maxBytes;
    if (full() && !this.dropOldest) {
      throw new DOMException(
        `Failed to execute 'send': not connected and the send queue is full (${this.items.length} messages, ${this.bytes} bytes).`,
        "QuotaExceededError",
      );
    }
    const dropped: SendData[] = [];
    while (full()) {
      const oldest = this.items.shift()!;
      this.bytes -= oldest.bytes;
      dropped.push(oldest.data);
    }
    this.items.push({ data: snapshot(converted), bytes });
    this.bytes += bytes;
    return dropped;
  }

  /** Removes and returns every queued message, oldest first. */
  takeAll(): SendData[] {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    return items.map((item) => item.data);
  }
}
