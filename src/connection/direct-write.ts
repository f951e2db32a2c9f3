import { writevSync } from "node:fs";
import type { Socket } from "node:net";

// A write to a socket's file descriptor, now, of only what the kernel takes at once. A large frame whose
// payload the caller may still change (WHATWG send() sends the bytes as they were at the call) otherwise
// has to be copied first: Node's own write keeps a pointer to the bytes for whatever the kernel did not take
// at once, and there is no telling beforehand how much that will be. Here the kernel's answer comes first,
// and only the rest is copied (issue 17: the copy cost a 64 KiB echo server about a tenth of its CPU).
//
// It is the same try-write that libuv makes (uv_try_write) when its queue is empty, so it is only made when
// Node's is (nothing written is waiting, the socket is not corked): the bytes then go out in order.

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
 * Writes `chunks` to `fd` without waiting: the number of bytes the kernel took, or 0 when it took none (its
 * buffer is full) or the write failed; Node's own write of the same bytes then meets the error and reports it.
 */
export function writeWhatFits(fd: number, chunks: readonly Uint8Array[]): number {
  try {
    return writevSync(fd, chunks as Uint8Array[]);
  } catch {
    return 0;
  }
}
