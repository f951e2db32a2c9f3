import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { WebSocket } from "../index.js";
import { byteSize, flag, formatFlags, integer, MAX_TIMER_MS, parseArgs, UsageError } from "./args.js";
import {
  type BenchResult,
  reportConnectFailures,
  reportServerCloses,
  round,
  summaryTable,
} from "./bench-report.js";
import type { Command } from "./command.js";
import { LatencyRecorder } from "./latency-recorder.js";
import { onSecondSignal } from "./second-signal.js";
import { clientTarget, describeHandshakeFailure, displayUrl, explainFailure, headerLine } from "./target.js";
import { escapeControls, grouped } from "./terminal.js";

// `sockjet bench URL`: a load generator for echo servers. N connections each keep W messages in flight;
// every echo completes a round trip, whose time is the latency (echoes come back in order on one
// connection, so the oldest send time is the one answered). Throughput counts payload bytes received.

const CLOSE_WAIT_MS = 3000;
/** After terminate(): the most to wait for the close events it causes (they come in the next tasks). */
const CLOSE_EVENTS_WAIT_MS = 1000;

const specs = {
  connections: flag.value("connections to open (default 10)", {
    short: "c",
    valueName: "N",
    defaultValue: 10,
    parse: integer(1, 100_000),
  }),
  "in-flight": flag.value("messages in flight on each connection (default 8)", {
    short: "i",
    valueName: "W",
    defaultValue: 8,
    parse: integer(1, 100_000),
  }),
  size: flag.value("payload size in bytes, k/m suffixes allowed (default 64)", {
    short: "s",
    valueName: "SIZE",
    defaultValue: 64,
    parse: byteSize,
  }),
  duration: flag.value("seconds to run, fractions allowed (default 10)", {
    short: "d",
    valueName: "SECONDS",
    defaultValue: 10,
    parse: seconds,
  }),
  text: flag.boolean("send text messages instead of binary"),
  json: flag.boolean("print the results as JSON on stdout"),
  protocol: flag.list("a subprotocol to offer", { valueName: "NAME" }),
  header: flag.list('an extra request header, "Name: value"', {
    short: "H",
    valueName: "HEADER",
    parse: headerLine,
  }),
  deflate: flag.boolean("do not offer permessage-deflate compression", { defaultValue: true }),
  insecure: flag.boolean("accept any TLS certificate (self-signed wss://)", { short: "k" }),
};

const usage = `Usage: sockjet bench [options] URL

Load-tests an echo endpoint (like the one \`sockjet serve\` runs on /): opens the connections, keeps the
messages in flight for the duration, shows a progress line on a terminal, then prints msgs/s, MB/s
(payload bytes echoed back, 1 MB = 10^6 bytes), round-trip latency p50/p99/max and errors. Ctrl-C (or
SIGTERM) ends the run early: the connections are closed with 1000 and the results so far printed; a second
Ctrl-C quits at once.

Options:
${formatFlags(specs)}

Exit status: 0 when every connection worked and messages came back, 1 otherwise, 2 for a usage error.

Examples:
  sockjet bench ws://localhost:8080/
  sockjet bench -c 50 -i 16 -s 16k -d 30 ws://localhost:8080/
  sockjet bench --json -d 5 ws://localhost:8080/ > result.json`;

export const bench: Command = {
  name: "bench",
  summary: "load generator: msgs/s, MB/s and latency against an echo endpoint",
  usage,
  run,
};

/** The longest run: the run is one setTimeout, which fires at once past MAX_TIMER_MS. */
const MAX_SECONDS = MAX_TIMER_MS / 1000;

function seconds(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0 || value > MAX_SECONDS)
    throw new Error(`expected seconds > 0 and at most ${MAX_SECONDS}, 24.8 days`);
  return value;
}

