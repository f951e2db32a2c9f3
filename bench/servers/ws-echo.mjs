// npm `ws` echo server (with bufferutil when it loads), permessage-deflate off.
// Usage: node bench/servers/ws-echo.mjs [--deflate] [port]   (0 = any free port) — prints "LISTENING <port>".
// --deflate: `perMessageDeflate: true` (ws's defaults) instead of false.
import { WebSocketServer } from "ws";

const args = process.argv.slice(2);
const deflate = args.includes("--deflate");
const port = Number(args.find((a) => /^\d+$/.test(a)) ?? 0);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: deflate });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("error", () => ws.terminate());
});
wss.on("error", (err) => {
  console.error(`ERROR ${err.message}`);
  process.exit(1);
});
wss.on("listening", () => {
  console.log(`LISTENING ${wss.address().port}`);
});

// Exit cleanly on SIGTERM (the benchmark stops servers so), which lets `node --cpu-prof` write its profile
// (bench/profile.ts).
process.on("SIGTERM", () => process.exit(0));
