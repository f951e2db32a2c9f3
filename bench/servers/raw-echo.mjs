// Raw TCP echo server on Node's `net`: the baseline the WebSocket servers are compared with.
// Clients speak a 4-byte big-endian length-prefixed protocol, but since the reply to a message is the message
// itself, the server just writes back whatever it reads (one write per read), which is the most Node's `net` can do.
// Usage: node bench/servers/raw-echo.mjs [port]   (0 = any free port) — prints "LISTENING <port>".
import { createServer } from "node:net";

const port = Number(process.argv[2] ?? 0);
const server = createServer({ noDelay: true }, (socket) => {
  socket.on("data", (chunk) => socket.write(chunk));
  socket.on("error", () => socket.destroy());
});
server.on("error", (err) => {
  console.error(`ERROR ${err.message}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});

// Exit cleanly on SIGTERM (the benchmark stops servers so), which lets `node --cpu-prof` write its profile
// (bench/profile.ts).
process.on("SIGTERM", () => process.exit(0));
