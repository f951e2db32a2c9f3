// The server's CPU time per echoed message, without the load generator: one server connection (a
// WebSocketServer in noServer mode, the echo of bench/servers/sockjet-echo.mjs) on a real loopback TCP socket,
// fed bursts of `window` masked frames as 'data' events (a fresh buffer each, as Node's reads are); its
// answers go through the kernel to a peer in the same process that only counts them. The process's CPU time
// (user + system) per message is steadier on a busy machine than a rate, and small per-message changes
// show up in it. Compare builds by running them alternately (each prints the minimum and the median of its
// rounds), e.g. this tree's dist/ against a build of another commit:
//
//   npm run build && for i in 1 2 3; do for d in dist /tmp/base/dist; do
//     node bench/micro/server-echo-cpu.mjs $d 1024 [--text] [--arraybuffer]; done; done
//
// Options: --window=16 (frames per burst), --bursts=20000 (per round), --rounds=5.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dist = "dist", sizeArg = "32"] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
function option(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}
const size = Number(sizeArg);
const text = process.argv.includes("--text");
const arraybuffer = process.argv.includes("--arraybuffer");
const window = option("window", 16);
const bursts = option("bursts", size >= 4096 ? 4000 : 20000);
const rounds = option("rounds", 5);

const { WebSocketServer } = await import(pathToFileURL(`${resolve(dist)}/index.js`).href);
const server = new WebSocketServer({ noServer: true, perMessageDeflate: false, pingIntervalMs: 0 });

// A TCP pair: `socket` is the server's end, the peer counts what the echo sends.
const listener = createServer();
listener.listen(0, "127.0.0.1");
await once(listener, "listening");
const accepted = once(listener, "connection");
const peer = connect(listener.address().port, "127.0.0.1");
let answered = 0;
peer.on("data", (chunk) => {
  answered += chunk.length;
});
const [socket] = await accepted;
listener.close();

const headers = {
  host: "127.0.0.1",
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};
const request = {
  method: "GET",
  url: "/",
  httpVersion: "1.1",
  headers,
  rawHeaders: Object.entries(headers).flat(),
  socket,
};
let received = 0;
await new Promise((resolveOpen) =>
  server.handleUpgrade(request, socket, Buffer.alloc(0), (webSocket) => {
    webSocket.binaryType = arraybuffer ? "arraybuffer" : "nodebuffer";
    webSocket.onmessage = (event) => {
      received++;
      webSocket.send(event.data);
    };
    resolveOpen();
  }),
);

/** One masked client frame of `size` bytes: printable ASCII (text) or the same bytes as binary. */
function frame() {
  const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const bytes = Buffer.alloc(header + 4 + size);
  bytes[0] = 0x80 | (text ? 1 : 2);
  if (size < 126) bytes[1] = 0x80 | size;
  else if (size < 65536) {
    bytes[1] = 0x80 | 126;
    bytes.writeUInt16BE(size, 2);
  } else {
    bytes[1] = 0x80 | 127;
    bytes.writeUInt32BE(size, 6);
  }
  const key = randomBytes(4);
  key.copy(bytes, header);
  for (let i = 0; i < size; i++) bytes[header + 4 + i] = (0x20 + ((i * 7) % 95)) ^ key[i & 3];
  return bytes;
}
const burst = Buffer.concat(Array.from({ length: window }, frame));

async function run(count) {
  for (let i = 0; i < count; i++) {
    const chunk = Buffer.allocUnsafeSlow(burst.length);
    burst.copy(chunk);
    socket.emit("data", chunk);
    // Let the peer read now and then, as a real echo's peer does (the kernel's buffers stay unfilled).
    if ((i & 3) === 3) await new Promise((r) => setImmediate(r));
  }
}

await run(2000);
const perMessage = [];
for (let round = 0; round < rounds; round++) {
  const before = received;
  const start = process.cpuUsage();
  await run(bursts);
  const used = process.cpuUsage(start);
  perMessage.push(((used.user + used.system) * 1000) / (received - before));
}
perMessage.sort((a, b) => a - b);
const kind = `${text ? "text" : "binary"}${arraybuffer ? ", arraybuffer" : ""}`;
console.log(
  `${dist}: ${size} B ${kind}: min ${perMessage[0].toFixed(0)}, median ` +
    `${perMessage[perMessage.length >> 1].toFixed(0)} CPU ns per message (${answered > 0 ? "answered" : "NO ANSWERS"})`,
);
socket.destroy();
peer.destroy();
