// Fastify serves HTTP; the WebSocket server takes the upgrade requests of fastify.server (Fastify's routes
// never see them: Node's http.Server emits upgrades as 'upgrade', not as requests).
// Run: npm run build && node examples/fastify.mjs   (PORT and HOST from the environment)
import Fastify from "fastify";
import { WebSocketServer } from "sockjet";

// forceCloseConnections: close() ends every HTTP connection, also the spare ones browsers keep open that
// never send a request (the default, "idle", leaves those, and close() waits for them).
const fastify = Fastify({ forceCloseConnections: true });
fastify.get("/", async () => "hello from Fastify\n");

const server = new WebSocketServer({ server: fastify.server, path: "/ws", origins: "same-origin" });
server.on("connection", (socket) => {
  socket.onmessage = (event) => socket.send(event.data);
});
// fastify.close() waits for every open connection: close the WebSockets (1001) first.
fastify.addHook("preClose", async () => {
  await server.close();
});

await fastify.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? "localhost" });
console.log(`listening on http://localhost:${fastify.server.address().port}/ (WebSocket: /ws)`);

process.once("SIGTERM", async () => {
  await fastify.close();
  process.exit(0);
});
