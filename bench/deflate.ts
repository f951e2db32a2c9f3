// permessage-deflate measurements: server memory per connection with deflate off/on, and compression ratio
// and throughput on a typical ~1 KiB JSON message.
//
//   node --import tsx bench/deflate.ts [--connections 1000] [--messages 20000]
//
// Memory: the server runs in a child process (so client memory does not count); N `ws` clients (deflate on,
// like browsers) connect and each exchanges one JSON message with it (so both its compressor and its
// decompressor have run and, with context takeover, keep their windows), then the child's RSS is read after
// a GC. Per connection = (RSS with N open − RSS before) / N.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import WS, { WebSocketServer as WSServer } from "ws";
import { PerMessageDeflate } from "../src/protocol/permessage-deflate/codec.js";
import {
  type PerMessageDeflateOption,
  setZlibConcurrency,
} from "../src/protocol/permessage-deflate/index.js";
import { WebSocketServer } from "../src/server/websocket-server.js";
import { WebSocket } from "../src/web/websocket.js";
import { jsonMessage } from "./clients/json-message.mjs";

const args = process.argv.slice(2);
const argValue = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};

// ---- child: the server whose memory is measured -----------------------------------------------------

async function child(option: string): Promise<void> {
  const perMessageDeflate = JSON.parse(option) as PerMessageDeflateOption;
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate,
    pingIntervalMs: 0,
  } as never);
  await once(server, "listening");
  server.on("connection", (socket) => {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event: MessageEvent) => socket.send(event.data as string);
  });
  const port = (server.httpServer!.address() as { port: number }).port;
  const measure = () => {
    for (let i = 0; i < 3; i++) global.gc?.();
    return process.memoryUsage();
  };
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: string) => {
    if (message === "measure") process.send!({ memory: measure(), clients: server.clients.size });
    if (message === "exit") server.close(() => process.exit(0));
  });
  process.send!({ port, memory: measure() });
}

async function measureMemory(
  label: string,
  option: PerMessageDeflateOption,
  connections: number,
): Promise<number> {
  const proc = spawn(
    process.execPath,
    ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "--child", JSON.stringify(option)],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  const [ready] = (await once(proc, "message")) as [{ port: number; memory: NodeJS.MemoryUsage }];
  const clients: WS[] = [];
  for (let i = 0; i < connections; i++) {
    const ws = new WS(`ws://127.0.0.1:${ready.port}`, { perMessageDeflate: true });
    clients.push(ws);
    await once(ws, "open");
    const echoed = once(ws, "message");
    ws.send(jsonMessage(i).toString());
    await echoed;
  }
  proc.send("measure");
  const [after] = (await once(proc, "message")) as [{ memory: NodeJS.MemoryUsage; clients: number }];
  const negotiated = clients[0].extensions;
  for (const ws of clients) ws.terminate();
  proc.send("exit");
  await once(proc, "exit");
  const perConnection = (after.memory.rss - ready.memory.rss) / connections;
  console.log(
    `${label.padEnd(44)} ${(perConnection / 1024).toFixed(1).padStart(7)} KiB/connection RSS` +
      `  (${after.clients} open; negotiated: ${negotiated === "" ? "none" : negotiated})`,
  );
  return perConnection;
}

// ---- ratio and throughput ----------------------------------------------------------------------------

function codecFor(level: number, noContext: boolean): PerMessageDeflate {
  return new PerMessageDeflate({
    thresholdBytes: 0,
    level,
    memLevel: 8,
    compressWindowBits: 15,
    compressNoContextTakeover: noContext,
    decompressWindowBits: 15,
    decompressNoContextTakeover: noContext,
  });
}

async function codecThroughput(
  label: string,
  level: number,
  noContext: boolean,
  messages: number,
  parallel: number,
) {
  const senders = Array.from({ length: parallel }, () => codecFor(level, noContext));
  const receivers = Array.from({ length: parallel }, () => codecFor(level, noContext));
  const per = Math.floor(messages / parallel);
  let inBytes = 0;
  let outBytes = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    senders.map(async (sender, k) => {
      for (let i = 0; i < per; i++) {
        const message = jsonMessage(k * per + i);
        const compressed = await new Promise<Buffer>((resolve, reject) =>
          sender.encode(message, (error, out) => (error ? reject(error) : resolve(out!))),
        );
        const back = await new Promise<Buffer>((resolve, reject) =>
          receivers[k].decode([compressed], 1 << 20, (error, out) => (error ? reject(error) : resolve(out!))),
        );
        if (back.length !== message.length) throw new Error("round trip mismatch");
        inBytes += message.length;
        outBytes += compressed.length;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const c of [...senders, ...receivers]) c.dispose();
  console.log(
    `${label.padEnd(44)} ratio ${(outBytes / inBytes).toFixed(3)} (${(inBytes / (per * parallel)).toFixed(0)} → ${(outBytes / (per * parallel)).toFixed(0)} B)` +
      `  ${((per * parallel) / seconds).toFixed(0).padStart(7)} msg/s compress+decompress`,
  );
}

/** Echo round trips over real sockets: `connections` sockjet clients, each with `window` messages in flight. */
async function echoThroughput(
  label: string,
  option: PerMessageDeflateOption,
  connections: number,
  total: number,
) {
  const server = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: option,
    pingIntervalMs: 0,
  } as never);
  await once(server, "listening");
  let serverBytesIn = 0;
  server.on("connection", (socket, request) => {
    socket.onmessage = (event: MessageEvent) => socket.send(event.data as string);
    request.socket.on("close", () => {
      serverBytesIn += request.socket.bytesRead;
    });
  });
  const port = (server.httpServer!.address() as { port: number }).port;
  const per = Math.floor(total / connections);
  const window = 16;
  const payloads = Array.from({ length: 256 }, (_, i) => jsonMessage(i).toString());
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      // Clients offer what browsers offer; the server's option decides what is agreed.
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, [], { perMessageDeflate: true });
      await once(ws as unknown as EventTarget as never, "open").catch(() => {});
      await new Promise<void>((resolve) => {
        let sent = 0;
        let received = 0;
        ws.onmessage = () => {
          received++;
          if (sent < per) ws.send(payloads[sent++ % payloads.length]);
          if (received === per) resolve();
        };
        for (; sent < Math.min(window, per); sent++) ws.send(payloads[sent % payloads.length]);
      });
      ws.close();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log(
    `${label.padEnd(44)} ${((per * connections) / seconds).toFixed(0).padStart(7)} echoes/s` +
      `  (${connections} connections; server read ${(serverBytesIn / (per * connections)).toFixed(0)} B/message incl. framing)`,
  );
}

