// A WebSocket endpoint on a plain node:http server: HTTP on every path, WebSocket on /ws (an echo).
// Run: npm run build && node examples/node-http.mjs   (PORT and HOST from the environment)
import { createServer } from "node:http";
import { WebSocketServer } from "sockjet";

const httpServer = createServer((_request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain" });
  response.end("hello from node:http\n");
});
// Attached mode: the server handles the upgrades of /ws and leaves every other request to httpServer.
const server = new WebSocketServer({ server: httpServer, path: "/ws", origins: "same-origin" });
server.on("connection", (socket) => {
  socket.onmessage = (event) => socket.send(event.data);
});

httpServer.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "localhost", () => {
  console.log(`listening on http://localhost:${httpServer.address().port}/ (WebSocket: /ws)`);
});

// Graceful shutdown: every WebSocket is closed with 1001, then the HTTP server.
process.once("SIGTERM", async () => {
  await server.close();
  httpServer.close(() => process.exit(0));
  // Browsers keep spare connections open that never send a request; close() would wait for them.
  httpServer.closeAllConnections();
});
