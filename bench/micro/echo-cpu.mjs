// CPU time per echoed message, client and server in one process over real loopback TCP: on a busy machine
// the process's CPU time (user + system) for a fixed amount of work is a steadier figure than a rate. Each
// contender runs `rounds` times, interleaved round by round; the minimum and median µs per message are shown,
// and the median of user time alone (the kernel's share of loopback TCP is charged to whichever process
// happens to run, so system time is the noisier part), and minor page faults per message (fresh memory
// touched: large buffers allocated per message). Run each contender alone (one name per run) for page
// faults that are its own: in one process they share the heap.
// A contender is a dist folder (sockjet's WebSocketServer + WebSocket, binaryType "nodebuffer",
// perMessageDeflate off) or "ws" (npm ws with bufferutil on both ends).
//
//   npm run build && node bench/micro/echo-cpu.mjs [--size=65536] [--window=16] [--messages=3000]
//                                                  [--rounds=7] [dist | ws] …   (default: this tree's dist/, ws)
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

function option(name, fallback) {
  const arg = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`));
  return Number(arg === undefined ? fallback : arg.slice(name.length + 3));
}
const size = option("size", 65536);
const window = option("window", 16);
const messages = option("messages", size >= 1 << 20 ? 300 : 3000);
const rounds = option("rounds", 7);
const names = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (names.length === 0) names.push(new URL("../../dist", import.meta.url).pathname, "ws");

async function sockjetPair(dist) {
  const { WebSocket, WebSocketServer } = await import(pathToFileURL(`${resolve(dist)}/index.js`).href);
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (socket) => {
    socket.binaryType = "nodebuffer";
    socket.onmessage = (event) => socket.send(event.data);
  });
  const client = new WebSocket(`ws://127.0.0.1:${server.address().port}/`, [], { perMessageDeflate: false });
  client.binaryType = "nodebuffer";
  await new Promise((r, j) => {
    client.onopen = r;
    client.onerror = j;
  });
  return {
    send: (data) => client.send(data),
    onMessage: (fn) => {
      client.onmessage = (event) => fn(event.data);
    },
    close: async () => {
      client.close();
      await new Promise((r) => server.close(r));
    },
  };
}

async function wsPair() {
  const { WebSocket, WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (socket) =>
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  const client = new WebSocket(`ws://127.0.0.1:${server.address().port}/`, { perMessageDeflate: false });
  await new Promise((r, j) => {
    client.once("open", r);
    client.once("error", j);
  });
  let handler = () => {};
  client.on("message", (data) => handler(data));
  return {
    send: (data) => client.send(data),
    onMessage: (fn) => {
      handler = fn;
    },
    close: async () => {
      client.terminate();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Echoes `messages` messages with `window` in flight; every echo's length is checked. µs CPU per message. */
function run(pair, payload) {
  return new Promise((resolveRun, reject) => {
    let sent = 0;
    let received = 0;
    const start = process.cpuUsage();
    const faults = process.resourceUsage().minorPageFault;
    pair.onMessage((data) => {
      if (data.length !== payload.length) reject(new Error(`echo of ${data.length} bytes`));
      received++;
      if (sent < messages) {
        sent++;
        pair.send(payload);
      }
      if (received === messages) {
        const used = process.cpuUsage(start);
        const faulted = process.resourceUsage().minorPageFault - faults;
        resolveRun([(used.user + used.system) / messages, used.user / messages, faulted / messages]);
      }
    });
    for (; sent < window && sent < messages; sent++) pair.send(payload);
  });
}

const payload = Buffer.alloc(size, 0x5a);
const pairs = [];
for (const name of names) pairs.push(name === "ws" ? await wsPair() : await sockjetPair(name));
const samples = names.map(() => []);
const userSamples = names.map(() => []);
const faultSamples = names.map(() => []);
for (let round = 0; round < rounds + 1; round++) {
  for (const [i, pair] of pairs.entries()) {
    const [us, user, faulted] = await run(pair, payload);
    // Round 0 warms up.
    if (round > 0) {
      samples[i].push(us);
      userSamples[i].push(user);
      faultSamples[i].push(faulted);
    }
  }
}
console.log(
  `CPU µs per echoed message (client + server), ${size} B, ${window} in flight, ${messages} messages × ${rounds}:`,
);
for (const [i, name] of names.entries()) {
  const s = samples[i].sort((a, b) => a - b);
  const u = userSamples[i].sort((a, b) => a - b);
  const pf = faultSamples[i].sort((a, b) => a - b);
  const f = (n) => n.toFixed(1).padStart(7);
  console.log(
    `  min ${f(s[0])}  median ${f(s[s.length >> 1])}  (user only: median ${f(u[u.length >> 1])}; ` +
      `page faults per message: median ${f(pf[pf.length >> 1])})  ${name}`,
  );
}
for (const pair of pairs) await pair.close();
