// One chat room across several processes: each process has its own clients, and Redis carries every
// publish to the others. Run two, then connect clients to both:
//   redis-server --port 6379 &
//   PORT=8080 node examples/redis-chat.mjs &
//   PORT=8081 node examples/redis-chat.mjs &
// Needs the `redis` package (node-redis), an optional peer dependency of sockjet.
import { WebSocketServer } from "sockjet";
import { RedisAdapter } from "sockjet/redis";

const adapter = new RedisAdapter({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
const server = new WebSocketServer({
  port: Number(process.env.PORT ?? 8080),
  host: process.env.HOST ?? "localhost",
  adapter,
});
server.on("error", (error) => console.error(error.message)); // e.g. a publish while Redis is down
server.on("listening", () => {
  console.log(`listening on http://localhost:${server.address().port}/ (WebSocket: /)`);
});
server.on("connection", async (socket) => {
  socket.subscribe("chat");
  socket.onmessage = (event) => socket.publish("chat", event.data); // everyone else, on every process
  // Once Redis has the subscription, messages from the other processes arrive: say so.
  await server.adapterSettled();
  socket.send("joined");
});

process.once("SIGTERM", async () => {
  await server.close(); // closes every client with 1001, then the adapter's Redis connections
  process.exit(0);
});