async function run(argv: string[]): Promise<number> {
  const { flags, positionals, help } = parseArgs(argv, specs);
  if (help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const { url, options } = clientTarget(positionals, flags);
  const size = flags.size;
  const payload: string | Buffer = flags.text
    ? "sockjet-bench-".repeat(Math.ceil(size / 14)).slice(0, size)
    : randomBytes(size);
  const inFlight = flags["in-flight"];
  const progress = process.stderr.isTTY === true;

  const latency = new LatencyRecorder();
  const errorKinds: Record<string, number> = {};
  const countError = (kind: string) => {
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  /** Closes the server started (code → its last reason and how many), whenever they came. */
  const closeReasons = new Map<number, { reason: string; count: number }>();
  /** Sockets bench closed itself at the end of the run. */
  const closedByBench = new Set<WebSocket>();
  const payloadBytes = typeof payload === "string" ? Buffer.from(payload) : payload;
  const isEcho = (data: string | ArrayBuffer): boolean =>
    typeof data === "string"
      ? data === payload
      : payloadBytes.equals(new Uint8Array(data)) && typeof payload !== "string";
  let messages = 0;
  let bytes = 0;
  let running = false;

  // SIGINT/SIGTERM: the first stops the run early (the connections are closed with 1000 and the results so
  // far printed; before the run, the connections are closed and there are none); a second one leaves at once
  // (130/143), except the same stop delivered twice within moments (second-signal.ts). The process exits when
  // run() returns or throws (main.ts), taking these listeners with it.
  let stoppedBy: NodeJS.Signals | null = null;
  let wakeOnSignal = () => {};
  const signalled = new Promise<void>((resolve) => (wakeOnSignal = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    ignoreSignals();
    stoppedBy = signal;
    onSecondSignal((second) => process.exit(second === "SIGTERM" ? 143 : 130));
    wakeOnSignal();
  };
  const ignoreSignals = () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const sockets: WebSocket[] = [];
  const opened = new Set<WebSocket>();
  const connectFailures = new Map<string, number>();
  /** The first connection's failure (a HandshakeError): its code says why, without asking the server again. */
  let firstConnectError: unknown;
  let refusedPerAddress = false;
  const starters = new Map<WebSocket, () => void>();
  const openings: Promise<void>[] = [];
  for (let i = 0; i < flags.connections; i++) {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, flags.protocol, options);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new UsageError(message.split(url.href).join(displayUrl(url)));
    }
    socket.binaryType = "arraybuffer";
    sockets.push(socket);
    // Send times of the messages in flight, oldest first.
    const sent: number[] = [];
    let head = 0;
    const sendOne = () => {
      sent.push(performance.now());
      socket.send(payload);
    };
    starters.set(socket, () => {
      for (let k = 0; k < inFlight; k++) sendOne();
    });
    socket.onmessage = (event) => {
      const at = performance.now();
      if (!running) return;
      const data = event.data as string | ArrayBuffer;
      const received = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
      const sentAt = sent[head++];
      // Only a true echo is a round trip: anything else is counted as an error, not as throughput.
      if (received !== size) countError("wrong size echoed");
      else if (!isEcho(data)) countError("wrong bytes echoed");
      else {
        if (head > 1024 && head * 2 > sent.length) {
          sent.splice(0, head);
          head = 0;
        }
        if (sentAt !== undefined) latency.record(at - sentAt);
        messages++;
        bytes += received;
      }
      sendOne();
    };
    // Why a connection could not be opened (the error event's HandshakeError), grouped by its message; once
    // open, why it failed (a protocol error, a reset), for its close event to report.
    let failure: string | null = null;
    socket.addEventListener("error", (event) => {
      const error = event.error as { message?: string; status?: unknown } | undefined;
      const why = escapeControls(error?.message ?? (event.message || "unknown error"));
      if (opened.has(socket)) {
        failure = why;
        return;
      }
      connectFailures.set(why, (connectFailures.get(why) ?? 0) + 1);
      firstConnectError ??= event.error;
      if (error?.status === 429) refusedPerAddress = true;
    });
    openings.push(
      new Promise((resolve) => {
        socket.addEventListener("open", () => {
          opened.add(socket);
          resolve();
        });
        socket.addEventListener("close", (event) => {
          // A close the server started: during the run, or after it when its closing handshake waited behind
          // the messages in flight (a 1009 for a message too big comes late: the server stops reading).
          // 1006 is no Close from the server (RFC 6455 §7.1.5): the connection failed, here or on the way.
          if (opened.has(socket) && !closedByBench.has(socket)) {
            if (event.code === 1006)
              countError(`connection failed: ${failure ?? "closed without a Close frame"}`);
            else {
              countError(`closed by the server (${event.code})`);
              const seen = closeReasons.get(event.code);
              closeReasons.set(event.code, { reason: event.reason, count: (seen?.count ?? 0) + 1 });
            }
          }
          resolve();
        });
      }),
    );
  }

  await Promise.race([Promise.all(openings), signalled]);
  if (stoppedBy !== null) {
    await closeAll(sockets, closedByBench);
    process.stderr.write(`sockjet bench: stopped by ${stoppedBy} before the run started: no results\n`);
    return stoppedBy === "SIGTERM" ? 143 : 130;
  }
  const live = sockets.filter((socket) => socket.readyState === WebSocket.OPEN);
  if (live.length === 0) {
    // Nothing to stop: a signal during the probe below leaves at once, as without bench's listeners.
    ignoreSignals();
    // As connect does: the HandshakeError's code and message say why (a blocked port is never probed);
    // a plain HTTP upgrade request asks the server only when there is no such cause.
    const why =
      describeHandshakeFailure(firstConnectError) ??
      (await explainFailure(url, {
        protocols: flags.protocol,
        headers: options.headers,
        rejectUnauthorized: !flags.insecure,
      }));
    throw new Error(`cannot connect to ${displayUrl(url)}: ${why}`);
  }
  // Opened and closed again before the run: counted by their close event.
  if (opened.size < sockets.length) errorKinds["connection failed"] = sockets.length - opened.size;

  running = true;
  const started = performance.now();
  for (const socket of live) starters.get(socket)!();

  let lastMessages = 0;
  let lastBytes = 0;
  let lastAt = started;
  const ticker = progress
    ? setInterval(() => {
        const now = performance.now();
        const dt = (now - lastAt) / 1000;
        const line =
          `  ${((now - started) / 1000).toFixed(1)} s   ${grouped((messages - lastMessages) / dt)} msgs/s   ` +
          `${grouped((bytes - lastBytes) / dt / 1e6, 1)} MB/s   ${grouped(live.length)} connection${live.length === 1 ? "" : "s"}   ` +
          `${grouped(Object.values(errorKinds).reduce((a, b) => a + b, 0))} errors`;
        process.stderr.write(`\r${line}\x1b[K`);
        lastMessages = messages;
        lastBytes = bytes;
        lastAt = now;
      }, 1000)
    : null;

  let runTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise((resolve) => (runTimer = setTimeout(resolve, flags.duration * 1000))),
    signalled,
  ]);
  clearTimeout(runTimer);
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  if (ticker !== null) {
    clearInterval(ticker);
    process.stderr.write("\r\x1b[K");
  }
  await closeAll(sockets, closedByBench);

  const [p50, p99] = latency.percentiles(50, 99);
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  const result: BenchResult = {
    url: displayUrl(url),
    connections: flags.connections,
    inFlight,
    payloadBytes: size,
    text: flags.text,
    durationSeconds: round(elapsed, 3),
    messages,
    messagesPerSecond: round(messages / elapsed, 1),
    bytes,
    megabytesPerSecond: round(bytes / elapsed / 1e6, 3),
    latencyMs: {
      p50: round(p50, 3),
      p99: round(p99, 3),
      max: round(latency.max, 3),
      mean: round(latency.mean, 3),
    },
    errors,
    errorKinds,
  };
  process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : summaryTable(result));
  if (stoppedBy !== null)
    process.stderr.write(
      `sockjet bench: stopped by ${stoppedBy} after ${elapsed.toFixed(1)} s of ${flags.duration} s\n`,
    );
  if (messages === 0 && errors === 0)
    process.stderr.write("sockjet bench: no message came back; is this an echo endpoint?\n");
  reportServerCloses(closeReasons, size);
  const wrong = (errorKinds["wrong size echoed"] ?? 0) + (errorKinds["wrong bytes echoed"] ?? 0);
  if (wrong > 0)
    process.stderr.write(
      `sockjet bench: ${grouped(wrong)} answer(s) were not the message sent; is this an echo endpoint?\n`,
    );
  reportConnectFailures(connectFailures, refusedPerAddress);
  return errors === 0 && messages > 0 ? 0 : 1;
}

/**
 * Closes the sockets still open (noted in `closedByBench`) and waits for every close, at most CLOSE_WAIT_MS:
 * a socket the server is closing (CLOSING) is left to finish its handshake, so that its code is the server's.
 */
function closeAll(sockets: WebSocket[], closedByBench: Set<WebSocket>): Promise<void> {
  return new Promise((resolve) => {
    let open = 0;
    const timer = setTimeout(() => {
      // terminate() fires close in a later task, with the code of a Close the server sent: wait for those
      // events (a moment at most), or the server's code would be lost.
      for (const socket of sockets) if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
      setTimeout(resolve, CLOSE_EVENTS_WAIT_MS).unref();
    }, CLOSE_WAIT_MS);
    const closedOne = () => {
      if (--open === 0) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const socket of sockets) {
      if (socket.readyState === WebSocket.CLOSED) continue;
      open++;
      socket.addEventListener("close", closedOne);
      if (socket.readyState === WebSocket.OPEN) {
        closedByBench.add(socket);
        socket.close(1000, "bench done");
      } else if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    }
    if (open === 0) {
      clearTimeout(timer);
      resolve();
    }
  });
}
