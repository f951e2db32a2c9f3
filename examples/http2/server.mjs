// WebSockets over HTTP/2 (RFC 8441) and HTTP/1.1 on one TLS port: a node:http2 server with allowHTTP1, a page
// on every path and a WebSocket echo on /ws that says which HTTP version carried it.
// Run: npm run build, make a certificate (e.g.
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost \
//     -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
// ), then TLS_CERT=cert.pem TLS_KEY=key.pem node examples/http2/server.mjs   (PORT and HOST too)
import { readFileSync } from "node:fs";
import { createSecureServer } from "node:http2";
import { WebSocketServer } from "sockjet";

const { TLS_CERT, TLS_KEY } = process.env;
if (!TLS_CERT || !TLS_KEY) {
  console.error("set TLS_CERT and TLS_KEY to PEM files (browsers use HTTP/2 over TLS only)");
  process.exit(2);
}
const h2 = createSecureServer(
  { cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY), allowHTTP1: true },
  (request, response) => {
    response.writeHead(200, { "content-type": "text/plain" });
    response.end(`hello over HTTP/${request.httpVersion}\n`);
  },
);
// Attached to an http2 server, the WebSocket server turns on SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)
// for its sessions and takes both h2 extended CONNECTs and HTTP/1.1 upgrades on /ws.
const server = new WebSocketServer({ server: h2, path: "/ws", origins: "same-origin" });
server.on("connection", (socket, request) => {
  socket.send(`connected over HTTP/${request.httpVersion}`);
  socket.onmessage = (event) => socket.send(event.data);
});

// Open HTTP/2 sessions, to end them with GOAWAY on shutdown (h2.close() waits for them otherwise).
const sessions = new Set();
h2.on("session", (session) => {
  sessions.add(session);
  session.on("close", () => sessions.delete(session));
});

h2.listen(Number(process.env.PORT ?? 8443), process.env.HOST ?? "localhost", () => {
  console.log(`listening on https://localhost:${h2.address().port}/ (WebSocket: /ws)`);
});

process.once("SIGTERM", async () => {
  await server.close(); // every WebSocket, on h2 streams or HTTP/1.1: 1001 and its closing handshake
  h2.close(() => process.exit(0));
  for (const session of sessions) session.close(); // GOAWAY (RFC 9113 §6.8)
});
