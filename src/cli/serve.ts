import http, { type IncomingMessage } from "node:http";
import http2 from "node:http2";
import type https from "node:https";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { isBadPort } from "../client/bad-ports.js";
import {
  type ResumeOptions,
  type WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
} from "../index.js";
import { Http2Shutdown } from "../server/http2-shutdown.js";
import { isHttp2Server } from "../server/http2-upgrade.js";
import { SERVER_DEFAULTS } from "../server/options.js";
import { parseArgs, UsageError } from "./args.js";
import type { RedisChat } from "./chat-redis-connect.js";
import { type ChatPresence, ChatRoom } from "./chat-room.js";
import { closeSummary } from "./close-summary.js";
import type { Command } from "./command.js";
import { releaseHeapHeadroom } from "./heap-setting.js";
import { listen } from "./listen.js";
import { answerClientError, pageHandler } from "./page-server.js";
import { PublishFailureLog } from "./publish-failure-log.js";
import { onSecondSignal } from "./second-signal.js";
import { runPrimary, type ServeWorker, serveWorker } from "./serve-cluster.js";
import { displayRedisUrls, rateLimitFrom, specs, usage } from "./serve-flags.js";
import { hostGuard, serveGuard } from "./serve-guard.js";
import { takeConnections } from "./serve-handover.js";
import { closeSilentSockets, slowlorisTimeouts } from "./slowloris.js";
import { errorMessage, escapeControls, timestamp } from "./terminal.js";
import { readTlsPair } from "./tls-files.js";

// `sockjet serve`: one http(s) server with two WebSocketServers attached to it — echo on "/" and the chat
// room on "/chat" — and the demo page on `GET /`. Ctrl-C or SIGTERM closes every connection with 1001.
// With `--redis URL` the chat room's topic goes through Redis (sockjet/redis), so every `serve` pointed at
// the same Redis serves one room; a Redis Cluster node (or a list of them) gets sharded pub/sub.

const CHAT_MAX_PAYLOAD_BYTES = 16 * 1024;
const CHAT_TOPIC = "chat";

export const serve: Command = {
  name: "serve",
  summary: "echo + chat server with a demo page for the browser",
  usage,
  run,
};

/**
 * Loads and connects the Redis side of the chat room. The `redis` package is an optional peer dependency, so
 * the modules that import it are loaded only here, when --redis is given.
 */
async function startRedisChat(
  urls: string[],
  report: (message: string) => void,
  resumeLines: number,
): Promise<RedisChat | number> {
  let loaded: typeof import("./chat-redis-connect.js");
  try {
    loaded = await import("./chat-redis-connect.js");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" && /['"]redis['"]/.test(errorMessage(error))) {
      process.stderr.write(
        "sockjet serve: --redis needs the optional package 'redis' (node-redis): npm install redis\n",
      );
      return 2;
    }
    throw error;
  }
  try {
    return await loaded.connectRedisChat(urls, { topic: CHAT_TOPIC, report, resumeLines });
  } catch (error) {
    throw new Error(`cannot reach Redis at ${displayRedisUrls(urls)}: ${errorMessage(error)}`);
  }
}

/**
 * The chat's resume option: on the Redis store with --redis (which carries the room between processes too,
 * and was given --resume-lines itself), on the primary's store with --workers (its ClusterResumeHost was
 * given --resume-lines), else on the memory store, sized here. A store and maxMessagesPerTopic together are
 * refused (the store keeps its own bound).
 */
function resumeOptions(
  lines: number,
  windowMs: number,
  redisChat: RedisChat | null,
  worker: ServeWorker | null,
): ResumeOptions {
  const store = redisChat?.store ?? worker?.chatResumeStore();
  return store === undefined
    ? { maxMessagesPerTopic: lines, maxDisconnectionMs: windowMs }
    : { store, maxDisconnectionMs: windowMs };
}