/** The same echo with ws at both ends, for reference. */
async function wsEchoThroughput(label: string, deflate: boolean, connections: number, total: number) {
  const server = new WSServer({ host: "127.0.0.1", port: 0, perMessageDeflate: deflate });
  await once(server, "listening");
  server.on("connection", (socket) =>
    socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  const port = (server.address() as { port: number }).port;
  const per = Math.floor(total / connections);
  const window = 16;
  const payloads = Array.from({ length: 256 }, (_, i) => jsonMessage(i).toString());
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const ws = new WS(`ws://127.0.0.1:${port}`, { perMessageDeflate: deflate });
      await once(ws, "open");
      await new Promise<void>((resolve) => {
        let sent = 0;
        let received = 0;
        ws.on("message", () => {
          received++;
          if (sent < per) ws.send(payloads[sent++ % payloads.length]);
          if (received === per) resolve();
        });
        for (; sent < Math.min(window, per); sent++) ws.send(payloads[sent % payloads.length]);
      });
      ws.close();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((resolve) => server.close(resolve));
  console.log(
    `${label.padEnd(44)} ${((per * connections) / seconds).toFixed(0).padStart(7)} echoes/s  (${connections} connections)`,
  );
}

async function main(): Promise<void> {
  if (args[0] === "--child") {
    await child(args[1]);
    return;
  }
  const connections = argValue("--connections", 1000);
  const messages = argValue("--messages", 20_000);
  console.log(
    `node ${process.version}, zlib ${process.versions.zlib}; 1 KiB JSON = ${jsonMessage(0).length} bytes\n`,
  );

  const TAKEOVER = { serverNoContextTakeover: false, clientNoContextTakeover: false };
  if (args.includes("--no-memory")) return echoOnly(messages, TAKEOVER);
  console.log(`== server memory per connection (${connections} ws clients with deflate, one echo each)`);
  await measureMemory("off (the server default)", false, connections);
  await measureMemory("perMessageDeflate: true (no takeover)", true, connections);
  await measureMemory("client → server takeover only", { clientNoContextTakeover: false }, connections);
  await measureMemory("takeover both ways", TAKEOVER, connections);
  await measureMemory(
    "takeover both ways, window 10 bits, memLevel 4",
    { ...TAKEOVER, serverMaxWindowBits: 10, memLevel: 4 },
    connections,
  );

  console.log(`\n== codec: compress + decompress ${messages} messages of ~1 KiB JSON`);
  for (const level of [1, 6]) {
    await codecThroughput(`level ${level}, context takeover, 1 connection`, level, false, messages / 4, 1);
    await codecThroughput(`level ${level}, context takeover, 64 connections`, level, false, messages, 64);
    await codecThroughput(`level ${level}, no context takeover, 64 connections`, level, true, messages, 64);
  }
  setZlibConcurrency(4);
  await codecThroughput("level 1, context takeover, 64 conns, cap 4", 1, false, messages, 64);
  setZlibConcurrency(10);

  await echoOnly(messages, TAKEOVER);
}

async function echoOnly(messages: number, takeover: PerMessageDeflateOption): Promise<void> {
  console.log(`\n== echo over TCP, ${messages} messages of ~1 KiB JSON, 16 in flight per connection`);
  await echoThroughput("sockjet, deflate off", false, 50, messages);
  await echoThroughput("sockjet, perMessageDeflate: true (no takeover)", true, 50, messages);
  await echoThroughput("sockjet, takeover both ways", takeover, 50, messages);
  await wsEchoThroughput("ws ↔ ws, deflate off", false, 50, messages);
  await wsEchoThroughput("ws ↔ ws, deflate on (ws defaults)", true, 50, messages);
}

await main();
