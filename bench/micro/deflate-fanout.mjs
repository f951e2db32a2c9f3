// What a topic publish costs the server when its subscribers negotiated permessage-deflate (issue 22 item 5):
// M chat messages of ~1,000 characters published to N subscribers, the server in a child process (the built
// package), its CPU time (process.cpuUsage: user + system, zlib's thread pool included) from the first
// publish until every subscriber has received every message. The subscribers are raw TCP clients in this
// process that offer deflate as browsers do and count frames (they do not inflate: only the server is
// measured).
//
//   npm run build && node bench/micro/deflate-fanout.mjs [subscribers=2000] [messages=200] [--no-deflate]
//       [--takeover] [--dist=DIR]
//
// --takeover: the server keeps its compression context (serverNoContextTakeover: false), so each subscriber
// needs its own compression. --dist: another build of the package (e.g. an older commit's dist/).
import { fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { resolve } from "node:path";

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--") && !a.includes("=")));
const option = (name, fallback) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const [subscribers = 2000, messages = 200] = args.filter((a) => !a.startsWith("--")).map(Number);
const deflate = !flags.has("--no-deflate");
const takeover = flags.has("--takeover");
const dist = resolve(option("dist", new URL("../../dist", import.meta.url).pathname));

async function runServer() {
  const { WebSocketServer } = await import(resolve(option("server-dist", dist), "index.js"));
  const perMessageDeflate = !deflate ? false : takeover ? { serverNoContextTakeover: false } : true;
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", pingIntervalMs: 0, perMessageDeflate });
  await once(server, "listening");
  server.on("connection", (socket) => socket.subscribe("chat"));
  let started = null;
  process.on("message", (command) => {
    if (command.type === "publish") {
      started = process.cpuUsage();
      for (const payload of chatMessages(command.messages)) server.publish("chat", payload);
    } else if (command.type === "cpu") {
      const used = process.cpuUsage(started);
      process.send({ type: "cpu", seconds: (used.user + used.system) / 1e6, stats: server.pubsubStats });
    } else if (command.type === "stop") {
      for (const client of server.clients) client.terminate();
      server.close().then(() => process.exit(0));
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "listening", port: server.address().port });
}

async function runClients() {
  const child = fork(new URL(import.meta.url).pathname, [...args, "--server", `--server-dist=${dist}`], {
    stdio: "inherit",
  });
  const [ready] = await once(child, "message");
  const offer = deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "";
  let done = 0;
  let negotiated = 0;
  const allDone = deferred();
  const sockets = [];
  for (let i = 0; i < subscribers; i++) {
    const socket = net.connect({ host: "127.0.0.1", port: ready.port });
    sockets.push(socket);
    const counter = new FrameCounter(() => {
      if (++done === subscribers) allDone.resolve();
    });
    let head = Buffer.alloc(0);
    let upgraded = false;
    const opened = deferred();
    socket.on("data", (chunk) => {
      if (upgraded) return counter.push(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      const text = head.subarray(0, end).toString("latin1");
      if (!text.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${text}`);
      if (/sec-websocket-extensions: permessage-deflate/i.test(text)) negotiated++;
      upgraded = true;
      opened.resolve();
      if (head.length > end + 4) counter.push(head.subarray(end + 4));
    });
    socket.on("error", (error) => allDone.reject(error));
    socket.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${Buffer.from(`key-${i}`.padEnd(16)).toString("base64")}\r\n` +
        `Sec-WebSocket-Version: 13\r\n${offer}\r\n`,
    );
    await opened.promise;
  }
  // Subscriptions are made in the connection listener, before the server reads anything else.
  await new Promise((r) => setTimeout(r, 200));
  child.send({ type: "publish", messages });
  await allDone.promise;
  child.send({ type: "cpu" });
  const [{ seconds, stats }] = await once(child, "message");
  console.log(
    `${subscribers} subscribers (${negotiated} with permessage-deflate${takeover ? ", server context takeover" : ""}), ` +
      `${messages} messages of ~1,000 characters: server CPU ${seconds.toFixed(2)} s ` +
      `(${((seconds / (subscribers * messages)) * 1e6).toFixed(2)} µs per delivery; ` +
      `framesEncoded ${stats.framesEncoded}, sharedCompressions ${stats.sharedCompressions ?? "n/a"})`,
  );
  child.send({ type: "stop" });
  for (const socket of sockets) socket.destroy();
  await once(child, "exit");
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Counts whole server frames (unmasked) in a byte stream; calls `onAll` once `messages` have arrived. */
class FrameCounter {
  constructor(onAll) {
    this.onAll = onAll;
    this.frames = 0;
    this.need = 2;
    this.pending = Buffer.alloc(0);
  }

  push(chunk) {
    let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (data.length < 2) break;
      let length = data[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (data.length < 4) break;
        length = data.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (data.length < 10) break;
        length = Number(data.readBigUInt64BE(2));
        at = 10;
      }
      if (data.length < at + length) break;
      data = data.subarray(at + length);
      if (++this.frames === messages) this.onAll();
    }
    this.pending = data;
  }
}

/** Chat messages as `sockjet serve` broadcasts them: JSON with ~1,000 characters of varied text. */
function chatMessages(count) {
  const words =
    "the a chat room message server socket deflate window frame topic hello world sockjet node fast test data reply".split(
      " ",
    );
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const out = [];
  for (let i = 0; i < count; i++) {
    let text = "";
    while (text.length < 1000)
      text += `${words[Math.floor(random() * words.length)]}${random() < 0.1 ? `${Math.floor(random() * 1000)} ` : " "}`;
    out.push(
      JSON.stringify({
        type: "message",
        user: `user-${i % 7}`,
        text: text.slice(0, 1000),
        time: 1733300000000 + i,
      }),
    );
  }
  return out;
}

if (process.argv.includes("--server")) await runServer();
else await runClients();