async function run(argv: string[]): Promise<number> {
  const { flags, positionals, help } = parseArgs(argv, specs);
  if (help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const certFile = flags["tls-cert"];
  const keyFile = flags["tls-key"];
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError("--tls-cert and --tls-key go together");
  const quiet = flags.quiet;
  // With --workers, each worker's lines carry its number.
  const worker = serveWorker();
  const who = worker === null ? "" : `[worker ${worker.slot}]  `;
  // Fetch's "bad port" list (§2.9): browsers, undici and our own client refuse to connect to such a port, so
  // the page and every WebSocket to it would fail; serve still listens there (a test, a proxy in front).
  if (worker === null && isBadPort(flags.port))
    process.stderr.write(
      `sockjet serve: warning: port ${flags.port} is blocked by browsers and WebSocket clients, sockjet's ` +
        `included (Fetch "bad port": it belongs to another protocol); use another --port\n`,
    );
  const log = (line: string) => {
    if (!quiet) process.stdout.write(`${timestamp()}  ${who}${line}\n`);
  };
  if (worker === null && flags.workers > 1) {
    // The primary moves no binary messages (it hands connections over and relays the chat's lines and
    // replays as strings over IPC): V8's own heap rule suits it (heap-setting.ts).
    releaseHeapHeadroom();
    // The files are read here too, so that a wrong path is one error rather than one per worker.
    if (certFile !== undefined && keyFile !== undefined) readTlsPair(certFile, keyFile);
    return runPrimary({
      workers: flags.workers,
      port: flags.port,
      host: flags.host,
      redis: flags.redis !== undefined,
      resumeLines: flags["resume-lines"],
      banner: (bound) =>
        banner(bound, flags, certFile !== undefined, flags.workers, (flags.redis?.length ?? 0) > 1),
      log,
      warn: (line) => process.stderr.write(`${timestamp()}  sockjet serve: ${line}\n`),
    });
  }

  let redisChat: RedisChat | null = null;
  if (flags.redis !== undefined) {
    const started = await startRedisChat(
      flags.redis,
      (line) => process.stderr.write(`sockjet serve: ${who}${line}\n`),
      flags["resume-lines"],
    );
    if (typeof started === "number") return started;
    redisChat = started;
  }

  const handshakeTimeoutMs = flags["handshake-timeout"];
  const timeouts = slowlorisTimeouts(handshakeTimeoutMs);
  let httpServer: http.Server | https.Server;
  if (certFile !== undefined && keyFile !== undefined) {
    const { cert, key } = readTlsPair(certFile, keyFile);
    // A TLS handshake that never finishes is cut at the same timeout (node:tls handshakeTimeout, default 120 s).
    // HTTP/1.1 and HTTP/2 on one port (ALPN): browsers on h2 open their WebSockets on the page's connection
    // (RFC 8441); the HTTP/1.1 side keeps the same slowloris timeouts.
    const h2 = http2.createSecureServer({
      cert,
      key,
      allowHTTP1: true,
      noDelay: true,
      handshakeTimeout: handshakeTimeoutMs,
      settings: { enableConnectProtocol: true },
    });
    httpServer = Object.assign(h2, timeouts) as unknown as https.Server;
  } else {
    httpServer = http.createServer(timeouts);
  }
  const secure = httpServer instanceof tls.Server;
  const http2Shutdown = isHttp2Server(httpServer) ? new Http2Shutdown(httpServer) : null;
  // A handler error is a bug of ours, logged even with --quiet.
  httpServer.on(
    "request",
    pageHandler(
      (line) => process.stderr.write(`${timestamp()}  ${line}\n`),
      hostGuard(flags["allow-origin"], flags.host),
    ),
  );
  httpServer.on("clientError", answerClientError);
  closeSilentSockets(httpServer, handshakeTimeoutMs);

  // The demo negotiates permessage-deflate with browsers unless --no-deflate (the library's server default is
  // off: see docs/deflate.md).
  const common: WebSocketServerOptions = {
    server: httpServer,
    maxPayloadBytes: flags["max-payload"],
    perMessageDeflate: flags.deflate,
    maxConnectionsPerIp: flags["max-connections-per-ip"],
    handshakeTimeoutMs,
    // Which worker took the connection (a client may want to know; the tests do).
    ...(worker === null ? {} : { headers: { "X-Sockjet-Worker": `${worker.slot}; pid=${process.pid}` } }),
  };
  // Who may connect, per endpoint: with --workers, --max-connections-per-ip is also counted across the
  // workers, by the primary (each worker's own count is the first check); with --redis too, the chat's
  // members per address (without it, the primary's presence counts them).
  const guard = serveGuard(flags["allow-origin"], flags.host);
  const perIp = flags["max-connections-per-ip"];
  const addressCount = worker !== null && (perIp > 0 || redisChat !== null) ? worker.addressCount() : null;
  const guardOf = (endpoint: string) =>
    addressCount === null || perIp === 0
      ? guard
      : { ...guard, verify: addressCount.verify(endpoint, perIp, guard.verify) };
  const echo = new WebSocketServer({
    ...common,
    ...guardOf("/"),
    path: "/",
    protocols: flags.protocol,
    rateLimit: rateLimitFrom(flags, false),
  });
  const chat = new WebSocketServer({
    ...common,
    ...guardOf("/chat"),
    path: "/chat",
    protocols: ["chat"],
    rateLimit: rateLimitFrom(flags, true),
    maxPayloadBytes: Math.min(flags["max-payload"], CHAT_MAX_PAYLOAD_BYTES),
    // Resumable sessions (docs/resume.md): a page whose connection drops, or whose server restarts with
    // --redis, gets the lines it missed. With --redis the Redis Streams store keeps them; with --workers the
    // primary keeps them (ClusterResumeHost); either store carries the room's topic to the other processes
    // or workers itself (no adapter), so a member resumes on any of them. Otherwise the memory store keeps
    // this process's last lines.
    resume: resumeOptions(flags["resume-lines"], flags["resume-window"], redisChat, worker),
  });
  // Who is in the room: every process's members, kept in Redis, with --redis (see chat-redis.ts); every
  // worker's, kept by the primary, with --workers (chat-cluster.ts); else ours.
  const clusterPresence = redisChat === null ? worker?.chatPresence() : undefined;
  const presence: ChatPresence | undefined = redisChat?.presence ?? clusterPresence;
  const room = new ChatRoom({
    hub: chat,
    presence,
    topic: CHAT_TOPIC,
    linesPerSecond: flags["chat-rate"],
    sharedCount: redisChat !== null ? addressCount?.chatMembers() : undefined,
  });

  const logConnection = (socket: WebSocket, request: IncomingMessage) => {
    // --quiet: not even a listener per connection (idle memory).
    if (quiet) return;
    const address = clientAddress(socket.remoteAddress);
    // The target and the reason are the client's text: no terminal controls reach the log (obs-text bytes
    // 0x80–0x9f read as Latin-1 are C1 controls).
    const path = escapeControls(request.url ?? "/");
    const protocol = socket.protocol === "" ? "no subprotocol" : `protocol ${socket.protocol}`;
    const extensions = socket.extensions === "" ? "" : `, ${socket.extensions}`;
    log(`open   ${address}  ${path}  (${protocol}${extensions})`);
    // The error event's cause names why a failed connection closed (the close event says only 1006).
    let failure: unknown = null;
    socket.addEventListener("error", (event) => (failure = event.error));
    socket.addEventListener("close", (event) => {
      log(`close  ${address}  ${path}  ${closeSummary(event, failure)}`);
    });
  };
  echo.on("connection", (socket, request) => {
    logConnection(socket, request);
    // "nodebuffer": a binary message is a Buffer view of the bytes read, sent back as it is (send() copies it
    // into the frame); "arraybuffer" would add a fresh ArrayBuffer per message, the largest single cost of a
    // small echo (bench/micro/arraybuffer.mjs), and make this endpoint slower than the library's echo.
    socket.binaryType = "nodebuffer";
    // Text comes back as text, binary as binary. The close echo (same code and reason) is the protocol
    // layer's answer to the peer's Close frame (RFC 6455 §5.5.1).
    socket.addEventListener("message", (event) => socket.send(event.data as string | Buffer));
  });
  chat.on("connection", (socket, request) => {
    logConnection(socket, request);
    // The library matched the path "/chat", so what follows it is the query (URLSearchParams never throws).
    const target = request.url ?? "";
    const name = new URLSearchParams(target.slice(target.indexOf("?") + 1 || target.length)).get("name");
    room.join(socket, name).catch((error) => {
      // A bug or Redis trouble must not take the process down; this member is cut off (the WHATWG close()
      // allows no 1011 here, so the connection is terminated: the peer sees 1006).
      process.stderr.write(`${timestamp()}  ${who}error  chat join: ${errorMessage(error)}\n`);
      socket.terminate();
    });
  });
  // With --redis or --workers, failed publishes are one line when they start and one with their count when
  // they stop (a chat flood on --workers made 563,449 lines, one per failed publish: review).
  const publishFailures =
    redisChat === null && worker === null
      ? null
      : new PublishFailureLog(
          () => chat.pubsubStats,
          (line) => process.stderr.write(`sockjet serve: ${who}${line}\n`),
          500,
          redisChat === null ? "the cluster primary" : "Redis",
        );
  for (const server of [echo, chat]) {
    server.on("rejected", (request, status, reason) =>
      log(
        `refused ${clientAddress(request.socket.remoteAddress)}  ${escapeControls(request.url ?? "")}  ${status} ${reason}`,
      ),
    );
    server.on("error", (error) => {
      if (server === chat && publishFailures?.take(error)) return;
      process.stderr.write(`sockjet serve: ${who}${errorMessage(error)}\n`);
    });
  }

  // A worker of --workers does not listen: the primary hands it connections (serve-handover.ts).
  if (worker === null) await listen(httpServer, flags.port, flags.host);
  else takeConnections(httpServer);
  // Handlers first, banner second: whoever reads the banner may signal at once.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      // A second signal stops at once (a worker's second signal is its primary's); the same one delivered
      // twice (GNU timeout: to us, then to our group) does not.
      if (worker === null) onSecondSignal((second) => process.exit(second === "SIGINT" ? 130 : 143));
      log(`${signal}: closing ${echo.clients.size + chat.clients.size} connection(s) with 1001`);
      resolve();
    };
    if (worker !== null) {
      worker.onStop(stop);
    } else {
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    }
  });
  // A worker's banner is its primary's, printed once every worker is ready.
  if (worker === null) {
    const bound = httpServer.address() as AddressInfo;
    process.stdout.write(banner(bound, flags, secure, 1, redisChat?.cluster === true));
  }

  await stopped;
  // The room first: its members' leave notices reach the other processes while the adapter is still up.
  await room.close();
  // Each server waits for its closing handshakes (at most its shutdownTimeoutMs), then terminates the rest;
  // the chat server closes the adapter.
  await Promise.all([echo.close(), chat.close()]);
  publishFailures?.stop();
  clusterPresence?.close();
  addressCount?.close();
  await redisChat?.close();
  const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
  // HTTP/2: GOAWAY on each session (RFC 9113 §6.8), and a peer that holds its connection after it is cut
  // once the servers' shutdown timeout is over; Node closes the idle HTTP/1.1 ones of an h2 server.
  http2Shutdown?.goaway();
  httpServer.closeAllConnections?.();
  await (http2Shutdown?.cutAfter(closed, SERVER_DEFAULTS.shutdownTimeoutMs) ?? closed);
  log("stopped");
  return 0;
}

