// What an idle server connection keeps on the JavaScript heap: opens N connections to a sockjet server in this
// process (the built package, dist/) with the C load generator's idle mode, then prints the heap used per
// connection and, from a heap snapshot, the object types with about one instance or more per connection.
//
//   npm run build && node --expose-gc bench/micro/idle-memory.mjs [connections=2000]
//
// The benchmark's idle-memory figure is the server's RSS per connection (bench/run.ts); this shows what the
// JavaScript part of it is made of. bench/out/loadgen is built by `npm run bench` (or bench/lib.ts).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";

const N = Number(process.argv[2] ?? 2000);
const loadgen = new URL("../out/loadgen", import.meta.url).pathname;
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: run npm run bench once (it builds it)`);
if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const { WebSocketServer } = await import("../../dist/index.js");

const server = new WebSocketServer({ port: 0, host: "127.0.0.1", pingIntervalMs: 0 });
await once(server, "listening");
server.on("connection", (socket) => {
  socket.binaryType = "nodebuffer";
  socket.onmessage = (event) => socket.send(event.data);
});
globalThis.gc();
const before = process.memoryUsage().heapUsed;
const idle = spawn(loadgen, ["-p", String(server.address().port), "-c", String(N), "-I", "60", "-q"], {
  stdio: ["ignore", "pipe", "inherit"],
});
await new Promise((resolve, reject) => {
  idle.stdout.on("data", (d) => String(d).includes("READY") && resolve());
  idle.on("exit", () => reject(new Error("the load generator exited before READY")));
});
await new Promise((resolve) => setTimeout(resolve, 300));
globalThis.gc();
globalThis.gc();
const after = process.memoryUsage().heapUsed;
console.log(
  `${server.clients.size} idle connections: ${((after - before) / N).toFixed(0)} B of JS heap each`,
);

const file = join(tmpdir(), `sockjet-idle-${process.pid}.heapsnapshot`);
v8.writeHeapSnapshot(file);
idle.kill();
const snapshot = JSON.parse(readFileSync(file, "utf8"));
rmSync(file, { force: true });
const { node_fields: fields, node_types: nodeTypes } = snapshot.snapshot.meta;
const [types] = nodeTypes;
const typeAt = fields.indexOf("type");
const nameAt = fields.indexOf("name");
const sizeAt = fields.indexOf("self_size");
const byName = new Map();
for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
  const type = types[snapshot.nodes[i + typeAt]];
  if (type !== "object" && type !== "closure") continue;
  const name = `${type === "closure" ? "closure " : ""}${snapshot.strings[snapshot.nodes[i + nameAt]] || "(anonymous)"}`;
  const entry = byName.get(name) ?? { count: 0, bytes: 0 };
  entry.count++;
  entry.bytes += snapshot.nodes[i + sizeAt];
  byName.set(name, entry);
}
console.log("per connection (object types with at least 0.9 instances per connection), self size:");
for (const [name, { count, bytes }] of [...byName]
  .filter(([, e]) => e.count >= N * 0.9)
  .sort((a, b) => b[1].bytes - a[1].bytes)
  .slice(0, 25)) {
  console.log(`${(bytes / N).toFixed(0).padStart(6)} B  ${(count / N).toFixed(2).padStart(5)}×  ${name}`);
}
await server.close();
process.exit(0);
