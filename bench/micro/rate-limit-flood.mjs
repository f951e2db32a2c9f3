// What a flood from one peer costs the server, with and without a per-connection rate limit (issue 18): a
// raw TCP client sends N frames of one kind (pings, empty binary messages, 16-byte text messages) as fast as
// TCP takes them, and reads whatever comes back. The server (the built package) runs in a child process; it
// reports its CPU time (process.cpuUsage, user + system) and its peak RSS and heap (sampled every 20 ms)
// from the first byte of the flood until the flood is over: every frame answered or consumed (no limit),
// the connection closed (close), or the time given is up (pause).
//
//   npm run build && node bench/micro/rate-limit-flood.mjs [frames=1000000] [--kind=ping|empty|text]
//       [--limit=none|close|pause] [--rate=100] [--seconds=3]
import { fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";

const args = process.argv.slice(2);
const option = (name, fallback) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const frames = Number(args.find((a) => !a.startsWith("--")) ?? 1_000_000);
const kind = option("kind", "ping");
const limit = option("limit", "none");
const rate = Number(option("rate", 100));
const seconds = Number(option("seconds", 3));

async function runServer() {
  const { WebSocketServer } = await import(new URL("../../dist/index.js", import.meta.url).href);
  const rateLimit =
    limit === "none" ? null : { framesPerSecond: rate, frameBurst: 2 * rate, onExceeded: limit };
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", pingIntervalMs: 0, rateLimit });
  await once(server, "listening");
  let messages = 0;
  server.on("connection", (socket) => {
    socket.binaryType = "nodebuffer";
    socket.onmessage = () => messages++;
  });
  let cpu = null;
  let peakRss = 0;
  let peakHeap = 0;
  let baseRss = 0;
  let baseHeap = 0;
  let sampler = null;
  process.on("message", (command) => {
    if (command === "start") {
      globalThis.gc?.();
      baseRss = process.memoryUsage.rss();
      baseHeap = process.memoryUsage().heapUsed;
      peakRss = baseRss;
      peakHeap = baseHeap;
      cpu = process.cpuUsage();
      sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      }, 20);
      process.send({ type: "started" });
    } else if (command === "report") {
      const used = process.cpuUsage(cpu);
      process.send({
        type: "report",
        cpuSeconds: (used.user + used.system) / 1e6,
        peakRssMiB: (peakRss - baseRss) / 2 ** 20,
        peakHeapMiB: (peakHeap - baseHeap) / 2 ** 20,
        messages,
      });
    } else if (command === "stop") {
      clearInterval(sampler);
      for (const client of server.clients) client.terminate();
      server.close().then(() => process.exit(0));
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "listening", port: server.address().port });
}

/** A masked client frame with an all-zero masking key (the payload is then sent as is). */
function frame(opcode, payload) {
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

async function runClient() {
  const child = fork(new URL(import.meta.url).pathname, [...args, "--server"], {
    execArgv: ["--expose-gc"],
    stdio: "inherit",
  });
  const [{ port }] = await once(child, "message");
  const one =
    kind === "ping"
      ? frame(0x9, Buffer.alloc(0))
      : kind === "empty"
        ? frame(0x2, Buffer.alloc(0))
        : frame(0x1, Buffer.from("0123456789abcdef"));
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let received = 0;
  let head = true;
  socket.on("data", (chunk) => {
    if (head) {
      head = false;
      return;
    }
    // Pongs to empty pings are 2 bytes each (8a 00); a Close from the server ends them.
    for (let i = 0; i + 1 < chunk.length && chunk[i] === 0x8a && chunk[i + 1] === 0; i += 2) received += 2;
  });
  await new Promise((r) => setTimeout(r, 100));
  child.send("start");
  await once(child, "message");
  const started = performance.now();
  // The flood, 64 KiB per write, as fast as TCP takes it.
  const batch = Buffer.concat(Array.from({ length: Math.floor(65536 / one.length) }, () => one));
  const perBatch = batch.length / one.length;
  let sent = 0;
  const closed = new Promise((resolve) => socket.once("close", resolve));
  let over = false;
  let timeUp = () => {};
  const timesUp = new Promise((resolve) => (timeUp = resolve));
  const deadline =
    limit === "pause"
      ? setTimeout(() => {
          over = true;
          timeUp();
        }, seconds * 1000)
      : null;
  while (sent < frames && !over && !socket.destroyed) {
    const n = Math.min(perBatch, frames - sent);
    const ok = socket.write(n === perBatch ? batch : batch.subarray(0, n * one.length));
    sent += n;
    if (!ok) await Promise.race([once(socket, "drain").catch(() => {}), closed, timesUp]);
  }
  if (limit === "none") {
    // Every ping answered (2-byte pongs), or every message consumed (the server is idle again).
    const expectPongs = kind === "ping" ? frames * 2 : 0;
    while (received < expectPongs) await new Promise((r) => setTimeout(r, 10));
    if (kind !== "ping") await waitForQuiet(child);
  } else if (limit === "close") {
    // Closed by the server, or (a limit the flood stays under) every frame taken.
    await Promise.race([closed, kind === "ping" ? closed : waitForQuiet(child)]);
  } else {
    while (!over) await new Promise((r) => setTimeout(r, 10));
  }
  clearTimeout(deadline);
  const elapsed = (performance.now() - started) / 1000;
  child.send("report");
  const [report] = await once(child, "message");
  console.log(
    `${kind} flood, limit ${limit}${limit === "none" ? "" : ` (${rate} frames/s, burst ${2 * rate})`}: ` +
      `${sent} frames sent in ${elapsed.toFixed(2)} s, ${kind === "ping" ? `${received / 2} pongs` : `${report.messages} messages`} back; ` +
      `server CPU ${report.cpuSeconds.toFixed(2)} s, peak +${report.peakRssMiB.toFixed(1)} MiB RSS, ` +
      `+${report.peakHeapMiB.toFixed(1)} MiB heap${socket.destroyed ? "; closed by the server" : ""}`,
  );
  socket.destroy();
  child.send("stop");
  await once(child, "exit");
}

/** Waits until the server has taken every message (its count stops moving). */
async function waitForQuiet(child) {
  let last = -1;
  for (;;) {
    child.send("report");
    const [report] = await once(child, "message");
    if (report.messages >= frames || report.messages === last) return;
    last = report.messages;
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (args.includes("--server")) await runServer();
else await runClient();
