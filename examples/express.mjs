// Express serves HTTP; the WebSocket server attaches to the http.Server that app.listen() returns.
// Run: npm run build && node examples/express.mjs   (PORT and HOST from the environment)
import express from "express";
import { WebSocketServer } from "sockjet";

const app = express();
app.get("/", (_request, response) => {
  response.type("text/plain").send("hello from Express\n");
});

const httpServer = app.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? "localhost", () => {
  console.log(`listening on http://localhost:${httpServer.address().port}/ (WebSocket: /ws)`);
});
// Express never sees upgrade requests: Node's http.Server emits them as 'upgrade', which sockjet handles.
const server = new WebSocketServer({ server: httpServer, path: "/ws", origins: "same-origin" });
server.on("connection", (socket) => {
  socket.onmessage = (event) => socket.send(event.data);
});

process.once("SIGTERM", async () => {
  await server.close();
  httpServer.close(() => process.exit(0));
  // Browsers keep spare connections open that never send a request; close() would wait for them.
  httpServer.closeAllConnections();
});
