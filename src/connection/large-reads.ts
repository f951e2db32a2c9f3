import { Socket } from "node:net";

// Reads of up to LARGE_READ_SIZE bytes per system call, through one read buffer shared by every socket of the
// process, each read copied out at once into a Buffer of its exact size. Node's own reads allocate a fresh
// 64 KiB buffer for every read and copy a short read into a smaller one: with this, a 64 KiB message (65,544
// bytes framed) no longer takes two reads and a join, one read carries several large messages (whose echoes
// then leave in one writev), and a short read costs one small copy. Nothing handed on can be overwritten by a
// later read, a kept message holds no more memory than with Node's reads, and an idle socket holds no read
// buffer at all. Measured on the server echo (bench/micro/ab-echo.ts, interleaved, medians of 3–5 runs of 3 s):
// 32 B +14% (0.96× in another batch), 1 KiB +11%, 64 KiB +43–58%, 1 MiB +55%; a 1 MiB read buffer was slower
// than 256 KiB (64 KiB: 0.88×, 1 MiB: 0.68×), a 64 KiB one no faster than Node's (0.97×).

/** Bytes per read system call. */
export const LARGE_READ_SIZE = 256 * 1024;

/** What a paused socket reads: Node reads one more chunk after a pause, and it waits in the socket. */
const PAUSED_READ_SIZE = 16 * 1024;

let shared: Buffer | null = null;
let forPaused: Buffer | null = null;
/** The buffer of the next read, chosen by pushReadCopy for the socket that has just read. */
let nextRead: Buffer | null = null;

/** The read buffer every socket reads through: made on first use, never handed on. */
export function sharedReadBuffer(): Buffer {
  if (shared === null) {
    shared = Buffer.allocUnsafeSlow(LARGE_READ_SIZE);
    forPaused = shared.subarray(0, PAUSED_READ_SIZE);
  }
  return shared;
}

/**
 * The buffer for a socket's next read (net's `onread.buffer` as a function, Node's `kBufferGen`): Node asks
 * for it right after each read's callback, so pushReadCopy has just chosen it for that socket: all of the
 * shared buffer, or a 16 KiB part of it once the socket is paused. Node reads once more after a pause (its
 * Readable asks for more until its own buffer is full), and that read waits in the socket: a paused connection
 * then holds 16 KiB there, not 256 KiB.
 */
export function nextReadBuffer(): Buffer {
  return nextRead ?? sharedReadBuffer();
}

/**
 * Copies a read's `bytes` out of the shared buffer into a Buffer of their own and pushes it to the socket
 * (Readable.push, as Node's reads do: 'data' when flowing, the readable buffer when paused, and false — stop
 * reading — once that buffer is full), then chooses the socket's next read buffer (nextReadBuffer). The copy
 * has a memory of its own, of exactly its size, as Node's reads do: a message the application keeps is a view
 * of its read, and a slice of Node's 8 KiB Buffer pool would keep the whole pool alive (measured: 32 B echo
 * 0.97×, 1 KiB 1.02× against the pool).
 */
export function pushReadCopy(socket: Socket, bytes: number, buffer: Uint8Array): boolean {
  const chunk = Buffer.allocUnsafeSlow(bytes);
  chunk.set(buffer.subarray(0, bytes));
  const more = socket.push(chunk);
  nextRead = socket.isPaused() ? forPaused : shared;
  return more;
}

function pushReadCopyToThis(this: Socket, bytes: number, buffer: Uint8Array): boolean {
  return pushReadCopy(this, bytes, buffer);
}

/**
 * Where net.Socket keeps what `net.connect({ onread })` sets (Node's symbols `kBuffer`, `kBufferCb` and
 * `kBufferGen`, own properties of every socket, null unless onread was given, since Node 12; run here on
 * Node 20): its read path calls `socket[kBufferCb](bytes, socket[kBuffer])`, with the socket as `this`, after
 * the handle has read into the buffer given to `handle.useUserBuffer()`, then `socket[kBufferGen]()` for the
 * next read's buffer.
 * Looked up once; null when this Node has no such properties.
 */
interface OnreadSlots {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}
let slots: OnreadSlots | null | undefined;

function onreadSlots(socket: Socket): OnreadSlots | null {
  if (slots !== undefined) return slots;
  const symbols = Object.getOwnPropertySymbols(socket);
  const named = (name: string) => symbols.find((symbol) => symbol.description === name);
  const buffer = named("kBuffer");
  const callback = named("kBufferCb");
  const generator = named("kBufferGen");
  slots =
    buffer !== undefined && callback !== undefined && generator !== undefined
      ? { buffer, callback, generator }
      : null;
  return slots;
}

interface StreamHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * Makes a socket that Node created (one accepted by a server, or handed to us connected) read through the
 * shared buffer, as `net.connect({ onread })` does for a socket we create: Node offers no option for the
 * sockets it accepts. Only a plain TCP or pipe socket that reads the usual way; TLS reads happen inside its
 * handle, and a socket given `onread` by its creator keeps it. Returns whether it now does. Where Node's
 * internals differ from what is described above, nothing changes.
 */
export function readThroughSharedBuffer(transport: unknown): boolean {
  if (!(transport instanceof Socket) || (transport as { encrypted?: boolean }).encrypted === true)
    return false;
  const handle = (transport as unknown as { _handle: StreamHandle | null })._handle;
  if (handle === null || typeof handle?.useUserBuffer !== "function") return false;
  const found = onreadSlots(transport);
  if (found === null) return false;
  const socket = transport as unknown as Record<symbol, unknown>;
  if (socket[found.buffer] !== null || socket[found.callback] !== null) return false;
  const buffer = sharedReadBuffer();
  socket[found.buffer] = buffer;
  socket[found.callback] = pushReadCopyToThis;
  socket[found.generator] = nextReadBuffer;
  handle.useUserBuffer(buffer);
  return true;
}
