// What N members joining the chat room cost the server (issue 22 item 5): the CPU seconds (user + system) of
// a server process running the room of `sockjet serve` (ChatRoom, deflate on as in serve) while N clients
// join one after the other, in batches, each waiting for its welcome, then until the room is quiet.
//
//   node --import tsx bench/chat-joins.ts [members=2000] [--no-deflate] [--room PATH/chat-room.ts]
//
// --room runs another version of the room (e.g. `git show REV:src/cli/chat-room.ts > /tmp/room.ts`), to
// compare before and after. The per-address cap is lifted here: every client comes from 127.0.0.1.
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { WebSocket, WebSocketServer } from "../src/index.js";

const BATCH = 50;

async function runServer(roomPath: string, deflate: boolean): Promise<void> {
  const { ChatRoom } = await import(pathToFileURL(roomPath).href);
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: deflate });
  const room = new ChatRoom({ hub: server, maxMembersPerAddress: Number.POSITIVE_INFINITY });
  server.on("connection", (socket, request) => {
    void room.join(socket, new URL(request.url ?? "/", "http://x").searchParams.get("name"));
  });
  await once(server, "listening");
  process.send?.({ port: (server.address() as AddressInfo).port });
  process.on("message", (message: { cmd: string }) => {
    if (message.cmd === "cpu") process.send?.({ cpu: process.cpuUsage() });
    if (message.cmd === "close") server.close().then(() => process.exit(0));
  });
}

async function ask(child: ChildProcess, cmd: string): Promise<Record<string, unknown>> {
  child.send({ cmd });
  const [reply] = (await once(child, "message")) as [Record<string, unknown>];
  return reply;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const members = Number(args.find((a) => /^\d+$/.test(a)) ?? 2000);
  const deflate = !args.includes("--no-deflate");
  const roomIndex = args.indexOf("--room");
  const roomPath =
    roomIndex >= 0 ? args[roomIndex + 1] : new URL("../src/cli/chat-room.ts", import.meta.url).pathname;
  const child = fork(new URL(import.meta.url).pathname, ["--server", roomPath, deflate ? "on" : "off"], {
    execArgv: ["--import", "tsx"],
  });
  const { port } = (await once(child, "message"))[0] as { port: number };
  const base = (await ask(child, "cpu")).cpu as NodeJS.CpuUsage;
  const sockets: WebSocket[] = [];
  let received = 0;
  const started = Date.now();
  for (let i = 0; i < members; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, members - i) }, (_, j) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/chat?name=m${i + j}`, [], {
          perMessageDeflate: deflate,
        });
        sockets.push(socket);
        socket.addEventListener("message", () => received++);
        return new Promise((resolve) => socket.addEventListener("message", resolve, { once: true }));
      }),
    );
  }
  // Quiet: nothing received for 1.5 s (a throttled summary comes within a second).
  let last = -1;
  while (received !== last) {
    last = received;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  const cpu = (await ask(child, "cpu")).cpu as NodeJS.CpuUsage;
  const seconds = (cpu.user - base.user + cpu.system - base.system) / 1e6;
  console.log(
    `${members} joins (deflate ${deflate ? "on" : "off"}, room ${roomPath}): server CPU ${seconds.toFixed(2)} s, ` +
      `${received} messages to the members, ${((Date.now() - started) / 1000).toFixed(1)} s wall`,
  );
  for (const socket of sockets) socket.close();
  child.send({ cmd: "close" });
  const exited = once(child, "exit");
  const timer = setTimeout(() => child.kill(), 10_000);
  await exited;
  clearTimeout(timer);
}

if (process.argv[2] === "--server") await runServer(process.argv[3], process.argv[4] === "on");
else await main();
