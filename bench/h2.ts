// The h2 part of `npm run bench` (issue 15's figures): sockjet's client against sockjet's WebSocketServer with
// `http2: true` + TLS (bench/servers/sockjet-h2-echo.mjs), the load from bench/clients/h2-driver.mjs:
// - echo throughput: N sockets × W binary messages in flight, all N as streams of ONE HTTP/2 session (RFC 8441)
//   vs the same over N HTTP/1.1 + TLS connections;
// - idle memory per socket: the server's RSS growth per open socket, on one h2 session vs one TLS connection
//   each.
// Self-signed certificate made once with openssl (bench/out/h2-tls/); a machine without openssl skips the part.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type DriverResult, type PartRecord, stat } from "./client.js";
import {
  benchDir,
  defaultOutDir,
  formatRate,
  formatSize,
  runProcess,
  type ServerHandle,
  startListening,
} from "./lib.js";

export const H2_TRANSPORTS = ["h2", "http1"] as const;
export type H2Transport = (typeof H2_TRANSPORTS)[number];
const TRANSPORT_LABELS: Record<H2Transport, string> = {
  h2: "HTTP/2 (one session)",
  http1: "HTTP/1.1 + TLS (a connection each)",
};

/** the echo load: sockets × messages in flight each, by message size */
export const H2_LOAD = { conns: 16, window: 16, sizes: [32, 1024, 64 * 1024] };
/** idle sockets opened (on top of 50 opened and closed first) */
export const H2_IDLE_SOCKETS = 1000;

export interface H2Job {
  part: "h2";
  task: "echo" | "idle";
  transport: H2Transport;
  size: number;
  rep: number;
}

export interface H2Result extends DriverResult {
  beforeKiB?: number;
  afterKiB?: number;
  open?: number;
  perSocketKiB?: number;
}

export type H2Record = PartRecord<H2Job> & { result?: H2Result };

export interface H2Context {
  serverCpu?: number;
  clientCpu?: number;
  duration: number;
  warmup: number;
  idleSockets: number;
}

/** Every echo size × transport `runs` times (transports in alternating order), then the idle runs. */
export function planH2Jobs(runs: number): H2Job[] {
  const jobs: H2Job[] = [];
  const order = (rep: number) => (rep % 2 ? [...H2_TRANSPORTS].reverse() : [...H2_TRANSPORTS]);
  for (let rep = 0; rep < runs; rep++) {
    for (const size of H2_LOAD.sizes) {
      for (const transport of order(rep)) jobs.push({ part: "h2", task: "echo", transport, size, rep });
    }
  }
  for (let rep = 0; rep < runs; rep++) {
    for (const transport of order(rep)) jobs.push({ part: "h2", task: "idle", transport, size: 0, rep });
  }
  return jobs;
}

export function describeH2Job(job: H2Job, idleSockets = H2_IDLE_SOCKETS): string {
  const what =
    job.task === "idle"
      ? `${idleSockets} idle sockets`
      : `${formatSize(job.size)} x${H2_LOAD.conns}/${H2_LOAD.window}`;
  return `h2 ${job.transport.padEnd(5)} ${what} #${job.rep + 1}`;
}

/** A self-signed certificate for 127.0.0.1 (made once); throws when openssl is missing. */
export function ensureCertificate(dir = join(defaultOutDir, "h2-tls")): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  if (!(existsSync(cert) && existsSync(key))) {
    mkdirSync(dir, { recursive: true });
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore", timeout: 30_000 },
    );
  }
  return { cert, key };
}

function tail(text: string, lines = 3): string {
  return text.trim().split("\n").slice(-lines).join(" | ");
}

