import { isArrayBuffer, isSharedArrayBuffer } from "node:util/types";
import {
  typedArrayBuffer,
  typedArrayKind,
  typedArrayLength,
  typedArrayOffset,
  viewBuffer,
  viewedBytes,
} from "./view-fields.js";
import type { BinaryType } from "./websocket.js";

// WebIDL union conversion for send()'s argument, (BufferSource or Blob or USVString), and the binaryType
// conversion of received binary messages.

export interface SendPayload {
  /** The bytes to send, or null while a Blob is read. */
  payload: Buffer | null;
  /** The payload is a view of the caller's memory (copied by the frame writer where it would be kept). */
  borrowed: boolean;
  blob: Blob | null;
  isText: boolean;
  size: number;
}

/**
 * WebIDL §3.2.26 buffer source types: `BufferSource` carries neither [AllowShared] nor [AllowResizable], so
 * a SharedArrayBuffer or a resizable ArrayBuffer (directly or under a view) is a TypeError, as in browsers.
 */
/** The operation a conversion error names, as browsers word it: "Failed to execute 'send' on 'WebSocket'". */
export const SEND_ON_WEBSOCKET = "Failed to execute 'send' on 'WebSocket'";

function checkBufferSource(buffer: ArrayBufferLike, operation: string): void {
  if (isSharedArrayBuffer(buffer)) {
    throw new TypeError(`${operation}: The provided ArrayBuffer value must not be shared.`);
  }
  if ((buffer as { resizable?: boolean }).resizable === true) {
    throw new TypeError(`${operation}: The provided ArrayBuffer value must not be resizable.`);
  }
}

let lastPlain: ArrayBuffer | null = null;

/**
 * The bytes of an empty buffer source, and of a detached one: WebIDL's conversion to BufferSource does not
 * reject a detached buffer, and "get a copy of the bytes held by the buffer source" of one is empty (a view of
 * it has byteLength 0 too). `Buffer.from()` of a detached ArrayBuffer would throw.
 */
const EMPTY = Buffer.alloc(0);

/**
 * The bytes of a Uint8Array (a Buffer included) or an ArrayBuffer (of any realm) that is neither shared nor
 * resizable, as a Buffer (no copy); null for anything else, which toSendPayload() converts.
 */
export function plainBytes(data: unknown): Buffer | null {
  // A brand check (WebIDL's), not instanceof: Object.create(Uint8Array.prototype) is converted to a string by
  // toSendPayload, as a browser does. Its fields are read from its slots (view-fields.ts), not its properties.
  // A Buffer skips the check (the send path's common case): for an object that only has Buffer's prototype, the
  // slot getter below throws the TypeError its string conversion would.
  const isBuffer = data instanceof Buffer;
  if (isBuffer || typedArrayKind.call(data) === "Uint8Array") {
    const view = data as Uint8Array;
    const buffer = typedArrayBuffer.call(view);
    // Being shared or resizable is fixed when an ArrayBuffer is made: one checked lately needs no new check
    // (echoed messages are views of the same read buffer). Only small ones are remembered, so as not to keep
    // a large buffer alive.
    if (buffer !== lastPlain) {
      if (!(buffer instanceof ArrayBuffer) || buffer.resizable) return null;
      if (buffer.byteLength <= 64 * 1024) lastPlain = buffer;
    }
    const byteLength = typedArrayLength.call(view);
    // A Buffer is sent as it is (its `length` is what the frame writer reads), unless it says another length.
    if (isBuffer && (view as Buffer).length === byteLength) return view as Buffer;
    return byteLength === 0 ? EMPTY : Buffer.from(buffer, typedArrayOffset.call(view), byteLength);
  }
  if (isArrayBuffer(data) && !data.resizable) return data.byteLength === 0 ? EMPTY : Buffer.from(data);
  return null;
}

/** `operation` is what a TypeError names (SEND_ON_WEBSOCKET for WebSocket's send()). */
export function toSendPayload(data: unknown, operation: string): SendPayload {
  // WHATWG send(): the bytes are those of the buffer at the time of the call. The payload is a view of the
  // caller's memory, marked borrowed: the frame writer copies it into the frame (which small frames and
  // masked client frames do anyway), so it is copied once, not twice.
  if (isArrayBuffer(data) || isSharedArrayBuffer(data)) {
    checkBufferSource(data, operation);
    const payload = data.byteLength === 0 ? EMPTY : Buffer.from(data as ArrayBuffer);
    return { payload, borrowed: true, blob: null, isText: false, size: payload.length };
  }
  if (ArrayBuffer.isView(data)) {
    checkBufferSource(viewBuffer(data), operation);
    const payload = viewedBytes(data);
    return { payload, borrowed: true, blob: null, isText: false, size: payload.length };
  }
  if (data instanceof Blob) {
    return { payload: null, borrowed: false, blob: data, isText: false, size: data.size };
  }
  const text = typeof data === "string" ? data.toWellFormed() : toUSV(data);
  const payload = Buffer.from(text, "utf8");
  return { payload, borrowed: false, blob: null, isText: true, size: payload.length };
}

function toUSV(data: unknown): string {
  if (typeof data === "symbol") throw new TypeError("Cannot convert a Symbol value to a string");
  return `${data}`.toWellFormed();
}

/** A received binary message as the user asked for it. */
export function toBinaryData(data: Buffer, binaryType: BinaryType): Blob | ArrayBuffer | Buffer {
  if (binaryType === "nodebuffer") return data;
  if (binaryType === "blob") return new Blob([data as Uint8Array<ArrayBuffer>]);
  const buffer = data.buffer as ArrayBuffer;
  // A message that owns its whole ArrayBuffer is handed out as is; a view into a larger one is copied.
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  // new + set is faster than ArrayBuffer.prototype.slice for the small messages that dominate.
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}
