// A WebSocket echo server in a child `node` process (the npm `ws` server: an independent peer that loads in
// milliseconds), for tests whose server must really die (SIGKILL), freeze (SIGSTOP) or come back on the same
// port. The child prints its port once it listens; the test stops every child it started.

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net, { type AddressInfo } from "node:net";
import { resolve } from "node:path";
import type { TestContext } from "node:test";

const REPO = resolve(import.meta.dirname, "../..");

const SCRIPT = `
import { WebSocketServer } from "ws";
const server = new WebSocketServer({ host: "127.0.0.1", port: Number(process.env.PORT) });
server.on("listening", () => console.log("listening " + server.address().port));
server.on("connection", (socket) => {
  socket.on("error", () => {});
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
});
`;

export interface ChildServer {
  child: ChildProcess;
  port: number;
  url: string;
}

/** A port the OS says is free now (bound to 0, then released), for a server that must restart on it. */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

/** Starts the echo server on `port` (0: any) and waits until it listens; killed when the test ends. */
export async function startChildServer(t: TestContext, port = 0, timeoutMs = 10_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", SCRIPT], {
    cwd: REPO,
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => stopChild(child));
  let output = "";
  const listening = new Promise<number>((done, fail) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (\d+)/.exec(output);
      if (match) done(Number(match[1]));
    });
    child.once("exit", (code) => fail(new Error(`the child server exited (${code}) before listening`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error("the child server did not listen in time")), timeoutMs);
  });
  const listeningPort = await Promise.race([listening, timeout]).finally(() => clearTimeout(timer));
  return { child, port: listeningPort, url: `ws://127.0.0.1:${listeningPort}` };
}

/** Kills the child (continuing it first if it was stopped) and waits for it to exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGCONT");
  child.kill(signal);
  await exited;
}