/** One run: a fresh h2 echo server, one driver process. */
export async function runH2Job(job: H2Job, ctx: H2Context): Promise<H2Record> {
  const record: H2Record = { job };
  let tls: { cert: string; key: string };
  let server: ServerHandle;
  try {
    tls = ensureCertificate();
    server = await startListening(
      "sockjet-h2-echo",
      process.execPath,
      [join(benchDir, "servers", "sockjet-h2-echo.mjs"), tls.cert, tls.key, "0"],
      { cpu: ctx.serverCpu },
    );
  } catch (error) {
    record.error = `h2 echo server failed to start: ${(error as Error).message}`;
    return record;
  }
  try {
    const options = {
      url: `wss://127.0.0.1:${server.port}/`,
      ca: readFileSync(tls.cert, "utf8"),
      http2: job.transport === "h2" ? "always" : "never",
      task: job.task,
      conns: job.task === "idle" ? ctx.idleSockets : H2_LOAD.conns,
      window: H2_LOAD.window,
      size: job.size,
      duration: ctx.duration,
      warmup: ctx.warmup,
      serverPid: server.pid,
    };
    const timeoutMs = (ctx.duration + ctx.warmup + 120) * 1000;
    const run = await runProcess(
      process.execPath,
      [join(benchDir, "clients", "h2-driver.mjs"), JSON.stringify(options)],
      { cpu: ctx.clientCpu, timeoutMs },
    );
    const line = run.stdout
      .split("\n")
      .reverse()
      .find((l) => l.startsWith("RESULT "));
    let result: H2Result | undefined;
    try {
      result = line ? (JSON.parse(line.slice(7)) as H2Result) : undefined;
    } catch {
      result = undefined;
    }
    const died = server.exitInfo();
    if (died) record.error = `server ${died} during the run: ${tail(server.stderr(), 2)}`;
    else if (run.timedOut) record.error = `h2 driver timed out after ${timeoutMs / 1000} s`;
    else if (!result)
      record.error = `h2 driver exit ${run.code ?? run.signal}, no RESULT: ${tail(run.stderr) || "no output"}`;
    else if (run.code !== 0 || result.errors !== 0)
      record.error = `h2 driver: ${result.error ?? `exit ${run.code}`}`;
    if (result && !record.error) record.result = result;
  } catch (error) {
    record.error = (error as Error).message;
  } finally {
    await server.stop();
  }
  return record;
}

function table(header: string[], rows: string[][]): string {
  const sep = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** The h2 tables (medians over uncontended runs where a case has any; ⚠ where it has none). */
export function h2Tables(records: H2Record[], idleSockets = H2_IDLE_SOCKETS): { echo: string; idle: string } {
  const runsOf = (task: H2Job["task"], transport: H2Transport, size: number) =>
    records.filter((r) => r.job.task === task && r.job.transport === transport && r.job.size === size);
  const warn = (s: { contended: boolean }) => (s.contended ? " ⚠" : "");
  const echoRows = H2_LOAD.sizes.map((size) => {
    const h2 = stat(runsOf("echo", "h2", size), (r) => r.msgsPerS);
    const h1 = stat(runsOf("echo", "http1", size), (r) => r.msgsPerS);
    const h2Cpu = stat(runsOf("echo", "h2", size), (r) => r.serverCpu);
    const h1Cpu = stat(runsOf("echo", "http1", size), (r) => r.serverCpu);
    const ratio = h2.value > 0 && h1.value > 0 ? `${(h2.value / h1.value).toFixed(2)}×` : "–";
    return [
      formatSize(size),
      `${formatRate(h2.value)}${warn(h2)} (server ${h2Cpu.value.toFixed(0)}% CPU)`,
      `${formatRate(h1.value)}${warn(h1)} (server ${h1Cpu.value.toFixed(0)}% CPU)`,
      ratio,
    ];
  });
  const idleRows = H2_TRANSPORTS.map((transport) => {
    const runs = runsOf("idle", transport, 0);
    const perSocket = stat(runs, (r) => (r as H2Result).perSocketKiB);
    return [TRANSPORT_LABELS[transport], `${perSocket.value.toFixed(1)} KiB${warn(perSocket)}`];
  });
  return {
    echo: table(["message", "over HTTP/2, msg/s", "over HTTP/1.1 + TLS, msg/s", "h2 ÷ HTTP/1.1"], echoRows),
    idle: table([`${idleSockets.toLocaleString("en-US")} idle sockets`, "server RSS per socket"], idleRows),
  };
}
