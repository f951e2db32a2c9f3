import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import type * as http from "node:http";
import type { IncomingMessage } from "node:http";
import type { Http2Session } from "node:http2";
import type * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Connection } from "../connection/connection.js";
import type { ConnectionOptions } from "../connection/connection-options.js";
import { type ResolvedRateLimit, resolveRateLimit } from "../connection/rate-limit.js";
import { CloseCode } from "../protocol/constants.js";
import type { PerMessageExtension } from "../protocol/extension.js";
import type { UpgradeRequestResult } from "../protocol/handshake.js";
import { checkHeaderLimits, rawHeadersOf } from "../protocol/header-fields.js";
import { serverDeflateFromOption } from "../protocol/permessage-deflate/index.js";
import { checkMaxPayloadBytes } from "../web/client-options.js";
import type { CloseEvent } from "../web/events.js";
import { requireArguments } from "../web/webidl.js";
import { acceptWebSocket, closeWithStatus, type ServerHooks, type WebSocket } from "../web/websocket.js";
import { rejectWsOptionNames } from "../web/ws-option-names.js";
import { checkAdapter } from "./adapter.js";
import { ConnectionsPerIp } from "./connections-per-ip.js";
import { type HandshakeWire, Http1Wire } from "./handshake-wire.js";
import { attachHttp2Target, detachHttp2Target, isHttp2Server, trackSessions } from "./http2-upgrade.js";
import { Keepalive } from "./keepalive.js";
import { checkServerOptions, checkUpgradeArguments } from "./option-checks.js";
import {
  SERVER_PER_MESSAGE_DEFLATE,
  SERVER_RATE_LIMIT,
  type ServerExtensionNegotiator,
  type WebSocketServerOptions,
} from "./options.js";
import { compileOrigins, type OriginCheck } from "./origin-policy.js";
import { PendingPeer } from "./pending-peer.js";
import { type PublishOptions, PubSub, type PubSubStats } from "./pubsub.js";
import { resolveResumeOptions } from "./resume-options.js";
import { RESUME_PROTOCOL } from "./resume-wire.js";
import { resolveSettings, type Settings, serverConnectionOptions } from "./server-settings.js";
import { createStandaloneServer } from "./standalone-server.js";
import { selectSubprotocol } from "./subprotocol-choice.js";
import { attachUpgradeTarget, detachUpgradeTarget, type UpgradeTarget } from "./upgrade-router.js";
import { interpretVerdict, isThenable, type Verdict } from "./verify-verdict.js";

// A WebSocket server whose connections are the WHATWG WebSocket class. Three modes, like ws: standalone
// (its own http server), attached ({ server, path } on an existing one) and noServer (handleUpgrade()).

/** node:diagnostics_channel channels, for logging and metrics without patching. */
export const diagnostics = {
  open: channel("sockjet:server:open"),
  close: channel("sockjet:server:close"),
  rejected: channel("sockjet:server:handshake-rejected"),
};

/** The events of a WebSocketServer and their listeners' arguments. */
export interface WebSocketServerEventMap {
  /** A handshake completed: the accepted WebSocket and its upgrade request. */
  connection: [socket: WebSocket, request: IncomingMessage];
  /** Standalone mode: the server listens. */
  listening: [];
  /** The server's own failures: listening failed, the adapter could not take a publish. */
  error: [error: Error];
  /** close() is over: every connection is closed. */
  close: [];
  /** Standalone mode: a plain HTTP request (without a listener it gets 426 Upgrade Required). */
  request: [request: IncomingMessage, response: http.ServerResponse];
  /** A handshake was refused: its status and the reason. */
  rejected: [request: IncomingMessage, status: number, reason: string];
  /** A verify/selectProtocol/headers/origins hook threw or broke its contract; the client got a 500. */
  handshakeError: [error: Error, request: IncomingMessage];
  /** A publish could not be delivered (a Blob that cannot be read); the publishes behind it go on. */
  publishError: [error: Error, topic: string];
}

