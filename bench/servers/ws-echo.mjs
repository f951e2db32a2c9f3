// npm `ws` echo server (with bufferutil when it loads), permessage-deflate off.
// Usage: node bench/servers/ws-echo.mjs [port]   (0 = any free port) — prints "LISTENING <port>".
import { WebSocketServer } from "ws";

const port = Number(process.argv[2] ?? 0);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
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
