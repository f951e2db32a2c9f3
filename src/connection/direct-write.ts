import { writevSync } from "node:fs";
import type { Socket } from "node:net";

// A write to a socket's file descriptor, now, of only what the kernel takes at once. A large frame whose
// payload the caller may still change (WHATWG send() sends the bytes as they were at the call) otherwise
// has to be copied first: Node's own write keeps a pointer to the bytes for whatever the kernel did not take
// at once, and there is no telling beforehand how much that will be. Here the kernel's answer comes first,
// and only the rest is copied (issue 17: +6% messages/s for a 256 KiB echo server, +9% at 1 MiB).
//
// It is the same try-write that libuv makes (uv_try_write) when its queue is empty, so it is only made when
// Node's is (nothing written is waiting, the socket is not corked): the bytes then go out in order. Node does
// not see these writes: a socket with an idle timeout is left to Node's writes, which refresh it, and the
// socket's `bytesWritten` (its handle's own count) leaves them out. Counting them in through an accessor of
// the socket's own made every access to that socket slower: the 64 KiB echo lost about a tenth, more than
// writing at once gains.

interface HandleWithFd {
  fd?: number;
}

const supported = process.platform !== "win32";

/**
 * The socket's file descriptor if a write to it now would be in order: a connected socket with nothing
 * queued or corked. -1 otherwise (and for handles without one, such as a stream in JavaScript).
 */
export function idleDescriptor(socket: Socket): number {
  if (
    !supported ||
    // Node's writes refresh a socket's idle timeout (socket.setTimeout); these would not.
    socket.timeout ||
    socket.writableLength !== 0 ||
    socket.writableCorked !== 0 ||
    !socket.writable ||
    socket.connecting ||
    socket.destroyed
  )
    return -1;
  const fd = (socket as unknown as { _handle: HandleWithFd | null })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : -1;
}

/**
 * Writes `chunks` to `fd` without waiting: the number of bytes the kernel took, 0 when its buffer is full
 * (nothing written), or the error the write met. The kernel reports a socket's pending error (a reset peer)
 * once, so that error is the socket's now: written again, the same bytes would fail otherwise (EPIPE).
 */
export function writeWhatFits(fd: number, chunks: readonly Uint8Array[]): number | Error {
  try {
    return writevSync(fd, chunks as Uint8Array[]);
  } catch (error) {
    const { code, errno } = error as NodeJS.ErrnoException;
    if (code === "EAGAIN" || code === "EWOULDBLOCK") return 0;
    // As Node's own failed socket write says it ("write ECONNRESET").
    return Object.assign(new Error(`write ${code}`), { code, errno, syscall: "write" });
  }
}
