// Memory per idle connection of `sockjet serve` next to the library's plain echo server, measured the same way
// in the same kind of process: N idle WebSocket connections from the C load generator's idle mode to "/", then
// the JS heap (after GC) and the RSS per connection, and from a heap snapshot the object types with about one
// instance or more per connection.
//
//   npm run build && node --expose-gc bench/micro/serve-idle-memory.mjs serve   [connections=5000]
//   npm run build && node --expose-gc bench/micro/serve-idle-memory.mjs library [connections=5000]
//
// `serve` runs the real command (dist/cli/serve.js) in this process with its defaults (deflate on, which
// the load generator does not offer; pings every 30 s); `library` is `new WebSocketServer({ port })` with an
// echo handler and the library's defaults. bench/out/loadgen: `gcc -O2 -o bench/out/loadgen
// bench/loadgen/loadgen.c` (or `npm run bench` once).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";

const mode = process.argv[2];
const N = Number(process.argv[3] ?? 5000);
if (mode !== "serve" && mode !== "library") throw new Error("usage: serve-idle-memory.mjs serve|library [N]");
const loadgen = new URL("../out/loadgen", import.meta.url).pathname;
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: see the comment at the top`);
if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");

/** Starts the server; resolves with its port. */
async function start() {
  if (mode === "library") {
    const { WebSocketServer } = await import("../../dist/index.js");
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    server.on("connection", (socket) => {
      socket.binaryType = "arraybuffer";
      socket.addEventListener("message", (event) => socket.send(event.data));
    });
    return server.address().port;
  }
  const { serve } = await import("../../dist/cli/serve.js");
  // The command prints its port in its banner; read it from there.
  const write = process.stdout.write.bind(process.stdout);
  let banner = "";
  const port = new Promise((resolve) => {
    process.stdout.write = (chunk, ..._rest) => {
      banner += String(chunk);
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(banner);
      if (match !== null) {
        process.stdout.write = write;
        resolve(Number(match[1]));
      }
      return true;
    };
  });
  // Every idle connection comes from 127.0.0.1: lift the per-address limit (default 100).
  void serve.run(["--port", "0", "--host", "127.0.0.1", "--quiet", "--max-connections-per-ip", "0"]);
  return port;
}

const port = await start();
// Warm up (code, lazily made shapes), as the benchmark does, then measure from a collected heap.
await idleClients(100, 200).then((client) => client.stop());
globalThis.gc();
globalThis.gc();
const before = process.memoryUsage();
const client = await idleClients(N, 300);
globalThis.gc();
globalThis.gc();
const after = process.memoryUsage();
console.log(
  `${mode}: ${N} idle connections: ${((after.heapUsed - before.heapUsed) / N).toFixed(0)} B of JS heap and ` +
    `${((after.rss - before.rss) / N).toFixed(0)} B of RSS each (node ${process.version})`,
);

const file = join(tmpdir(), `sockjet-serve-idle-${process.pid}.heapsnapshot`);
v8.writeHeapSnapshot(file);
client.stop();
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
  if (type !== "object" && type !== "closure" && type !== "array") continue;
  const name = `${type === "closure" ? "closure " : type === "array" ? "array " : ""}${snapshot.strings[snapshot.nodes[i + nameAt]] || "(anonymous)"}`;
  const entry = byName.get(name) ?? { count: 0, bytes: 0 };
  entry.count++;
  entry.bytes += snapshot.nodes[i + sizeAt];
  byName.set(name, entry);
}
console.log("per connection (object types with at least 0.9 instances per connection), self size:");
for (const [name, { count, bytes }] of [...byName]
  .filter(([, e]) => e.count >= N * 0.9)
  .sort((a, b) => b[1].bytes - a[1].bytes)
  .slice(0, 30)) {
  console.log(`${(bytes / N).toFixed(0).padStart(6)} B  ${(count / N).toFixed(2).padStart(5)}×  ${name}`);
}
process.exit(0);

/** `count` idle connections from the load generator, open once it says READY (plus `settleMs`). */
async function idleClients(count, settleMs) {
  const child = spawn(loadgen, ["-p", String(port), "-c", String(count), "-I", "600", "-q"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => String(d).includes("READY") && resolve());
    child.on("exit", () => reject(new Error("the load generator exited before READY")));
  });
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  return {
    stop() {
      child.removeAllListeners("exit");
      child.kill();
    },
  };
}
