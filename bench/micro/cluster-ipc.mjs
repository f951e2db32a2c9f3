// How fast the ClusterAdapter carries publishes (binary, or text) from one worker to another through the primary's
// ClusterRelay, with node:cluster's default JSON channel (binary as base64) and with serialization
// "advanced" (structured clone, binary as bytes): decides which one `sockjet serve --workers` uses.
//
//   npm run build && node bench/micro/cluster-ipc.mjs json|advanced [size=1024] [count=20000] [binary|text]
//
// Prints the messages per second from the first publish to the last delivery (one publisher, one subscriber
// worker; a window of 100 publishes in flight).
import cluster from "node:cluster";
import { ClusterAdapter, ClusterRelay } from "../../dist/index.js";

const [mode = "json", sizeArg = "1024", countArg = "20000", kind = "binary"] = process.argv.slice(2);
const isText = kind === "text";
const size = Number(sizeArg);
const count = Number(countArg);

if (cluster.isPrimary) {
  cluster.setupPrimary({ serialization: mode === "advanced" ? "advanced" : "json" });
  const relay = new ClusterRelay();
  const next = (worker, key) =>
    new Promise((resolve) => worker.on("message", (m) => m[key] && resolve(m[key])));
  const subscriber = cluster.fork({ ROLE: "sub" });
  await next(subscriber, "ready");
  const publisher = cluster.fork({ ROLE: "pub" });
  const [start, end] = await Promise.all([next(publisher, "start"), next(subscriber, "done")]);
  const seconds = (end - start) / 1000;
  console.log(
    `${mode} ${kind} ${size} B × ${count}: ${Math.round(count / seconds)} msg/s, ${((size * count) / seconds / 2 ** 20).toFixed(0)} MiB/s`,
  );
  relay.close();
  subscriber.kill();
  publisher.kill();
} else {
  const adapter = new ClusterAdapter();
  if (process.env.ROLE === "sub") {
    let received = 0;
    adapter.onMessage((message) => {
      if (message.payload.length !== size) throw new Error("wrong size");
      if (++received === count) process.send({ done: Date.now() });
    });
    await adapter.subscribe("t");
    process.send({ ready: true });
  } else {
    const payload = Buffer.alloc(size, isText ? "x" : 7);
    process.send({ start: Date.now() });
    let last = Promise.resolve();
    for (let i = 0; i < count; i++) {
      last = adapter.publish({ topic: "t", payload, isText });
      if (i % 100 === 99) await last;
    }
  }
}
