import type { Socket } from "node:net";

// WHATWG bufferedAmount counts the application bytes "not yet transmitted to the network", leaving out what
// the operating system buffers. The sends of one task leave in one write, which calls back once the kernel has
// taken all of it: counted until then, 16 MiB sent to a slow reader read 16 MiB until the last byte had left,
// then 0, where Chromium's fell steadily (outside review). So while a large write is under way and someone
// reads bufferedAmount, the part of it the kernel has taken is sampled once per turn of the event loop — in a
// task of its own (setImmediate), so a value changes between tasks, never within one ("as of the last time
// the event loop reached step 1"), and again every SAMPLE_EVERY_MS while the write drains.

/** Writes in flight that carry at least this many application bytes are sampled. */
export const SAMPLED_MIN = 64 * 1024;

/** How often a write under way is sampled while it drains (a timer, unref'd: it keeps no process alive). */
export const SAMPLE_EVERY_MS = 10;

/** What Node keeps of a plain TCP socket's write under way (net.Socket over libuv, since Node 12). */
interface WriteInternals {
  _handle?: { writeQueueSize?: unknown } | null;
  _writableState?: { writelen?: unknown } | null;
}

/**
 * Application bytes of the writes in flight (`inFlightApp` of them, Node holding `socket.writableLength` wire
 * bytes not yet called back) that the kernel has taken: the write under way's length (writelen) less what
 * libuv still queues (writeQueueSize), scaled from wire to application bytes (at most one for one: framing,
 * and compression is not counted in the application's favour). 0 when Node does not say.
 */
export function applicationBytesTaken(socket: Socket, inFlightApp: number): number {
  const internals = socket as unknown as WriteInternals;
  const queued = internals._handle?.writeQueueSize;
  const writing = internals._writableState?.writelen;
  const pending = socket.writableLength;
  if (typeof queued !== "number" || typeof writing !== "number" || pending <= 0 || inFlightApp <= 0) return 0;
  const taken = Math.max(0, writing - queued);
  return Math.min(inFlightApp, Math.floor(taken * Math.min(1, inFlightApp / pending)));
}
