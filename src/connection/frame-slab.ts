import type { Duplex } from "node:stream";

// Small frames are built in place in a slab shared by every connection (OutputBatcher's reserve/commit), so
// a burst of echoes is one contiguous run of bytes: no buffer per frame and no join at flush. The slab is
// appended to until full. Then it is reused from its start when nothing can still read its bytes: no batch
// holds any of them unwritten but the one that is reserving (whose run is moved to the front, so that it
// stays one write), and every write of its bytes went to the kernel at once on a plain TCP socket (pinned).
// Otherwise it is replaced and left to the writes and batches that still point into it. A fresh 64 KiB slab
// per 64 KiB of small frames cost more than everything else about a 1 KiB echo (allocation, first-touch
// page faults, external memory that brings on garbage collections: issue 17).

export const SLAB_SIZE = 64 * 1024;
/** Frames up to this size are built in the slab. */
export const SLAB_FRAME_MAX = 16 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let used = 0;
/**
 * Bytes of the current slab were handed to a write that may still read them after it returned (the kernel
 * did not take them all at once, or the transport is not a plain TCP socket): the slab is not reused.
 */
let pinned = false;

/** The slab frames are built in now. */
export function currentSlab(): Buffer {
  return slab;
}

/** Where the slab's free space starts. */
export function slabUsed(): number {
  return used;
}

/** The slab's bytes before `end` hold frames. */
export function slabUsedTo(end: number): void {
  used = end;
}

/** Whether `chunk` is bytes of the current slab. */
export function inCurrentSlab(chunk: Uint8Array): boolean {
  return chunk.buffer === slab.buffer;
}

/** Whether a write may still read the current slab's bytes (it is then never started over). */
export function slabPinned(): boolean {
  return pinned;
}

/** Starts the slab over with the `kept` bytes from `from` moved to its front. */
export function restartSlab(from: number, kept: number): void {
  if (kept > 0) slab.copyWithin(0, from, from + kept);
  used = kept;
}

/** A new slab; the old one is left to the writes and batches that still point into it. */
export function replaceSlab(): void {
  slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  used = 0;
  pinned = false;
}

/**
 * Slab bytes were just written to `socket`: unless a plain TCP socket took them at once (nothing left in its
 * queue, so libuv holds no pointer to them), the slab must not be started over.
 */
export function slabBytesWritten(socket: Duplex, plainTcp: boolean): void {
  if (!plainTcp || socket.writableLength > 0) pinned = true;
}
