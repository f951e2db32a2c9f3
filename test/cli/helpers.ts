import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// Runs the real `sockjet` command from source (node --import tsx src/cli/main.ts …), so no build is needed.
// Every process started here is killed by killAll(), which each test file calls in after().

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const running = new Set<Cli>();

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Cli {
  readonly process: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();

  /** `nodeFlags` go to node itself, before the script (e.g. --trace-gc, which NODE_OPTIONS refuses). */
  constructor(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []) {
    this.process = spawn(process.execPath, [...nodeFlags, "--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    running.add(this);
    this.process.stdout.setEncoding("utf8");
    this.process.stderr.setEncoding("utf8");
    this.process.stdout.on("data", (chunk: string) => {
      this.stdout += chunk;
      for (const wake of this.waiters) wake();
    });
    this.process.stderr.on("data", (chunk: string) => {
      this.stderr += chunk;
      for (const wake of this.waiters) wake();
    });
    // A write after the process exits must not crash the test.
    this.process.stdin.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.process.on("close", (code, signal) => {
        running.delete(this);
        for (const wake of this.waiters) wake();
        resolve({ code, signal });
      });
    });
  }

  /** Waits until stdout (or stderr) matches, or fails after timeoutMs with what was seen. */
  waitFor(pattern: RegExp, { stream = "stdout", timeoutMs = 10_000 } = {}): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = stream === "stdout" ? this.stdout : this.stderr;
        const match = text.match(pattern);
        if (match !== null) {
          done();
          resolve(match);
        } else if (this.process.exitCode !== null || this.process.signalCode !== null) {
          done();
          reject(new Error(`process exited before ${pattern} on ${stream}:\n${this.transcript()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${pattern} on ${stream}:\n${this.transcript()}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  write(text: string): void {
    this.process.stdin.write(text);
  }

  end(text?: string): void {
    this.process.stdin.end(text);
  }

  /** The exit, or a failure after timeoutMs (the process is killed then). */
  async exit(timeoutMs = 10_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new Error(`did not exit within ${timeoutMs} ms:\n${this.transcript()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }

  transcript(): string {
    return `--- stdout ---\n${this.stdout}--- stderr ---\n${this.stderr}`;
  }
}

/** Runs a command to completion with `input` on stdin. */
export async function run(
  args: string[],
  { input = "", timeoutMs = 15_000 }: { input?: string; timeoutMs?: number } = {},
): Promise<Exit & { stdout: string; stderr: string }> {
  const cli = new Cli(args);
  cli.end(input);
  const exit = await cli.exit(timeoutMs);
  return { ...exit, stdout: cli.stdout, stderr: cli.stderr };
}

export interface Served {
  cli: Cli;
  port: number;
  /** http://127.0.0.1:PORT */
  http: string;
  /** ws://127.0.0.1:PORT */
  ws: string;
}

/** Starts `sockjet serve --port 0 --host 127.0.0.1 …` and reads the port it printed. */
export async function serve(
  args: string[] = [],
  nodeFlags: string[] = [],
  env: Record<string, string> = {},
): Promise<Served> {
  const cli = new Cli(["serve", "--port", "0", "--host", "127.0.0.1", ...args], env, nodeFlags);
  // Bounded generously: with --workers, every worker compiles the sources (tsx) and connects before the
  // banner, and a loaded CI machine has taken more than 10 s for that.
  const match = await cli.waitFor(/echo\s+wss?:\/\/127\.0\.0\.1:(\d+)\//, { timeoutMs: 30_000 });
  const port = Number(match[1]);
  const secure = match[0].includes("wss:");
  return {
    cli,
    port,
    http: `${secure ? "https" : "http"}://127.0.0.1:${port}`,
    ws: `${secure ? "wss" : "ws"}://127.0.0.1:${port}`,
  };
}

export function killAll(): void {
  for (const cli of running) cli.kill();
}

/** Lines of text, without the empty one after the last newline. */
export function lines(text: string): string[] {
  return text.split("\n").filter((line, i, all) => i < all.length - 1 || line !== "");
}

/**
 * Runs `sockjet …args` on a pseudo-terminal (util-linux `script`: stdin and stdout both a TTY) and returns all
 * it wrote, stdout and stderr.
 */
export function onTerminal(
  args: string[],
  timeoutMs = 15_000,
): Promise<{ code: number | null; output: string }> {
  const command = ["node", "--import", "tsx", "src/cli/main.ts", ...args]
    .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
    .join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qefc", command, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", TERM: "xterm" },
    });
    let output = "";
    child.stdout.setEncoding("latin1");
    child.stdout.on("data", (chunk: string) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("latin1")));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`did not exit within ${timeoutMs} ms: ${JSON.stringify(output)}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      // The terminal's line discipline turns \n into \r\n; the output is UTF-8 read as latin1, decode it.
      resolve({ code, output: Buffer.from(output, "latin1").toString("utf8").replaceAll("\r\n", "\n") });
    });
  });
}