type ServerListener<K extends keyof WebSocketServerEventMap> = (...args: WebSocketServerEventMap[K]) => void;
// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature, for any other event
type AnyListener = (...args: any[]) => void;

/** Typed listeners for the events above (on, once, off and the rest); any other name is EventEmitter's. */
export interface WebSocketServer {
  /** Adds a listener for one of the server's events (WebSocketServerEventMap). */
  on<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Adds a listener for any other event (EventEmitter). */
  on(event: string | symbol, listener: AnyListener): this;
  /** Adds a listener called at most once for one of the server's events (WebSocketServerEventMap). */
  once<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Adds a listener called at most once for any other event (EventEmitter). */
  once(event: string | symbol, listener: AnyListener): this;
  /** Removes a listener for one of the server's events (WebSocketServerEventMap). */
  off<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Removes a listener for any other event (EventEmitter). */
  off(event: string | symbol, listener: AnyListener): this;
  /** Adds a listener (as on()) for one of the server's events (WebSocketServerEventMap). */
  addListener<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Adds a listener (as on()) for any other event (EventEmitter). */
  addListener(event: string | symbol, listener: AnyListener): this;
  /** Removes a listener (as off()) for one of the server's events (WebSocketServerEventMap). */
  removeListener<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Removes a listener (as off()) for any other event (EventEmitter). */
  removeListener(event: string | symbol, listener: AnyListener): this;
  /** Adds a listener before the others for one of the server's events (WebSocketServerEventMap). */
  prependListener<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Adds a listener before the others for any other event (EventEmitter). */
  prependListener(event: string | symbol, listener: AnyListener): this;
  /** Adds a listener before the others, called at most once for one of the server's events (WebSocketServerEventMap). */
  prependOnceListener<K extends keyof WebSocketServerEventMap>(event: K, listener: ServerListener<K>): this;
  /** Adds a listener before the others, called at most once for any other event (EventEmitter). */
  prependOnceListener(event: string | symbol, listener: AnyListener): this;
}

