// sockjet echo server over HTTP/2 and HTTP/1.1 + TLS on one port (`http2: true` + `tls`): every message goes
// back as it came. Usage: node bench/servers/sockjet-h2-echo.mjs CERT.pem KEY.pem [port]   (0 = any free port)
// — prints "LISTENING <port>". Runs the built package (dist/), like bench/servers/sockjet-echo.mjs.
import { readFileSync } from "node:fs";

function fail(error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`ERROR ${message.split("\n")[0]}`);
  process.exit(1);
}

const [certPath, keyPath, portText] = process.argv.slice(2);
if (!certPath || !keyPath) fail("usage: sockjet-h2-echo.mjs CERT.pem KEY.pem [port]");
let WebSocketServer;
try {
  ({ WebSocketServer } = await import("../../dist/index.js"));
} catch (error) {
  fail(error);
}

try {
  const server = new WebSocketServer({
    port: Number(portText ?? 0),
    host: "127.0.0.1",
    http2: true,
    tls: { cert: readFileSync(certPath), key: readFileSync(keyPath) },
    perMessageDeflate: false,
    pingIntervalMs: 0,
    maxConnections: 1e6,
  });
  server.on("error", fail);
  server.on("listening", () => console.log(`LISTENING ${server.address().port}`));
  server.on("connection", (socket) => {
    socket.binaryType = "nodebuffer";
    socket.onmessage = (event) => socket.send(event.data);
  });
} catch (error) {
  fail(error);
}

process.on("SIGTERM", () => process.exit(0));
