// A WebSocket over HTTP/2 only (RFC 8441): http2 "always" fails rather than fall back to HTTP/1.1 ("auto"
// would). Sends one message, prints what the server says, and closes.
// Run: TLS_CA=cert.pem node examples/http2/client.mjs [URL]   (URL defaults to wss://localhost:8443/ws;
// TLS_CA: the server's self-signed certificate, trusted for this connection only)
import { readFileSync } from "node:fs";
import { WebSocket } from "sockjet";

const url = process.argv[2] ?? "wss://localhost:8443/ws";
const ca = process.env.TLS_CA ? readFileSync(process.env.TLS_CA) : undefined;
const socket = new WebSocket(url, [], { http2: "always", ca });
let received = 0;
socket.onopen = () => socket.send("hello over h2");
socket.onmessage = (event) => {
  console.log(event.data);
  if (++received === 2) socket.close(1000, "done"); // the greeting, then the echo
};
socket.onerror = (event) => console.error(`error: ${event.message}`);
socket.onclose = (event) => {
  console.log(`closed ${event.code}`);
  process.exitCode = event.code === 1000 ? 0 : 1;
};
