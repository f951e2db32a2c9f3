import { createInterface, type Interface } from "node:readline";
import { resolveProxy } from "../client/proxy.js";
import { type CloseEvent, WebSocket } from "../index.js";
import { flag, formatFlags, MAX_TIMER_MS, parseArgs, UsageError } from "./args.js";
import type { Command } from "./command.js";
import { onSecondSignal } from "./second-signal.js";
import { readByteLines } from "./stdin-lines.js";
import { clientTarget, describeHandshakeFailure, displayUrl, explainFailure, headerLine } from "./target.js";
import { errorMessage, escapeControls, paintFor, quoted } from "./terminal.js";

// `sockjet connect URL`: stdin lines out as messages, received messages to stdout. Interactive on a
// terminal (prompt, colours), plain for pipes. Exit status: 0 on a clean close, 1 on a failure or an
// abnormal close, 2 on a usage error.

const CLEAN_CODES = new Set([1000, 1001, 1005]);
const HEX_PREVIEW_BYTES = 32;
/** Stdin is paused while more than this waits to be sent (bufferedAmount)… */
const PAUSE_ABOVE_BYTES = 4 * 1024 * 1024;
/** …and read again once less than this does, looked at every INPUT_POLL_MS (WebSocket has no drain event). */
const RESUME_BELOW_BYTES = 1024 * 1024;
const INPUT_POLL_MS = 20;
/**
 * How long answers may take after stdin ends: `echo hello | sockjet connect URL` shows the echo (a message
 * that arrives after our Close is not delivered: WHATWG "a WebSocket message has been received", step 1).
 */
const STDIN_END_WAIT_MS = 1000;

const specs = {
  protocol: flag.list("a subprotocol to offer", { valueName: "NAME" }),
  header: flag.list('an extra request header, "Name: value"', {
    short: "H",
    valueName: "HEADER",
    parse: headerLine,
  }),
  origin: flag.value("the Origin header to send", {
    short: "o",
    valueName: "ORIGIN",
    defaultValue: undefined as string | undefined,
  }),
  proxy: flag.value(
    "connect through this proxy: http://, https://, socks5:// or socks5h:// (user:pass@ allowed)",
    {
      valueName: "URL",
      defaultValue: undefined as string | undefined,
    },
  ),
  "proxy-env": flag.boolean("ignore HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY", { defaultValue: true }),
  binary: flag.boolean("send each line as a binary message instead of text", { short: "b" }),
  raw: flag.boolean(
    "print received text as is on a terminal too (controls like ESC are shown escaped otherwise)",
  ),
  deflate: flag.boolean("do not offer permessage-deflate compression", { defaultValue: true }),
  insecure: flag.boolean("accept any TLS certificate (self-signed wss://)", { short: "k" }),
  wait: flag.value(
    "stay connected MS after stdin ends, for the answers (default 1000); 'forever': until the server closes",
    {
      short: "w",
      valueName: "MS",
      defaultValue: STDIN_END_WAIT_MS,
      parse: waitTime,
    },
  ),
  close: flag.value("close with this code (1000 or 3000–4999) and reason when done (default 1000)", {
    valueName: "CODE[:REASON]",
    defaultValue: { code: 1000, reason: "" },
    parse: closeSpec,
  }),
};

const usage = `Usage: sockjet connect [options] URL

Connects to a WebSocket server. Each line of stdin is sent as a message; every message received is
printed (text as is, binary as <binary N bytes: hex>). On a terminal you get a prompt and colours, and
control characters in received text are shown escaped (ESC as \\x1b, U+202E as \\u202e) unless --raw;
the lines of a multi-line message stay lines. A password in the URL is shown as ***.
When stdin ends the connection is closed after --wait (1 s for the answers; sooner if the server closes).
Without --proxy, the proxy environment variables apply as curl and undici read them: http_proxy for ws://,
https_proxy (else http_proxy) for wss://, else all_proxy; no_proxy lists hosts (and subdomains, host:port,
address ranges such as 10.0.0.0/8 or fd00::/8 for IP-literal hosts, or *) to reach directly. Lower-case
names win over upper-case ones. Proxy passwords are never printed.

Options:
${formatFlags(specs)}

Exit status: 0 when the connection closes cleanly (1000, 1001, no code, or the --close code),
1 when it cannot be made or closes abnormally (one line on stderr says why), 2 for a usage error.

Examples:
  sockjet connect ws://localhost:8080/
  echo hello | sockjet connect ws://localhost:8080/
  sockjet connect --protocol chat ws://localhost:8080/chat
  sockjet connect --insecure --header "Authorization: Bearer t0k3n" wss://localhost:8443/
  sockjet connect --proxy socks5://127.0.0.1:1080 wss://example.com/`;

export const connect: Command = {
  name: "connect",
  summary: "interactive client: stdin lines out, messages in (like wscat)",
  usage,
  run,
};

