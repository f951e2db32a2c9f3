import net, { type Socket } from "node:net";
import { nextReadBuffer, pushReadCopy } from "../connection/large-reads.js";

// A plain TCP client socket that reads through the process's shared read buffer (connection/large-reads.ts),
// set up the public way: net.connect's `onread`.

/** net.connect(options) whose reads go through the shared buffer; everything else is a normal socket. */
export function connectWithLargeReads(options: net.NetConnectOpts): Socket {
  let socket: Socket | null = null;
  const onread = {
    buffer: nextReadBuffer,
    callback: (bytes: number, buffer: Buffer): boolean => pushReadCopy(socket!, bytes, buffer),
  };
  socket = net.connect({ ...options, onread } as net.NetConnectOpts);
  return socket;
}