/** The startup lines: where the page, the echo and the chat are. */
function banner(
  bound: { address: string; port: number },
  flags: { host: string; redis: string[] | undefined; quiet: boolean },
  secure: boolean,
  workers: number,
  redisCluster: boolean,
): string {
  const base = `${displayHost(flags.host, bound.address)}:${bound.port}`;
  return (
    `sockjet serve: listening on ${bracketed(bound.address)}:${bound.port}` +
    (workers > 1 ? ` (${workers} worker processes)\n` : "\n") +
    `  page   ${secure ? "https" : "http"}://${base}/\n` +
    `  echo   ${secure ? "wss" : "ws"}://${base}/\n` +
    `  chat   ${secure ? "wss" : "ws"}://${base}/chat\n` +
    (flags.redis === undefined
      ? ""
      : `  redis  ${displayRedisUrls(flags.redis)} (${redisCluster ? "Redis Cluster, sharded pub/sub; " : ""}` +
        "one chat room with every serve using it)\n") +
    (flags.quiet ? "" : "Press Ctrl-C to stop.\n")
  );
}

/** The host to print in URLs: the one given, or localhost for "every interface". */
function displayHost(given: string, bound: string): string {
  if (given === "0.0.0.0" || given === "::" || given === "") return "localhost";
  if (given.includes(":")) return bracketed(given);
  return given || bracketed(bound);
}

function bracketed(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

function clientAddress(address: string | undefined): string {
  if (address === undefined) return "?";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}
