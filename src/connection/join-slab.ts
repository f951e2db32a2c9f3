import type { Duplex } from "node:stream";

// Batches of several chunks (shared frames of a fan-out, frames built apart) are joined for their one write
// in a slab of their own (src/connection/output-batcher.ts): a flush writes its join at once, so unless a
// write left some of it queued (joinLeftQueued), nothing reads it afterwards and the next join starts over at
// its front. Joined in a new buffer, each flush would allocate one, and a fan-out flushes a batch per
// subscriber.

/**
 * Joins up to this size. A joined write the kernel takes only in part keeps the whole join slab alive until
 * that peer drains: one slab per stalled subscriber at worst, so it is no larger than the small-frame slab
 * (256 KiB took 18% less CPU per delivery in a 1 KiB fan-out of 64 publishes per turn, but held 4× as much
 * for each subscriber that stalls: review of 9bc4834).
 */
export const JOIN_SLAB_SIZE = 64 * 1024;
let joinSlab = Buffer.allocUnsafeSlow(JOIN_SLAB_SIZE);
let joinUsed = 0;
/** Bytes of the join slab are in a write still queued: later joins go after them, or in a new slab. */
let joinPinned = false;

/**
 * `chunks[from, to)` (`bytes` in all, at most JOIN_SLAB_SIZE) joined in the join slab, for a write at once.
 */
export function joinInSlab(chunks: Buffer[], bytes: number, from = 0, to = chunks.length): Buffer {
  if (!joinPinned) joinUsed = 0;
  else if (joinUsed + bytes > JOIN_SLAB_SIZE) {
    joinSlab = Buffer.allocUnsafeSlow(JOIN_SLAB_SIZE);
    joinUsed = 0;
    joinPinned = false;
  }
  const start = joinUsed;
  let at = start;
  for (let i = from; i < to; i++) {
    joinSlab.set(chunks[i], at);
    at += chunks[i].length;
  }
  joinUsed = at;
  return joinSlab.subarray(start, at);
}

/** The write of the last join left bytes queued: they must not be overwritten. */
export function joinLeftQueued(): void {
  joinPinned = true;
}

/**
 * Writes `chunks` from the front in joins of up to JOIN_SLAB_SIZE, until one is left queued (the slab is
 * then pinned: what follows goes as a writev) or a chunk is larger than the slab. Returns how many were
 * written; `done` goes with the last chunk's write.
 */
export function writeJoins(
  socket: Duplex,
  chunks: Buffer[],
  done: ((error?: Error | null) => void) | undefined,
): number {
  let from = 0;
  while (from < chunks.length && socket.writableLength === 0) {
    let to = from;
    let bytes = 0;
    while (to < chunks.length && bytes + chunks[to].length <= JOIN_SLAB_SIZE) bytes += chunks[to++].length;
    if (to === from) break;
    socket.write(joinInSlab(chunks, bytes, from, to), to === chunks.length ? done : undefined);
    if (socket.writableLength > 0) joinLeftQueued();
    from = to;
  }
  return from;
}
