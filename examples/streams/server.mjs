// A WebSocketStream echo: each connection's readable is piped into its own writable, so a client that stops
// reading its echo stops this server reading from it (backpressure through TCP, nothing piles up here).
// Run: npm run build && node examples/streams/server.mjs, then node examples/streams/client.mjs FILE
import { createServer } from "node:http";
import { WebSocketServer, WebSocketStream } from "sockjet";

const httpServer = createServer((_request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain" });
  response.end("hello from the streams example\n");
});
const server = new WebSocketServer({ server: httpServer, path: "/ws", origins: "same-origin" });
server.on("connection", async (socket) => {
  const stream = WebSocketStream.from(socket); // in the handler, so that no message can be missed
  try {
    const { readable, writable } = await stream.opened;
    // Until the client closes (its Close ends the readable; the closing handshake answers it).
    await readable.pipeTo(writable, { preventClose: true });
  } catch (error) {
    // A close that is not clean (the peer vanished: 1006) rejects; nothing to echo any more.
    console.log(`stream ended: ${error.message}`);
  }
});

httpServer.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "localhost", () => {
  console.log(`listening on http://localhost:${httpServer.address().port}/ (WebSocket: /ws)`);
});

process.once("SIGTERM", async () => {
  await server.close(); // every stream's socket: 1001 and its closing handshake
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
});
