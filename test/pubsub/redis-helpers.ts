// A real redis-server for the scale-out tests, on a free port, with no persistence, started and stopped by
// the tests; and server processes (test/pubsub/fixtures/redis-node.ts) driven over IPC.

import { type ChildProcess, fork, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { REDIS_BINARY, redisSkip } from "../support/require.js";
import { HOST, within } from "./helpers.js";

export { REDIS_BINARY };

/**
 * Why the Redis tests cannot run here, or null when they can. With SOCKJET_REQUIRE_REDIS=1 (CI) a missing
 * redis-server is a failure, not a skip (test/support/require.ts).
 */
export function redisSkipReason(): string | null {
  return redisSkip() || null;
}

/** A port nobody listens on right now: bind port 0, read it, release it. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => done(chunk.toString().startsWith("+PONG")));
  });
}

export class RedisServer {
  readonly port: number;
  private child: ChildProcess | null = null;
  log = "";

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      REDIS_BINARY,
      ["--port", String(this.port), "--bind", HOST, "--save", "", "--appendonly", "no", "--daemonize", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    child.stdout?.on("data", (chunk) => (this.log += chunk));
    child.stderr?.on("data", (chunk) => (this.log += chunk));
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`redis-server did not start on port ${this.port}:\n${this.log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Freezes the server (SIGSTOP), like a hung host: connections stay open and nothing answers. */
  freeze(): void {
    this.child?.kill("SIGSTOP");
  }

  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void {
    this.child?.kill("SIGCONT");
  }

  /** Kills the server at once (like a crash), and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await within(exited, 10_000, "redis-server to exit");
  }
}

/** One server process of the fixture, and what it reported. */
export class ServerProcess {
  readonly child: ChildProcess;
  readonly name: string;
  port = 0;
  /** Everything the process sent over IPC, in order. */
  readonly events: Record<string, unknown>[] = [];
  output = "";
  private nextRequest = 0;

  constructor(name: string, redisUrl: string, mode: "url" | "client") {
    this.name = name;
    const script = fileURLToPath(new URL("./fixtures/redis-node.ts", import.meta.url));
    this.child = fork(script, [redisUrl, mode, name], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.child.stdout?.on("data", (chunk) => (this.output += chunk));
    this.child.stderr?.on("data", (chunk) => (this.output += chunk));
    this.child.on("message", (message) => this.events.push(message as Record<string, unknown>));
  }

  static async start(name: string, redisUrl: string, mode: "url" | "client" = "url"): Promise<ServerProcess> {
    const node = new ServerProcess(name, redisUrl, mode);
    const listening = await node.waitFor((e) => e.type === "listening", 20_000, "listening");
    node.port = listening.port as number;
    return node;
  }

  get url(): string {
    return `ws://${HOST}:${this.port}`;
  }

  count(predicate: (event: Record<string, unknown>) => boolean): number {
    return this.events.filter(predicate).length;
  }

  async waitFor(
    predicate: (event: Record<string, unknown>) => boolean,
    ms: number,
    label: string,
    from = 0,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.slice(from).find(predicate);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited:\n${this.output}`);
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${ms} ms waiting for ${this.name}: ${label}\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends a command and waits for its reply. */
  async request(command: Record<string, unknown>, ms = 15_000): Promise<Record<string, unknown>> {
    const id = this.nextRequest++;
    this.child.send({ ...command, id });
    return this.waitFor((e) => e.type === "reply" && e.id === id, ms, `reply to ${String(command.cmd)}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    try {
      this.child.send({ cmd: "close", id: -1 });
      await within(exited, 10_000, `${this.name} to exit`);
    } catch {
      this.child.kill("SIGKILL");
      await exited;
    }
  }
}

/**
 * A TCP relay to a Redis (or any) port whose blackhole() makes connections it carries go silent in both
 * directions without closing (a dead network path: nothing crosses, nothing is reset); holdNew(true) makes it
 * accept new connections and pass nothing on them either, for good (a silent proxy), until holdNew(false).
 * Closed by close().
 */
export class BlackholeRelay {
  readonly port: number;
  private readonly server: net.Server;
  /** Relayed connections, in the order they came, until they close. */
  private readonly pairs: [net.Socket, net.Socket][] = [];
  private readonly silent = new Set<net.Socket>();
  private holding = false;
  /** The next chunk to the server that matches is held this long (delayNext()). */
  private delay: { pattern: RegExp; ms: number } | null = null;
  /** Connections accepted so far. */
  connections = 0;

  private constructor(server: net.Server) {
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  static async start(targetPort: number): Promise<BlackholeRelay> {
    const server = net.createServer();
    server.listen(0, HOST);
    await once(server, "listening");
    const relay = new BlackholeRelay(server);
    server.on("connection", (client) => relay.accept(client, targetPort));
    return relay;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  /** Connections open and passing bytes. */
  get live(): number {
    return this.pairs.filter(([client]) => !this.silent.has(client)).length;
  }

  private accept(client: net.Socket, targetPort: number): void {
    this.connections++;
    client.on("error", () => client.destroy());
    if (this.holding) {
      client.pause();
      this.silent.add(client);
      client.on("close", () => this.silent.delete(client));
      return;
    }
    const upstream = net.connect(targetPort, HOST);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.push(pair);
    client.on("data", (chunk: Buffer) => this.forward(client, upstream, chunk));
    upstream.pipe(client);
    const done = () => {
      const at = this.pairs.indexOf(pair);
      if (at >= 0) this.pairs.splice(at, 1);
      this.silent.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.on("error", done);
      socket.on("close", done);
    }
  }

  private forward(client: net.Socket, upstream: net.Socket, chunk: Buffer): void {
    const delay = this.delay;
    if (delay === null || !delay.pattern.test(chunk.toString("latin1"))) {
      upstream.write(chunk);
      return;
    }
    this.delay = null;
    client.pause();
    setTimeout(() => {
      upstream.write(chunk);
      if (!this.silent.has(client)) client.resume();
    }, delay.ms);
  }

  /** The next chunk a client sends that matches `pattern` (as latin1) reaches the server `ms` late. */
  delayNext(pattern: RegExp, ms: number): void {
    this.delay = { pattern, ms };
  }

  /**
   * Connections open now stop passing bytes, both ways, and stay open (until close()): all of them, or
   * those at `indexes` in the order they came.
   */
  blackhole(indexes?: number[]): void {
    this.pairs.forEach(([client, upstream], index) => {
      if (indexes !== undefined && !indexes.includes(index)) return;
      this.silent.add(client);
      client.removeAllListeners("data");
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    });
  }

  /** While on, new connections are accepted and left silent for good. */
  holdNew(on: boolean): void {
    this.holding = on;
  }

  async close(): Promise<void> {
    for (const [client, upstream] of this.pairs.splice(0)) {
      client.destroy();
      upstream.destroy();
    }
    for (const client of this.silent) client.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