function waitTime(raw: string): number {
  if (raw === "forever" || raw === "inf") return Number.POSITIVE_INFINITY;
  // The wait is one setTimeout, which fires at once past MAX_TIMER_MS.
  if (!/^\d+$/.test(raw) || Number(raw) > MAX_TIMER_MS)
    throw new Error(`expected milliseconds up to ${MAX_TIMER_MS}, or 'forever'`);
  return Number(raw);
}

function closeSpec(raw: string): { code: number; reason: string } {
  const colon = raw.indexOf(":");
  const codeText = colon === -1 ? raw : raw.slice(0, colon);
  const reason = colon === -1 ? "" : raw.slice(colon + 1);
  const code = Number(codeText);
  // WHATWG close(): the code is 1000 or 3000–4999, the reason at most 123 bytes of UTF-8.
  if (!/^\d+$/.test(codeText) || (code !== 1000 && (code < 3000 || code > 4999)))
    throw new Error("the code must be 1000 or from 3000 to 4999");
  if (Buffer.byteLength(reason) > 123) throw new Error("the reason must be at most 123 bytes of UTF-8");
  return { code, reason };
}

async function run(argv: string[]): Promise<number> {
  const { flags, positionals, help } = parseArgs(argv, specs);
  if (help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const { url, options } = clientTarget(positionals, flags);
  if (flags.proxy !== undefined) {
    // Checked here, so that a mistake names --proxy (the library's TypeError names options.proxy); neither
    // repeats the URL, which may hold a password.
    try {
      resolveProxy(flags.proxy, "--proxy", {});
    } catch (error) {
      throw new UsageError(errorMessage(error));
    }
    options.proxy = flags.proxy;
  }
  options.proxyFromEnvironment = flags["proxy-env"];

  let socket: WebSocket;
  try {
    socket = new WebSocket(url, flags.protocol, options);
  } catch (error) {
    // SyntaxError (protocols, URL) and TypeError (headers) from the constructor are the user's input.
    throw new UsageError(errorMessage(error).split(url.href).join(displayUrl(url)));
  }
  socket.binaryType = "arraybuffer";

  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const out = paintFor(process.stdout);
  // On a terminal, received text cannot drive it (escape sequences, bidi overrides); a multi-line message
  // keeps its lines, indented under the prompt's "< " so that none passes for a line of ours. Pipes and
  // --raw get the text as it came.
  const escapeText = process.stdout.isTTY === true && !flags.raw;
  const showText = (text: string) => {
    if (!escapeText) return text;
    const escaped = escapeControls(text, { newlines: true });
    return interactive ? escaped.replaceAll("\n", "\n  ") : escaped;
  };
  const err = paintFor(process.stderr);
  let rl: Interface | null = null;

  /** Prints a line without breaking the prompt the user is typing at. */
  const print = (line: string, stream: NodeJS.WriteStream = process.stdout) => {
    if (rl !== null && interactive) {
      process.stdout.write("\r\x1b[K");
      stream.write(`${line}\n`);
      rl.prompt(true);
    } else {
      stream.write(`${line}\n`);
    }
  };
  const status = (line: string) => {
    if (interactive) print(out.dim(line));
  };

  let opened = false;
  let inputDone = false;
  let closeRequested = false;
  const pending: (string | Buffer)[] = [];
  let waitTimer: NodeJS.Timeout | null = null;

  // Input is read at the server's pace: stdin pauses while more than PAUSE_ABOVE_BYTES wait to be sent, and
  // resumes below RESUME_BELOW_BYTES (a server that did not read made connect hold all its input: 400 MB
  // piped in took 600 MB, review 151).
  let inputPaused = false;
  const pauseInput = () => {
    inputPaused = true;
    process.stdin.pause();
    const poll = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > RESUME_BELOW_BYTES) return;
      clearInterval(poll);
      inputPaused = false;
      process.stdin.resume();
    }, INPUT_POLL_MS);
  };
  /** A line of bytes (`--binary` from a pipe or file) goes as it came; a typed one as UTF-8. */
  const sendLine = (line: string | Buffer) => {
    if (flags.binary && typeof line === "string") socket.send(Buffer.from(line, "utf8"));
    else socket.send(line);
    if (!inputPaused && socket.bufferedAmount > PAUSE_ABOVE_BYTES) pauseInput();
  };
  const requestClose = () => {
    if (closeRequested) return;
    closeRequested = true;
    if (socket.readyState === WebSocket.OPEN) socket.close(flags.close.code, flags.close.reason);
  };
  const afterInput = () => {
    if (!opened || socket.readyState !== WebSocket.OPEN) return;
    const wait = flags.wait;
    if (wait === 0) requestClose();
    else if (Number.isFinite(wait)) waitTimer = setTimeout(requestClose, wait);
  };

  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  // The library's cause of a failure (an ErrorEvent's error): why the handshake failed, or what broke.
  let failure: unknown = null;
  socket.addEventListener("error", (event) => (failure = event.error));

  socket.addEventListener("open", () => {
    opened = true;
    const details = [
      socket.protocol === "" ? "" : `protocol ${socket.protocol}`,
      socket.extensions === "" ? "" : socket.extensions,
    ].filter(Boolean);
    status(`connected to ${displayUrl(url)}${details.length > 0 ? ` (${details.join(", ")})` : ""}`);
    for (const line of pending.splice(0)) sendLine(line);
    if (inputDone) afterInput();
  });
  socket.addEventListener("message", (event) => {
    const data: unknown = event.data;
    if (typeof data === "string") print(interactive ? `${out.cyan("<")} ${showText(data)}` : showText(data));
    else {
      const summary = binarySummary(new Uint8Array(data as ArrayBuffer));
      print(interactive ? `${out.cyan("<")} ${out.magenta(summary)}` : summary);
    }
  });

  const onLine = (line: string | Buffer) => {
    if (socket.readyState === WebSocket.CONNECTING) pending.push(line);
    else if (socket.readyState === WebSocket.OPEN && !closeRequested) sendLine(line);
    else status("not connected: line not sent");
  };
  const onInputEnd = () => {
    inputDone = true;
    afterInput();
  };
  // --binary from a pipe or a file: the bytes of each line as they came (readline decodes UTF-8). A terminal
  // keeps readline's line editing.
  const stopByteLines =
    flags.binary && !interactive ? readByteLines(process.stdin, onLine, onInputEnd) : null;
  const lines =
    stopByteLines === null
      ? createInterface({
          input: process.stdin,
          output: interactive ? process.stdout : undefined,
          terminal: interactive,
          crlfDelay: Number.POSITIVE_INFINITY,
        })
      : null;
  if (interactive && lines !== null) {
    rl = lines;
    lines.setPrompt(out.dim("> "));
    lines.prompt();
  }
  lines?.on("line", (line) => {
    onLine(line);
    if (interactive) lines.prompt();
  });
  lines?.on("close", onInputEnd);
  // Ctrl-C or SIGTERM: a clean close first (the --close code, 1000 by default); a second one leaves at once
  // (130 after SIGINT, 143 after SIGTERM), except the same stop delivered twice (second-signal.ts). Before
  // the connection is open there is nothing to close: it leaves at once.
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals) => {
    if (socket.readyState !== WebSocket.OPEN) process.exit(signal === "SIGTERM" ? 143 : 130);
    if (interrupted) return;
    interrupted = true;
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    onSecondSignal((second) => process.exit(second === "SIGTERM" ? 143 : 130));
    status("closing… (Ctrl-C again to quit now)");
    requestClose();
  };
  // On a terminal, readline takes Ctrl-C itself (no signal is sent): a second one is the user's.
  lines?.on("SIGINT", () => (interrupted ? process.exit(130) : interrupt("SIGINT")));
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);

  const event = await closed;
  if (waitTimer !== null) clearTimeout(waitTimer);
  process.off("SIGINT", interrupt);
  process.off("SIGTERM", interrupt);
  rl = null;
  lines?.close();
  stopByteLines?.();
  process.stdin.destroy();
  if (interactive) process.stdout.write("\r\x1b[K");

  // The reason is the server's text: quoted, with every control escaped.
  const reason = event.reason === "" ? "" : ` ${quoted(event.reason)}`;
  if (!opened) {
    const why =
      describeHandshakeFailure(failure) ??
      (await explainFailure(url, {
        protocols: flags.protocol,
        headers: options.headers,
        origin: flags.origin,
        rejectUnauthorized: !flags.insecure,
      }));
    process.stderr.write(`${err.red("sockjet connect:")} cannot connect to ${displayUrl(url)}: ${why}\n`);
    return 1;
  }
  if (!event.wasClean) {
    process.stderr.write(
      `${err.red("sockjet connect:")} connection closed abnormally (${event.code}${reason}): no closing handshake\n`,
    );
    return 1;
  }
  const ours = closeRequested && event.code === flags.close.code;
  if (ours || CLEAN_CODES.has(event.code)) {
    // 1005: the Close frame had no status code (RFC 6455 §7.1.5), a clean close all the same.
    const code = event.code === 1005 ? "without a status code" : String(event.code);
    if (closeRequested) status(`closed (${code}${reason})`);
    else process.stderr.write(`sockjet connect: the server closed the connection (${code}${reason})\n`);
    return 0;
  }
  process.stderr.write(
    `${err.red("sockjet connect:")} the server closed the connection with ${event.code}${reason}\n`,
  );
  return 1;
}

/** `<binary 5 bytes: 68656c6c6f>`, the hex cut after HEX_PREVIEW_BYTES bytes. */
export function binarySummary(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, HEX_PREVIEW_BYTES));
  const more = bytes.length > HEX_PREVIEW_BYTES ? "…" : "";
  return `<binary ${bytes.length} byte${bytes.length === 1 ? "" : "s"}${bytes.length > 0 ? ": " : ""}${shown.toString("hex")}${more}>`;
}
