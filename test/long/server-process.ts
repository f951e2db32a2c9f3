// An echo server in a child process (fixtures/echo-server.ts), so that memory figures under an attack are
// the server's alone, not mixed with the attacker's garbage in the same heap.

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import type { MemoryFigures } from "../conformance/hostile-kit.js";
import { type Cleanup, HOST, within } from "../conformance/peers.js";

export class ServerProcess {
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  private constructor(child: ChildProcess, lines: AsyncIterator<string>, port: number) {
    this.child = child;
    this.lines = lines;
    this.port = port;
  }

  get url(): string {
    return `ws://${HOST}:${this.port}/`;
  }

  static async start(t: Cleanup, options: Omit<WebSocketServerOptions, "port"> = {}): Promise<ServerProcess> {
    const script = fileURLToPath(new URL("./fixtures/echo-server.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", script, JSON.stringify(options)],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    t.after(async () => {
      child.stdin?.end();
      const exited = once(child, "exit");
      setTimeout(() => child.kill(), 5000).unref();
      await exited;
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await within(lines.next(), 20_000, "the server process to listen");
    return new ServerProcess(child, lines, JSON.parse(first.value).port);
  }

  private async request(command: string): Promise<Record<string, number>> {
    this.child.stdin!.write(`${command}\n`);
    const answer = await within(this.lines.next(), 10_000, `the server process to answer ${command}`);
    return JSON.parse(answer.value);
  }

  /** Starts a new memory measurement. */
  async resetMemory(): Promise<void> {
    await this.request("reset");
  }

  /** The server process's memory since the last reset; `retained` is what a full GC leaves of the growth. */
  async memory(): Promise<MemoryFigures & { retained: number }> {
    return (await this.request("mem")) as unknown as MemoryFigures & { retained: number };
  }

  async clients(): Promise<number> {
    return (await this.request("clients")).clients;
  }
}
