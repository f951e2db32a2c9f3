// Not a WebSocket implementation: a lower bound on what a JavaScript echo of small WebSocket messages costs
// on Node, for judging how far the real server is from it. It answers the handshake, then handles only
// masked frames of up to 125 bytes, echoes each as binary, and writes once per read — no validation, no
// close handshake, no events unless --events, which wraps each message in a MessageEvent dispatched to one
// listener, as the WHATWG API must.
//
//   node bench/micro/minimal-echo.mjs [--events]          prints LISTENING <port>; then, pinned like the bench:
//   taskset -c 1 bench/out/loadgen -p PORT -c 64 -w 16 -s 32 -d 5
// (the load generator reports errors at the end, when this server ignores its Close frames.)
import { createHash } from "node:crypto";
import { createServer } from "node:http";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455 §1.3
const events = process.argv.includes("--events");
const server = createServer();

server.on("upgrade", (request, socket) => {
  const accept = createHash("sha1").update(`${request.headers["sec-websocket-key"]}${GUID}`).digest("base64");
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.setNoDelay(true);
  let pending = null;
  let out = [];
  let outBytes = 0;
  const send = (payload) => {
    const frame = Buffer.allocUnsafe(payload.length + 2);
    frame[0] = 0x82;
    frame[1] = payload.length;
    frame.set(payload, 2);
    out.push(frame);
    outBytes += frame.length;
  };
  let deliver = send;
  if (events) {
    const target = new EventTarget();
    target.addEventListener("message", (event) => send(event.data));
    deliver = (data) => target.dispatchEvent(new MessageEvent("message", { data }));
  }
  socket.on("data", (data) => {
    let chunk = data;
    if (pending !== null) {
      chunk = Buffer.concat([pending, chunk]);
      pending = null;
    }
    let at = 0;
    while (at + 6 <= chunk.length) {
      const length = chunk[at + 1] & 0x7f;
      if (at + 6 + length > chunk.length) break;
      const k0 = chunk[at + 2];
      const k1 = chunk[at + 3];
      const k2 = chunk[at + 4];
      const k3 = chunk[at + 5];
      const payload = chunk.subarray(at + 6, at + 6 + length);
      for (let i = 0; i < length; i += 4) {
        payload[i] ^= k0;
        payload[i + 1] ^= k1;
        payload[i + 2] ^= k2;
        payload[i + 3] ^= k3;
      }
      deliver(payload);
      at += 6 + length;
    }
    if (at < chunk.length) pending = chunk.subarray(at);
    if (out.length > 0) {
      socket.write(out.length === 1 ? out[0] : Buffer.concat(out, outBytes));
      out = [];
      outBytes = 0;
    }
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => console.log(`LISTENING ${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
