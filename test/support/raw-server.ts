// A WebSocket server made of a plain TCP socket, for client tests that need exact bytes and timing: it answers
// one opening handshake (RFC 6455 §4.2.2) with the given extension response, runs the test's script with the
// socket, and records every frame the client sends. It keeps its read side open after sending FIN
// (allowHalfOpen), so it sees everything the client writes until the client's own FIN.

import { createHash } from "node:crypto";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import { HANDSHAKE_GUID } from "../../src/protocol/constants.js";
import { parseFrames, type WireFrame } from "../deflate/helpers.js";

export interface RawServer {
  url: string;
  /** Frames received from the client, unmasked. */
  frames: WireFrame[];
  /** Settles when the client's connection has closed. */
  finished: Promise<void>;
}

export async function rawServer(
  t: TestContext,
  extensions: string | null,
  script: (socket: net.Socket) => void,
): Promise<RawServer> {
  const frames: WireFrame[] = [];
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => {
    resolveFinished = resolve;
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let buffer: Buffer = Buffer.alloc(0);
    let open = false;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!open) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString("latin1");
        buffer = buffer.subarray(end + 4);
        const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)![1];
        const accept = createHash("sha1")
          .update(key + HANDSHAKE_GUID)
          .digest("base64");
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n` +
            (extensions === null ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
            "\r\n",
        );
        open = true;
        script(socket);
      }
      const parsed = parseFrames(buffer);
      frames.push(...parsed.frames);
      buffer = parsed.rest;
    });
    socket.on("end", () => socket.end());
    socket.on("close", () => resolveFinished());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, frames, finished };
}
