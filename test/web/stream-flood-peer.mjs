// The other end of the WebSocketStream backpressure tests, in its own process so that the test process's
// memory is only the stream's. Plain TCP and hand-made frames: nothing here can hide backpressure.
//   node stream-flood-peer.mjs flood-server <limitBytes>   a WebSocket server that sends 64 KiB binary
//                                                          messages as fast as TCP takes them, up to limit
//   node stream-flood-peer.mjs flood-client <port> <limitBytes>
//                                                          the same flood from a client (masked frames)
//   node stream-flood-peer.mjs slow-client <port> <bytesPerTick>
//                                                          a WebSocket client that reads at most
//                                                          bytesPerTick every 10 ms
// Both print JSON lines: {"port"} once listening, then {"bytes"} (taken by the kernel / read) every 50 ms.
// Both exit when stdin closes (the test's end), so nothing outlives the test.

import { createHash, randomBytes } from "node:crypto";
import net from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MESSAGE_BYTES = 64 * 1024;
const [mode, arg1, arg2] = process.argv.slice(2);
let bytes = 0;

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
setInterval(() => console.log(JSON.stringify({ bytes })), 50);

/** One binary frame of MESSAGE_BYTES (FIN + opcode 2, 127 → 64-bit length); a client's has a zero mask. */
function binaryFrame(masked) {
  const header = masked ? 14 : 10;
  const frame = Buffer.alloc(header + MESSAGE_BYTES, 7);
  frame[0] = 0x82;
  frame[1] = masked ? 0x80 | 127 : 127;
  frame.writeUInt32BE(0, 2);
  frame.writeUInt32BE(MESSAGE_BYTES, 6);
  if (masked) frame.writeUInt32BE(0, 10);
  return frame;
}

/** Writes `frame` as fast as TCP takes it, up to `limit` bytes, counting what the kernel took. */
function flood(socket, frame, limit) {
  let queued = 0;
  const pump = () => {
    while (queued < limit) {
      queued += frame.length;
      const more = socket.write(frame, (error) => {
        if (!error) bytes += frame.length;
      });
      if (!more) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
}

function clientHandshake(socket) {
  const key = randomBytes(16).toString("base64");
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
}

if (mode === "flood-server") {
  const limit = Number(arg1);
  const frame = binaryFrame(false);
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    let head = "";
    const onHead = (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onHead);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)[1];
      const accept = createHash("sha1")
        .update(key + GUID)
        .digest("base64");
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      // What the client sends (its Close, at the end) is read and dropped.
      socket.on("data", () => {});
      flood(socket, frame, limit);
    };
    socket.on("data", onHead);
  });
  server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));
} else if (mode === "flood-client") {
  const socket = net.connect(Number(arg1), "127.0.0.1");
  socket.on("error", () => {});
  clientHandshake(socket);
  // The 101 and anything after it (the server's Close, at the end) are read and dropped.
  socket.on("data", () => {});
  socket.on("connect", () => {
    console.log(JSON.stringify({ port: 0 }));
    flood(socket, binaryFrame(true), Number(arg2));
  });
} else if (mode === "slow-client") {
  const perTick = Number(arg2);
  const socket = net.connect(Number(arg1), "127.0.0.1");
  socket.on("error", () => {});
  clientHandshake(socket);
  // Paused mode: the kernel's buffers fill while we read slowly (the 101 is counted too, a few bytes).
  socket.pause();
  setInterval(() => {
    let budget = perTick;
    while (budget > 0) {
      const chunk = socket.read(Math.min(budget, socket.readableLength || budget));
      if (chunk === null) break;
      bytes += chunk.length;
      budget -= chunk.length;
    }
  }, 10);
  socket.on("connect", () => console.log(JSON.stringify({ port: 0 })));
}
