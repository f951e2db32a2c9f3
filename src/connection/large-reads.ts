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
//
// A socket whose read filled at least OWN_READ_MIN bytes is streaming large data: its next read goes into a
// buffer of its own, which a read of that size is handed on in without the copy (the copy out of the shared
// buffer was the largest user-space cost of a 64 KiB echo: 11% of its CPU under perf; without it, +12% at 64
// KiB and +6% at 1 MiB, interleaved). A short read copies out of it as from the shared buffer and sends the
// socket back to the shared one. At most OWN_READ_BUFFERS sockets hold one at a time (it waits in an idle socket
// until its next read), so they hold at most OWN_READ_BUFFERS × LARGE_READ_SIZE (16 MiB) together.

/** Bytes per read system call. */
export const LARGE_READ_SIZE = 256 * 1024;

/** What a paused socket reads: Node reads one more chunk after a pause, and it waits in the socket. */
const PAUSED_READ_SIZE = 16 * 1024;

/**
 * A read of at least this many bytes is handed on in its own read buffer, and makes the socket's next read
 * one of its own: at most half of a kept read's buffer is then spare (the rest of its LARGE_READ_SIZE).
 */
export const OWN_READ_MIN = 128 * 1024;

/** How many sockets may hold a read buffer of their own at a time (16 MiB of them). */
export const OWN_READ_BUFFERS = 64;

let shared: Buffer | null = null;
let forPaused: Buffer | null = null;
/** The buffer of the next read, chosen by pushReadCopy for the socket that has just read. */
let nextRead: Buffer | null = null;
/** Sockets whose next read goes into a buffer of their own (their onread buffer is none of the shared ones). */
let ownReads = 0;
/** Sockets that release their own read buffer when they close (the listener is added once per socket). */
const releasingOnClose = new WeakSet<Socket>();

/** The read buffer every socket reads through: made on first use, never handed on. */
export function sharedReadBuffer(): Buffer {
  if (shared === null) {
    shared = Buffer.allocUnsafeSlow(LARGE_READ_SIZE);
    forPaused = shared.subarray(0, PAUSED_READ_SIZE);
  }
  return shared;
}

/** How many sockets hold a read buffer of their own now (tests). */
export function ownReadBuffers(): number {
  return ownReads;
}

/**
 * The buffer for a socket's next read (net's `onread.buffer` as a function, Node's `kBufferGen`): Node asks
 * for it right after each read's callback, so pushReadCopy has just chosen it for that socket: all of the
 * shared buffer, a 16 KiB part of it once the socket is paused, or a buffer of the socket's own. Node reads once
 * more after a pause (its Readable asks for more until its own buffer is full), and that read waits in the
 * socket: a paused connection then holds 16 KiB there, not 256 KiB.
 * The choice is handed out once: Node also asks when it sets up a socket made by `net.connect({ onread })`,
 * before that socket has read, and a new socket must start on the shared buffer, not on the buffer chosen for
 * whichever socket read last (an outside review had a new client read into another socket's own buffer, over
 * a message handed on in it).
 */
export function nextReadBuffer(): Buffer {
  const buffer = nextRead ?? sharedReadBuffer();
  nextRead = null;
  return buffer;
}

/**
 * Pushes a read's `bytes`, read into `buffer`, to the socket (Readable.push, as Node's reads do: 'data' when
 * flowing, the readable buffer when paused, and false — stop reading — once that buffer is full), then
 * chooses the socket's next read buffer (nextReadBuffer).
 * - A read into the shared buffer (or a short one into the socket's own) is copied out into a Buffer of
 *   exactly its size, as Node's reads are: a message the application keeps is a view of its read, and a slice
 *   of Node's 8 KiB Buffer pool would keep the whole pool alive (measured: 32 B echo 0.97×, 1 KiB 1.02×
 *   against the pool).
 * - A read of OWN_READ_MIN bytes or more into the socket's own buffer is that buffer, handed on: nothing else
 *   reads into it again.
 */
export function pushReadCopy(socket: Socket, bytes: number, buffer: Buffer): boolean {
  const own = buffer !== shared && buffer !== forPaused;
  let chunk: Buffer;
  if (own && bytes >= OWN_READ_MIN) chunk = buffer.subarray(0, bytes);
  else {
    chunk = Buffer.allocUnsafeSlow(bytes);
    chunk.set(buffer.subarray(0, bytes));
  }
  const more = socket.push(chunk);
  nextRead = nextReadFor(socket, bytes, own);
  return more;
}

/** The next read buffer of a socket that has just read `bytes` (into a buffer of its own when `own`). */
function nextReadFor(socket: Socket, bytes: number, own: boolean): Buffer {
  if (bytes >= OWN_READ_MIN && !socket.isPaused() && !socket.destroyed) {
    if (own) return Buffer.allocUnsafeSlow(LARGE_READ_SIZE);
    if (ownReads < OWN_READ_BUFFERS) {
      ownReads++;
      if (!releasingOnClose.has(socket)) {
        releasingOnClose.add(socket);
        socket.once("close", releaseOnClose);
      }
      return Buffer.allocUnsafeSlow(LARGE_READ_SIZE);
    }
  } else if (own) ownReads--;
  const whole = sharedReadBuffer();
  return socket.isPaused() ? (forPaused as Buffer) : whole;
}

/** A socket closed: its read buffer, if its own, is no longer held. */
function releaseOnClose(this: Socket): void {
  releasingOnClose.delete(this);
  const buffer = readBufferOf(this);
  if (buffer !== null && buffer !== shared && buffer !== forPaused) ownReads--;
}

/** The buffer a socket's next read goes into (Node's `kBuffer`), or null when it does not read through ours. */
function readBufferOf(socket: Socket): Buffer | null {
  const found = onreadSlots(socket);
  return found === null ? null : ((socket as unknown as Record<symbol, Buffer | null>)[found.buffer] ?? null);
}

function pushReadCopyToThis(this: Socket, bytes: number, buffer: Buffer): boolean {
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