/**
 * A WebSocket server: standalone (`port`), attached to an http/https server (`server`), or `noServer` with
 * handleUpgrade(). Every accepted connection is a WebSocket, the same class as the client.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed EventEmitter events, as Node's own classes do
export class WebSocketServer extends EventEmitter implements UpgradeTarget {
  /** The open connections. */
  readonly clients = new Set<WebSocket>();
  /**
   * The http(s) server in standalone and attached modes. Typed as before for compatibility: with
   * `options.http2` or an attached node:http2 server, it is that server (see `isHttp2Server`).
   */
  readonly httpServer: http.Server | https.Server | null;
  /** The HTTP/2 sessions of a standalone http2 server, ended with GOAWAY by close(). */
  private readonly http2Sessions: Set<Http2Session> | null = null;
  private readonly options: WebSocketServerOptions;
  private readonly settings: Settings;
  private readonly secure: boolean;
  private readonly keepalive: Keepalive;
  private readonly ownsServer: boolean;
  /** Our own server's listen(): true once it listens, false if it failed (null: not ours). */
  private listened: Promise<boolean> | null = null;
  private handshaking = 0;
  private closing = false;
  private shutdown: Promise<void> | null = null;
  /** close() is over ('close' emitted). */
  private closed = false;
  /** Topics and the scale-out adapter (src/server/pubsub.ts). */
  private readonly pubsub: PubSub;
  private readonly extension: ServerExtensionNegotiator | null;
  private readonly originCheck: OriginCheck | null;
  private readonly perIp: ConnectionsPerIp | null;
  private warnedHandshakeError = false;
  private warnedPublishError = false;
  /** Handshakes waiting on an async verify: close() answers them 503 before it emits 'close'. */
  private readonly pendingHandshakes = new Set<() => void>();
  private readonly rateLimit: ResolvedRateLimit | null;

  constructor(options: WebSocketServerOptions, onListening?: () => void) {
    super();
    if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
    const modes =
      Number(options.port !== undefined) +
      Number(options.server !== undefined) +
      Number(options.noServer === true);
    if (modes !== 1)
      throw new TypeError("Exactly one of options.port, options.server and options.noServer must be given");
    rejectWsOptionNames(options, "server");
    checkServerOptions(options);
    checkMaxPayloadBytes(options.maxPayloadBytes);
    this.options = options;
    this.extension =
      options.extension !== undefined
        ? options.extension
        : serverDeflateFromOption(options.perMessageDeflate ?? SERVER_PER_MESSAGE_DEFLATE);
    this.settings = resolveSettings(options);
    this.rateLimit = resolveRateLimit(
      options.rateLimit === undefined ? SERVER_RATE_LIMIT : options.rateLimit,
    );
    this.originCheck = compileOrigins(options.origins);
    this.perIp =
      this.settings.maxConnectionsPerIp > 0 ? new ConnectionsPerIp(this.settings.maxConnectionsPerIp) : null;
    this.pubsub = new PubSub(
      checkAdapter(options.adapter),
      (error) => this.reportError(error),
      (error, topic) => this.reportPublishError(error, topic),
      resolveResumeOptions(options.resume),
      this.settings.handshakeTimeoutMs,
    );
    this.keepalive = new Keepalive(
      this.clients,
      this.settings.pingIntervalMs,
      this.settings.idleTimeoutMs,
      (webSocket) => closeWithStatus(webSocket, CloseCode.GoingAway, "idle timeout"),
    );

    if (options.port !== undefined) {
      const server = createStandaloneServer(this, options, this.settings);
      if (onListening) this.once("listening", onListening);
      attachUpgradeTarget(server, this);
      if (isHttp2Server(server)) {
        attachHttp2Target(server, this);
        this.http2Sessions = trackSessions(server);
      }
      this.listened = new Promise((resolve) => {
        const onListening = () => {
          server.off("error", onError);
          resolve(true);
        };
        const onError = () => {
          server.off("listening", onListening);
          resolve(false);
        };
        // First among the listeners: forwarding 'error' to a server without an 'error' listener throws, and
        // the listeners after it would not run (review 137).
        server.prependOnceListener("listening", onListening);
        server.prependOnceListener("error", onError);
      });
      server.listen(options.port, options.host, options.backlog);
      this.httpServer = server;
      this.ownsServer = true;
      this.secure = options.tls !== undefined;
    } else if (options.server !== undefined) {
      this.httpServer = options.server as http.Server;
      this.ownsServer = false;
      this.secure = options.server instanceof tls.Server;
      attachUpgradeTarget(options.server as http.Server, this);
      if (isHttp2Server(options.server)) attachHttp2Target(options.server, this);
    } else {
      this.httpServer = null;
      this.ownsServer = false;
      this.secure = false;
    }
  }

  /** The listening address (standalone and attached modes). */
  address(): AddressInfo | string | null {
    return this.httpServer?.address() ?? null;
  }

  /** Whether this server serves the request's path (attached and standalone modes with `path`). */
  handles(request: IncomingMessage): boolean {
    if (this.options.path === undefined) return true;
    const url = request.url ?? "/";
    const q = url.indexOf("?");
    return (q === -1 ? url : url.slice(0, q)) === this.options.path;
  }

  /** Completes the handshake of an upgrade request and emits 'connection' (what attached mode does). */
  handleUpgradeRequest(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.handleUpgrade(request, socket, head, (webSocket) => this.emit("connection", webSocket, request));
  }

  /**
   * Completes (or refuses) the handshake of an upgrade request and calls back with the WebSocket. For
   * noServer mode, from an http server's 'upgrade' event.
   */
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (webSocket: WebSocket, request: IncomingMessage) => void,
  ): void {
    checkUpgradeArguments(request, socket, head, callback);
    this.handshake(request, new Http1Wire(request, socket), head ?? Buffer.alloc(0), callback);
  }

  /**
   * A request's refusal, in the order a client is told: too many or too large header fields (RFC 6585 §5:
   * 431), no endpoint at its path (404), then RFC 6455 §4.2.1 (method, version, key, protocol, extensions);
   * else its validated handshake. A request made by hand for handleUpgrade (as ws accepts) may have headers but
   * no rawHeaders, and values that are no strings (read as strings); one that cannot be read (a toString that
   * throws) is a 400, never an exception out of handleUpgrade.
   */
  private checkRequest(request: IncomingMessage, wire: HandshakeWire): UpgradeRequestResult {
    try {
      const limits = checkHeaderLimits(request.rawHeaders ?? rawHeadersOf(request.headers), {
        maxHeaderCount: this.settings.maxHeaderCount,
        maxHeaderBytes: this.settings.maxHeaderBytes,
      });
      if (!limits.ok) return limits;
      if (!this.handles(request))
        return { ok: false, status: 404, reason: "No WebSocket endpoint at this path" };
      return wire.validate();
    } catch {
      return { ok: false, status: 400, reason: "Malformed request headers" };
    }
  }

  /**
   * @internal The handshake shared by HTTP/1.1 upgrades and HTTP/2 extended CONNECTs (http2-upgrade.ts):
   * `wire` checks the request and writes the answers; everything else is the same.
   */
  handshake(
    request: IncomingMessage,
    wire: HandshakeWire,
    head: Buffer,
    callback: (webSocket: WebSocket, request: IncomingMessage) => void,
  ): void {
    const socket = wire.socket;
    // Errors on the raw socket before the connection layer owns it must not crash the process.
    const onEarlyError = () => socket.destroy();
    socket.on("error", onEarlyError);
    const refuse = (status: number, reason: string, headers?: Record<string, string>) => {
      socket.off("error", onEarlyError);
      socket.on("error", () => {});
      if (diagnostics.rejected.hasSubscribers) diagnostics.rejected.publish({ request, status, reason });
      this.emit("rejected", request, status, reason);
      wire.refuse(status, reason, headers);
    };
    // A hook's bug is the server's error, not the client's: 500. It is never the 'error' event, which would
    // take down a process that has no 'error' listener (see reportHandshakeError).
    const hookFailed = (error: unknown) => {
      this.reportHandshakeError(error, request);
      refuse(500, "Internal error while accepting the WebSocket");
    };
    if (this.closing) {
      refuse(503, "Server is shutting down");
      return;
    }
    const checked = this.checkRequest(request, wire);
    if (!checked.ok) {
      // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to; RFC 6455 §4.4: and the version we speak.
      const headers = checked.status === 426 ? { Upgrade: "websocket", ...checked.headers } : checked.headers;
      refuse(checked.status, checked.reason, headers);
      return;
    }
    // RFC 6455 §4.2.1 item 7, §10.2: the Origin tells which page opened the connection.
    if (this.originCheck !== null) {
      let allowed: boolean;
      try {
        allowed = this.originCheck(request);
      } catch (error) {
        hookFailed(error);
        return;
      }
      if (!allowed) {
        refuse(403, "Origin not allowed");
        return;
      }
    }
    if (this.clients.size + this.handshaking >= this.settings.maxConnections) {
      refuse(503, "Too many connections", { "Retry-After": "5" });
      return;
    }
    // RFC 6585 §4: 429 says *this client* made too many requests; a 503 (RFC 9110 §15.6.4) would say the
    // server is unavailable to everyone, which load balancers take as a sick backend.
    if (this.perIp !== null && !this.perIp.admit(socket)) {
      refuse(429, "Too many connections from this address", { "Retry-After": "5" });
      return;
    }

    this.handshaking++;
    let done = false;
    /** Reads the socket while an async verify runs, to notice a peer that leaves. */
    let pending: PendingPeer | null = null;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      this.handshaking--;
      clearTimeout(timer);
      pending?.stop();
      this.pendingHandshakes.delete(abortForShutdown);
      // This closure's scope holds the request, its headers and the URL: nothing may keep it alive once
      // the handshake is over, or every idle connection would cost them too.
      socket.off("close", onCloseDuringHandshake);
      return true;
    };
    const onCloseDuringHandshake = () => finish();
    // The request head is complete (Node answers a slow head with 408 itself): what is late is verify, the
    // server's side. RFC 9110 §15.5.9: 408 would blame the client (and invite a blind retry); §15.6.4: 503
    // with Retry-After says the server could not answer now.
    const timer = setTimeout(() => {
      if (finish()) refuse(503, "The server did not decide in time", { "Retry-After": "5" });
    }, this.settings.handshakeTimeoutMs);
    timer.unref();
    socket.once("close", onCloseDuringHandshake);

    /** close() during an async verify: answered now, so that nothing is emitted after 'close'. */
    const abortForShutdown = () => {
      if (finish()) refuse(503, "Server is shutting down");
    };

    const url = wire.url(this.secure);
    const proceed = (value: unknown) => {
      if (done) return;
      // close() started while verify ran: accepting now would add a connection close() never closes (and
      // whose socket keeps the port). Refuse it as a handshake arriving during shutdown is refused.
      if (this.closing) {
        finish();
        refuse(503, "Server is shutting down");
        return;
      }
      let verdict: Verdict;
      try {
        verdict = interpretVerdict(value);
      } catch (error) {
        finish();
        hookFailed(error);
        return;
      }
      if (!verdict.accept) {
        finish();
        refuse(verdict.status, verdict.message, verdict.headers);
        return;
      }
      // A peer that left while verify ran (FIN or reset) is not accepted: it could never take part in a
      // closing handshake, and nothing would ever remove it.
      if (socket.destroyed || !socket.writable || socket.readableEnded) {
        if (finish()) socket.destroy();
        return;
      }
      let sendAnswer: () => void;
      let protocol = "";
      let extensionsHeader = "";
      let connectionOptions: ConnectionOptions;
      let extension: PerMessageExtension | null = null;
      try {
        protocol = this.selectProtocol(checked.protocols, request);
        const negotiated = this.extension?.negotiate(checked.extensions) ?? null;
        extensionsHeader = negotiated?.response ?? "";
        const extraHeaders =
          typeof this.options.headers === "function" ? this.options.headers(request) : this.options.headers;
        sendAnswer = wire.prepareAccept(checked.key, protocol, extensionsHeader, extraHeaders);
        connectionOptions = this.connectionOptions(
          protocol === RESUME_PROTOCOL && this.pubsub.resumeSessions !== null,
        );
        extension = negotiated?.extension ?? null;
      } catch (error) {
        finish();
        hookFailed(error);
        return;
      }
      if (!finish()) return;
      socket.off("error", onEarlyError);
      sendAnswer();
      const { webSocket, connection } = acceptWebSocket({
        socket,
        options: connectionOptions,
        extension,
        ...this.sharedUrl(url),
        protocol,
        extensions: extensionsHeader,
        server: (this.hooks ??= { topics: this.pubsub, onClosed: this.untrack }),
      });
      const resumeSessions = protocol === RESUME_PROTOCOL ? this.pubsub.resumeSessions : null;
      // docs/resume.md: a resume connection is announced once its hello has set up its session. Set up
      // before anything can see the socket (server.clients, the diagnostics channel): what subscribes it
      // meanwhile waits for its session.
      resumeSessions?.accept(webSocket, connection, request, () => callback(webSocket, request));
      this.track(webSocket);
      if (diagnostics.open.hasSubscribers) diagnostics.open.publish({ webSocket, request });
      if (resumeSessions === null) callback(webSocket, request);
      connection.receiveHead(pending === null ? head : pending.received(head));
    };

    if (this.options.verify === undefined) {
      proceed(true);
      return;
    }
    const origin = request.headers.origin;
    let verdict: unknown;
    try {
      verdict = this.options.verify({
        request,
        origin: typeof origin === "string" ? origin : "",
        secure: url.protocol === "wss:",
        url,
      });
      if (isThenable(verdict)) {
        pending = new PendingPeer(socket, () => {
          if (finish()) socket.destroy();
        });
        this.pendingHandshakes.add(abortForShutdown);
        // Any thenable is a promise (Promise.resolve adopts it, as await would).
        Promise.resolve(verdict)
          .then(proceed, (error) => {
            if (finish()) hookFailed(error);
          })
          // A 'connection' listener that throws: uncaught, as it would be when verify is synchronous.
          .catch((error) =>
            process.nextTick(() => {
              throw error;
            }),
          );
        return;
      }
    } catch (error) {
      finish();
      hookFailed(error);
      return;
    }
    proceed(verdict);
  }

  /**
   * A handshake hook failed: 'handshakeError' for whoever listens; else one process warning, so the bug is
   * seen but never takes the server down (as an 'error' with no listener would).
   */
  private reportHandshakeError(error: unknown, request: IncomingMessage): void {
    const reported = error instanceof Error ? error : new Error(String(error));
    if (this.listenerCount("handshakeError") > 0) {
      this.emit("handshakeError", reported, request);
      return;
    }
    if (this.warnedHandshakeError) return;
    this.warnedHandshakeError = true;
    process.emitWarning(
      `A WebSocketServer handshake hook failed and the client got a 500: ${reported.message} ` +
        "(listen for 'handshakeError' to see every such error)",
      { code: "SJ_HANDSHAKE_HOOK_FAILED" },
    );
  }

  /**
   * The adapter or the resume store failed: the server's 'error'. Once the server has closed, as a process
   * warning instead: work that outlived close() (a resume still waiting for a stalled store past
   * shutdownTimeoutMs) fails against a closed store, nothing is left for the app to do, and an 'error' with
   * no listener left would throw.
   */
  private reportError(error: Error): void {
    if (!this.closed) {
      this.emit("error", error);
      return;
    }
    process.emitWarning(`After the WebSocketServer closed: ${error.message}`, {
      code: (error as { code?: string }).code ?? "SJ_ERR_AFTER_CLOSE",
    });
  }

  /**
   * A publish could not be delivered (a Blob that cannot be read): 'publishError' for whoever listens; else
   * one process warning. Only that message is lost: it is no reason to take the server down.
   */
  private reportPublishError(error: Error, topic: string): void {
    if (this.listenerCount("publishError") > 0) {
      this.emit("publishError", error, topic);
      return;
    }
    if (this.warnedPublishError) return;
    this.warnedPublishError = true;
    process.emitWarning(
      `${error.message} (listen for the WebSocketServer's 'publishError' to see every such error)`,
      { code: "SJ_PUBLISH_FAILED" },
    );
  }

  /** Keeps an open connection in the server's sets until it closes (then untrack runs). */
  private track(webSocket: WebSocket): void {
    this.clients.add(webSocket);
    this.keepalive.added();
  }

  /** What the server hooks into its sockets (topics, close), one object for all of them. */
  private hooks: ServerHooks | null = null;

  /** The options of connections without an extension, [plain, resume]: one object for all of them. */
  private sharedConnectionOptions: [ConnectionOptions | null, ConnectionOptions | null] = [null, null];

  /** The options of a new connection (serverConnectionOptions), one object for all of them. */
  private connectionOptions(resume: boolean): ConnectionOptions {
    const index = resume ? 1 : 0;
    return (this.sharedConnectionOptions[index] ??= serverConnectionOptions(
      this.settings,
      this.rateLimit,
      resume,
    ));
  }

  /** The last accepted URL and its origin: connections to the same URL share the two strings. */
  private lastUrl = { url: "", origin: "" };

  private sharedUrl(url: URL): { url: string; origin: string } {
    const href = url.href;
    if (href !== this.lastUrl.url) this.lastUrl = { url: href, origin: url.origin };
    return this.lastUrl;
  }

  private readonly untrack = (webSocket: WebSocket, _connection: Connection, event: CloseEvent): void => {
    this.clients.delete(webSocket);
    this.keepalive.removed();
    this.pubsub.removeSocket(webSocket);
    if (diagnostics.close.hasSubscribers) diagnostics.close.publish({ webSocket, event });
    if (this.closing && this.clients.size === 0) this.emit("drained");
  };

  private selectProtocol(offered: string[], request: IncomingMessage): string {
    return selectSubprotocol(offered, request, this.options, this.pubsub.resumeSessions !== null);
  }

  /**
   * Publishes `data` (a string is text, bytes are binary, converted as send() does) to every subscriber of
   * `topic` but `options.except`: here at once, framed once, and through the adapter in every other process.
   * Returns how many local subscribers it was written to. A publish the adapter cannot take is an 'error'.
   * A Blob (server sockets' default binaryType) is read first and delivered in call order: publishes made
   * meanwhile wait behind it; both return 0. A Blob that cannot be read is a 'publishError', not an 'error'.
   */
  publish(
    topic: string,
    data: string | ArrayBufferLike | ArrayBufferView | Blob,
    options?: PublishOptions,
  ): number {
    requireArguments(arguments.length, 2, "publish");
    return this.pubsub.publish(topic, data, options);
  }

  /** Local subscribers of `topic`. */
  subscriberCount(topic: string): number {
    return this.pubsub.subscriberCount(topic);
  }

  /** Counters of this process's pub/sub. */
  get pubsubStats(): PubSubStats {
    return this.pubsub.stats;
  }

  /** Resolves once the adapter has answered every publish, subscribe and unsubscribe made so far. */
  adapterSettled(): Promise<void> {
    return this.pubsub.settled();
  }

  /**
   * Graceful shutdown: stops accepting, closes every connection with 1001 "going away", waits for the
   * closing handshakes up to shutdownTimeoutMs, then terminates what is left.
   */
  close(callback?: (error?: Error) => void): Promise<void> {
    // A second call shares the first one's promise: it resolves when the shutdown is over, not at once.
    const done = (this.shutdown ??= (async () => {
      if (!this.closing) {
        this.closing = true;
        if (this.httpServer !== null) detachUpgradeTarget(this.httpServer as http.Server, this);
        if (isHttp2Server(this.httpServer)) detachHttp2Target(this.httpServer, this);
        this.keepalive.stop();
        for (const abort of [...this.pendingHandshakes]) abort();
        const closedServer = this.ownsServer ? this.closeOwnServer() : Promise.resolve();
        for (const client of this.clients)
          closeWithStatus(client, CloseCode.GoingAway, "Server shutting down");
        await this.waitForClients();
        for (const client of this.clients) client.terminate();
        // Each terminated socket fires its close event in a task of its own: wait for them, so that code run
        // once close() resolves (process.exit) does not skip the application's close handlers.
        await this.waitForClients();
        // RFC 9113 §6.8: once every WebSocket has closed, GOAWAY tells the peers of our own HTTP/2 server that
        // no new stream will be served (the streams still open finish first).
        for (const session of this.http2Sessions ?? []) session.close();
        await this.pubsub.close(this.settings.shutdownTimeoutMs);
        if (this.ownsServer) (this.httpServer as http.Server | null)?.closeAllConnections?.();
        await closedServer;
        this.closed = true;
        this.emit("close");
      }
    })());
    if (callback) done.then(() => callback(), callback);
    return done;
  }

  /**
   * Closes the server we listen with. One still resolving its host name would listen after a close() made
   * now (Node's listen() goes on once the lookup returns), holding the port and the process for good: it is
   * closed once it listens (or fails to).
   */
  private async closeOwnServer(): Promise<void> {
    const server = this.httpServer as http.Server;
    if (!server.listening && !(await this.listened)) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private waitForClients(): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.settings.shutdownTimeoutMs);
      timer.unref();
      this.once("drained", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
