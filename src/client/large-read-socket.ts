import net, { type Socket } from "node:net";

// A plain TCP client socket that reads up to READ_SIZE bytes per system call instead of Node's 64 KiB: one
// read then carries several large messages (and their echoes leave in one write), where a 64 KiB read barely
// holds one. The read buffer is shared by every such socket: libuv fills it and calls back synchronously, and
// each read is copied out at once into a Buffer of exactly its size, so nothing handed on can be overwritten
// by a later read, a small message holds no more memory than with Node's own reads, and an idle connection
// holds no read buffer at all.

const READ_SIZE = 256 * 1024;
let shared: Buffer | null = null;

/** net.connect(options) whose reads go through the shared buffer; everything else is a normal socket. */
export function connectWithLargeReads(options: net.NetConnectOpts): Socket {
  shared ??= Buffer.allocUnsafeSlow(READ_SIZE);
  let socket: Socket | null = null;
  const onread = {
    buffer: shared,
    // Readable.push, as Node's default reads do: 'data' in flowing mode, the readable buffer when paused, and
    // false (stop reading) once that buffer is full.
    callback: (bytes: number, buffer: Uint8Array): boolean => {
      const chunk = Buffer.allocUnsafe(bytes);
      chunk.set(buffer.subarray(0, bytes));
      return socket!.push(chunk);
    },
  };
  socket = net.connect({ ...options, onread } as net.NetConnectOpts);
  return socket;
}
