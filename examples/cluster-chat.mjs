// A chat on every core of one machine, without Redis: node:cluster workers on one port, their topics
// carried through the primary (ClusterAdapter in each worker, one ClusterRelay in the primary).
// Run: npm run build && node examples/cluster-chat.mjs   (PORT, HOST and WORKERS from the environment)
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { ClusterAdapter, ClusterRelay, WebSocketServer } from "sockjet";

if (cluster.isPrimary) {
  new ClusterRelay(); // before the workers subscribe
  const workers = Number(process.env.WORKERS ?? availableParallelism());
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on("listening", (_worker, address) => {
    if (++listening === workers)
      console.log(`listening on http://localhost:${address.port}/ (${workers} workers)`);
  });
  // Shutdown on SIGTERM, or Ctrl-C (SIGINT to the whole process group): the primary tells each worker to
  // stop, each closes its WebSockets with 1001, then the primary exits.
  const stop = () => {
    cluster.on("exit", () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0));
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} else {
  // Every worker listens on the same port: the primary hands it the connections.
  const server = new WebSocketServer({
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? "localhost",
    adapter: new ClusterAdapter(),
  });
  server.on("error", (error) => console.error(error.message)); // e.g. the primary is gone
  server.on("connection", (socket) => {
    socket.subscribe("chat");
    socket.onmessage = (event) => socket.publish("chat", event.data); // everyone else, on every worker
  });
  // The primary stops us (SIGTERM); Ctrl-C reaches us too, and is the primary's to handle.
  process.on("SIGINT", () => {});
  let closing;
  process.on("SIGTERM", () => (closing ??= server.close().then(() => process.exit(0))));
}
