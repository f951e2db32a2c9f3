import type { Duplex } from "node:stream";
import { inCurrentSlab, slabBytesWritten } from "./frame-slab.js";
import { writeJoins } from "./join-slab.js";

// How a batch of several chunks (OutputBatcher.flush) is handed to its socket: joined into one buffer (the
// join slab, where the write should go to the kernel at once) unless it is large or made of large chunks:
// those go out as a writev (cork/uncork), so that large payloads are not copied.

const JOIN_LIMIT = 16 * 1024;

/**
 * Batches of up to a slab (64 KiB) whose chunks average at most this are joined in the join slab too, when
 * it can take them: a chunk costs a cork/writev more JavaScript than copying 8 KiB (a 1 KiB fan-out of 16
 * publishes per turn: −19% CPU per delivery), and larger chunks are not worth their copy.
 */
const JOIN_AVERAGE_MAX = 8 * 1024;

/**
 * Writes `chunks` (`bytes` in all) in order, `done` called once all of them are written. `plainTcp`: the
 * socket is a plain TCP socket, whose write callback means libuv is done with the bytes.
 */
export function writeChunks(
  socket: Duplex,
  chunks: Buffer[],
  bytes: number,
  done: ((error?: Error | null) => void) | undefined,
  plainTcp: boolean,
): void {
  // A join is for a write that should go to the kernel at once: a plain TCP socket with nothing queued
  // (elsewhere the bytes may be read after the write returns).
  let from = 0;
  if (plainTcp && socket.writableLength === 0 && bytes <= chunks.length * JOIN_AVERAGE_MAX) {
    // Larger than the slab (a publishing client's window of 64 frames of 1 KiB): joined a slab at a time
    // while the kernel takes each join at once (the slab is then free again), rather than one writev of
    // them all, which costs a socket.write per chunk.
    from = writeJoins(socket, chunks, done);
    if (from === chunks.length) return;
    bytes = 0;
    for (let i = from; i < chunks.length; i++) bytes += chunks[i].length;
  }
  if (from === 0 && bytes <= JOIN_LIMIT) {
    socket.write(Buffer.concat(chunks, bytes), done);
    return;
  }
  socket.cork();
  const last = chunks.length - 1;
  for (let i = from; i < last; i++) socket.write(chunks[i]);
  // The last chunk's callback comes after all the batch's chunks have been written (in order).
  socket.write(chunks[last], done);
  socket.uncork();
  for (let i = from; i <= last; i++) {
    if (inCurrentSlab(chunks[i])) {
      slabBytesWritten(socket, plainTcp);
      break;
    }
  }
}
