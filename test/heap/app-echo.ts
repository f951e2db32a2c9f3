// Child process of headroom.test.ts: a sockjet echo server beside an application-sized heap (20 MB of small
// objects kept), with keepHeapHeadroom() when its argument is "headroom". Prints "LISTENING <port>"; run with
// --trace-gc, whose Mark-Compact lines the parent counts.

import { keepHeapHeadroom } from "../../src/heap/index.js";
import { WebSocketServer } from "../../src/index.js";

if (process.argv[2] === "headroom") keepHeapHeadroom();
const kept: { id: number; name: string }[] = [];
for (let i = 0; i < 200_000; i++) kept.push({ id: i, name: `item ${i}` });
const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
server.on("connection", (socket) => {
  socket.binaryType = "nodebuffer";
  socket.onmessage = (event) => socket.send(event.data as Buffer);
});
server.on("listening", () => {
  const address = server.address();
  if (address !== null && typeof address === "object")
    console.log(`LISTENING ${address.port} ${kept.length}`);
});
