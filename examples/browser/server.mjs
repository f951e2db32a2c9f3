// A page and its server: GET / serves index.html, whose script talks to /ws with nothing but the browser's
// WebSocket. Run: npm run build && node examples/browser/server.mjs, then open http://localhost:8080/
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { WebSocketServer } from "sockjet";

const page = readFileSync(new URL("index.html", import.meta.url));
const httpServer = createServer((request, response) => {
  if (request.url !== "/") {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  response.end(page);
});
// Only this page's origin may connect: another site's page could otherwise use the visitor's cookies here.
const server = new WebSocketServer({ server: httpServer, path: "/ws", origins: "same-origin" });
server.on("connection", (socket) => {
  socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
});

httpServer.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "localhost", () => {
  console.log(`listening on http://localhost:${httpServer.address().port}/ (WebSocket: /ws)`);
});

process.once("SIGTERM", async () => {
  await server.close(); // every WebSocket: 1001 and its closing handshake
  httpServer.close(() => process.exit(0));
  // Browsers keep spare connections open that never send a request; close() would wait for them.
  httpServer.closeAllConnections();
});
