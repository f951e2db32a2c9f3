// Replay throughput of resumable sessions (issue 19): a ResumableWebSocket client gets its session, its
// connection is destroyed (the server does not notice), N messages are published to its topic, and the time
// from the reconnect to the last replayed message is measured. Memory store by default; `--redis=URL` uses
// RedisStreamStore (a redis-server you started: `redis-server --port 6390 --save "" --appendonly no`).
//
//   npm run build && node bench/micro/resume-replay.mjs [--messages=100000] [--size=64] [--runs=3] [--redis=URL]

import { WebSocket, WebSocketServer } from "../../dist/index.js";
import { ResumableWebSocket } from "../../dist/resume/client.js";

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=");
    return [key, value ?? "true"];
  }),
);
const messages = Number(args.messages ?? 100_000);
const size = Number(args.size ?? 64);
const runs = Number(args.runs ?? 3);

async function makeStore() {
  if (args.redis === undefined) return { store: undefined, close: async () => {} };
  const { createClient } = await import("redis");
  const { RedisStreamStore } = await import("../../dist/redis/index.js");
  const client = createClient({ url: args.redis });
  await client.connect();
  await client.flushAll();
  const store = new RedisStreamStore({ client, maxMessagesPerTopic: messages });
  return { store, close: async () => client.close() };
}

function until(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (predicate()) resolve();
      else if (Date.now() - started > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(check, 2);
    };
    check();
  });
}

async function run() {
  const { store, close } = await makeStore();
  const resume =
    store === undefined ? { maxMessagesPerTopic: messages } : { store, maxDisconnectionMs: 120_000 };
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", resume, maxBufferedBytes: 1 << 30 });
  await new Promise((resolve) => server.on("listening", resolve));
  server.on("connection", (socket) => {
    if (!socket.resumed) socket.subscribe("feed");
  });
  const url = `ws://127.0.0.1:${server.address().port}/`;
  let received = 0;
  let sessions = 0;
  let last = "";
  // The reconnect waits `--delay` ms (default 500, more for Redis), long enough for every append to settle:
  // the replay is timed from the resumed session's start to its last message.
  const delay = Number(args.delay ?? (args.redis === undefined ? 200 : 3000));
  const client = new ResumableWebSocket(url, { WebSocket, initialDelayMs: delay, maxDelayMs: delay });
  let resumedAt = 0n;
  client.addEventListener("message", (event) => {
    received++;
    last = event.position;
  });
  client.addEventListener("session", () => {
    sessions++;
    resumedAt = process.hrtime.bigint();
  });
  await until(() => sessions === 1 && server.subscriberCount("feed") === 1, 10_000, "the session");
  // The connection dies (the server ends it at once); the messages are published while the client is away.
  const [serverSide] = server.clients;
  serverSide.terminate();
  await until(() => !client.connected, 5000, "the disconnect");
  const payload = Buffer.alloc(size, 0x61);
  for (let i = 0; i < messages; i++) server.publish("feed", payload);
  const before = received;
  const publishedAt = process.hrtime.bigint();
  await until(() => received - before >= messages, 600_000, "the replay");
  if (resumedAt < publishedAt) throw new Error("the client was back before the publishes: raise --delay");
  const seconds = Number(process.hrtime.bigint() - resumedAt) / 1e9;
  client.close();
  server.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await close();
  return { seconds, last };
}

const rates = [];
for (let i = 0; i < runs; i++) {
  const { seconds } = await run();
  rates.push(messages / seconds);
  console.log(`run ${i + 1}: ${messages} × ${size} B replayed in ${(seconds * 1000).toFixed(0)} ms`);
}
rates.sort((a, b) => a - b);
console.log(
  `replay ${args.redis ? "RedisStreamStore" : "MemoryResumeStore"}: median ${Math.round(rates[rates.length >> 1]).toLocaleString("en-US")} messages/s`,
);
process.exit(0);
