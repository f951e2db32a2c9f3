// sockjet echo server: every message goes back as it came (text as text, binary as binary).
// Usage: node bench/servers/sockjet-echo.mjs [--deflate] [--arraybuffer] [--sweep-in-pause] [port]
// (0 = any free port) — prints "LISTENING <port>".
// --deflate: `perMessageDeflate: true` (the server's defaults) instead of false.
// --arraybuffer: `binaryType = "arraybuffer"` (the browser's type) instead of "nodebuffer" (Buffers, as ws hands
// its listeners): the difference is one new ArrayBuffer per message, which V8 makes slowly (~310 ns at 32 B
// on one core; more when V8's thread that frees them runs on another: bench/micro/arraybuffer.mjs).
// --sweep-in-pause: V8's --no-concurrent-array-buffer-sweeping, set at run time (docs/ARCHITECTURE.md, "Many
// small ArrayBuffers and V8's sweeping thread", says what it gains and costs, and why sockjet does not set it).
//
// It runs the built package (dist/, made by `npm run build`, which `npm run bench` runs first), as users
// run it: not through tsx, whose transform (e.g. esbuild's name-keeping helpers) changes speed and memory.

function fail(error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`ERROR ${message.split("\n")[0]}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const deflate = args.includes("--deflate");
const binaryType = args.includes("--arraybuffer") ? "arraybuffer" : "nodebuffer";
if (args.includes("--sweep-in-pause")) {
  const { setFlagsFromString } = await import("node:v8");
  setFlagsFromString("--no-concurrent-array-buffer-sweeping");
}
const port = Number(args.find((a) => /^\d+$/.test(a)) ?? 0);
let WebSocketServer;
try {
  ({ WebSocketServer } = await import("../../dist/index.js"));
} catch (error) {
  fail(error);
}

try {
  const server = new WebSocketServer({
    port,
    host: "127.0.0.1",
    perMessageDeflate: deflate,
    pingIntervalMs: 0,
  });
  server.on("error", fail);
  server.on("listening", () => console.log(`LISTENING ${server.address().port}`));
  server.on("connection", (socket) => {
    socket.binaryType = binaryType;
    socket.onmessage = (event) => socket.send(event.data);
  });
} catch (error) {
  fail(error);
}

// Exit cleanly on SIGTERM (the benchmark stops servers so), which lets `node --cpu-prof` write its profile
// (bench/profile.ts).
process.on("SIGTERM", () => process.exit(0));
