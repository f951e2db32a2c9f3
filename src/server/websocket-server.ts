import { channel } from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Connection, ConnectionOptions } from "../connection/connection.js";
import { type ResolvedRateLimit, resolveRateLimit } from "../connection/rate-limit.js";
import { CloseCode } from "../protocol/constants.js";
import { checkHeaderLimits, computeAccept, validateUpgradeRequest } from "../protocol/handshake.js";
import { serverDeflateFromOption } from "../protocol/permessage-deflate/index.js";
import type { CloseEvent } from "../web/events.js";
import { acceptWebSocket, closeWithStatus, type WebSocket } from "../web/websocket.js";
import { acceptResponse, requestUrl, writeRejection } from "./http-response.js";
import { Keepalive } from "./keepalive.js";
import {
  type Rejection,
  SERVER_DEFAULTS,
  SERVER_PER_MESSAGE_DEFLATE,
  SERVER_RATE_LIMIT,
  type ServerExtensionNegotiator,
  type VerifyResult,
  type WebSocketServerOptions,
} from "./options.js";
import { type PublishOptions, PubSub, type PubSubStats } from "./pubsub.js";
import { attachUpgradeTarget, detachUpgradeTarget, type UpgradeTarget } from "./upgrade-router.js";

// A WebSocket server whose connections are the WHATWG WebSocket class. Three modes, like ws: standalone
// (its own http server), attached ({ server, path } on an existing one) and noServer (handleUpgrade()).

/** node:diagnostics_channel channels, for logging and metrics without patching. */
export const diagnostics = {
  open: channel("sockjet:server:open"),
  close: channel("sockjet:server:close"),
  rejected: channel("sockjet:server:handshake-rejected"),
};

type Settings = Required<Pick<WebSocketServerOptions, keyof typeof SERVER_DEFAULTS>>;

export interface WebSocketServer {
  on(event: "connection", listener: (socket: WebSocket, request: IncomingMessage) => void): this;
  on(event: "listening", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: "close", listener: () => void): this;
  on(event: "request", listener: (request: IncomingMessage, response: http.ServerResponse) => void): this;
  on(event: "rejected", listener: (request: IncomingMessage, status: number, reason: string) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed EventEmitter events, as Node's own classes do
export class WebSocketServer extends EventEmitter implements UpgradeTarget {
  /** The open connections. */
  readonly clients = new Set<WebSocket>();
  /** The http(s) server in standalone and attached modes. */
  readonly httpServer: http.Server | https.Server | null;
  private readonly options: WebSocketServerOptions;
  private readonly settings: Settings;
  private readonly secure: boolean;
  private readonly keepalive: Keepalive;
  private readonly ownsServer: boolean;
  private readonly sockets = new Map<Connection, WebSocket>();
  private handshaking = 0;
  private closing = false;
  private shutdown: Promise<void> | null = null;
  /** Topics and the scale-out adapter (src/server/pubsub.ts). */
  private readonly pubsub: PubSub;
  private readonly extension: ServerExtensionNegotiator | null;
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
    this.options = options;
    this.extension =
      options.extension !== undefined
        ? options.extension
        : serverDeflateFromOption(options.perMessageDeflate ?? SERVER_PER_MESSAGE_DEFLATE);
    this.settings = { ...SERVER_DEFAULTS } as Settings;
    for (const key of Object.keys(SERVER_DEFAULTS) as (keyof Settings)[]) {
      const value = options[key];
      if (value === undefined) continue;
      if (key === "slowConsumer") {
        if (value !== "close" && value !== "pause")
          throw new TypeError("options.slowConsumer must be 'close' or 'pause'");
      } else if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
        throw new TypeError(`options.${key} must be a non-negative number`);
      }
      (this.settings as Record<string, unknown>)[key] = value;
    }
    this.rateLimit = resolveRateLimit(
      options.rateLimit === undefined ? SERVER_RATE_LIMIT : options.rateLimit,
    );
    this.pubsub = new PubSub(options.adapter ?? null, (error) => this.emit("error", error));
    this.keepalive = new Keepalive(
      this.settings.pingIntervalMs,
      this.settings.idleTimeoutMs,
      (connection) => {
        const webSocket = this.sockets.get(connection);
        if (webSocket !== undefined) closeWithStatus(webSocket, CloseCode.GoingAway, "Idle timeout");
      },
    );

    if (options.port !== undefined) {
      // Node enforces headersTimeout only when it sweeps its connections, every connectionsCheckingInterval
      // (default 30 s): sweep often enough that a slowloris head is cut within ~1.5 × handshakeTimeoutMs.
      const serverOptions = {
        maxHeaderSize: this.settings.maxHeaderBytes,
        connectionsCheckingInterval: Math.max(10, Math.min(1000, this.settings.handshakeTimeoutMs / 2)),
      };
      const server = options.tls
        ? https.createServer({ ...options.tls, ...serverOptions })
        : http.createServer(serverOptions);
      // Slowloris: a request head must arrive within the handshake timeout. The header count is ours to check.
      // (Only the head: a plain HTTP request served by a "request" listener, an upload say, keeps Node's
      // requestTimeout for its body.)
      server.headersTimeout = this.settings.handshakeTimeoutMs;
      server.maxHeadersCount = 0;
      server.on("request", (request, response) => {
        if (this.listenerCount("request") > 0) {
          this.emit("request", request, response);
          return;
        }
        const body = "426 Upgrade Required: this endpoint speaks WebSocket\n";
        response.writeHead(426, {
          "Content-Type": "text/plain",
          Upgrade: "websocket",
          Connection: "Upgrade",
        });
        response.end(body);
      });
      server.on("listening", () => this.emit("listening"));
      server.on("error", (error) => this.emit("error", error));
      if (onListening) this.once("listening", onListening);
      attachUpgradeTarget(server, this);
      server.listen(options.port, options.host, options.backlog);
      this.httpServer = server;
      this.ownsServer = true;
      this.secure = options.tls !== undefined;
    } else if (options.server !== undefined) {
      this.httpServer = options.server;
      this.ownsServer = false;
      this.secure = options.server instanceof https.Server;
      attachUpgradeTarget(options.server, this);
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
    // Errors on the raw socket before the connection layer owns it must not crash the process.
    const onEarlyError = () => socket.destroy();
    socket.on("error", onEarlyError);
    const refuse = (status: number, reason: string, headers?: Record<string, string>) => {
      socket.off("error", onEarlyError);
      socket.on("error", () => {});
      if (diagnostics.rejected.hasSubscribers) diagnostics.rejected.publish({ request, status, reason });
      this.emit("rejected", request, status, reason);
      writeRejection(socket, status, reason, headers);
    };
    if (this.closing) {
      refuse(503, "Server is shutting down");
      return;
    }
    // RFC 6585 §5: too many or too large header fields → 431.
    const limits = checkHeaderLimits(request.rawHeaders, {
      maxHeaderCount: this.settings.maxHeaderCount,
      maxHeaderBytes: this.settings.maxHeaderBytes,
    });
    if (!limits.ok) {
      refuse(limits.status, limits.reason);
      return;
    }
    if (!this.handles(request)) {
      refuse(404, "No WebSocket endpoint at this path");
      return;
    }
    // RFC 6455 §4.2.1: method, version, key, protocol and extension headers.
    const checked = validateUpgradeRequest({
      method: request.method ?? "",
      httpVersion: request.httpVersion,
      headers: request.headers,
    });
    if (!checked.ok) {
      refuse(checked.status, checked.reason, checked.headers);
      return;
    }
    if (this.clients.size + this.handshaking >= this.settings.maxConnections) {
      refuse(503, "Too many connections", { "Retry-After": "5" });
      return;
    }

    this.handshaking++;
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      this.handshaking--;
      clearTimeout(timer);
      // This closure's scope holds the request, its headers and the URL: nothing may keep it alive once
      // the handshake is over, or every idle connection would cost them too.
      socket.off("close", onCloseDuringHandshake);
      return true;
    };
    const onCloseDuringHandshake = () => finish();
    const timer = setTimeout(() => {
      if (finish()) refuse(408, "Handshake timed out");
    }, this.settings.handshakeTimeoutMs);
    timer.unref();
    socket.once("close", onCloseDuringHandshake);

    const url = requestUrl(request, this.secure || (socket as { encrypted?: boolean }).encrypted === true);
    const proceed = (verdict: VerifyResult) => {
      if (done) return;
      // close() started while verify ran: accepting now would add a connection close() never closes (and
      // whose socket keeps the port). Refuse it as a handshake arriving during shutdown is refused.
      if (this.closing) {
        finish();
        refuse(503, "Server is shutting down");
        return;
      }
      if (verdict === false || (typeof verdict === "object" && verdict !== null)) {
        finish();
        const rejection: Rejection = verdict === false ? { status: 401 } : verdict;
        refuse(
          rejection.status,
          rejection.message ?? http.STATUS_CODES[rejection.status] ?? "Rejected",
          rejection.headers,
        );
        return;
      }
      if (socket.destroyed) {
        finish();
        return;
      }
      let response: Buffer;
      let protocol = "";
      let extensionsHeader = "";
      let connectionOptions: ConnectionOptions;
      try {
        protocol = this.selectProtocol(checked.protocols, request);
        const negotiated = this.extension?.negotiate(checked.extensions) ?? null;
        extensionsHeader = negotiated?.response ?? "";
        const extraHeaders =
          typeof this.options.headers === "function" ? this.options.headers(request) : this.options.headers;
        response = acceptResponse(computeAccept(checked.key), protocol, extensionsHeader, extraHeaders);
        connectionOptions = {
          role: "server",
          maxPayloadBytes: this.settings.maxPayloadBytes,
          maxFragmentsPerMessage: this.settings.maxFragmentsPerMessage,
          extension: negotiated?.extension ?? null,
          closeTimeoutMs: this.settings.closeTimeoutMs,
          maxBufferedBytes: this.settings.maxBufferedBytes,
          slowConsumer: this.settings.slowConsumer,
          rateLimit: this.rateLimit,
        };
      } catch (error) {
        finish();
        this.emit("error", error);
        refuse(500, "Internal error while accepting the WebSocket");
        return;
      }
      if (!finish()) return;
      socket.off("error", onEarlyError);
      socket.write(response);
      const { webSocket, connection } = acceptWebSocket({
        socket: socket as Socket,
        options: connectionOptions,
        ...this.sharedUrl(url),
        protocol,
        extensions: extensionsHeader,
        topics: this.pubsub,
        onClosed: this.untrack,
      });
      this.track(webSocket, connection);
      if (diagnostics.open.hasSubscribers) diagnostics.open.publish({ webSocket, request });
      callback(webSocket, request);
      connection.receiveHead(head);
    };

    if (this.options.verify === undefined) {
      proceed(true);
      return;
    }
    const origin = request.headers.origin;
    let verdict: VerifyResult | Promise<VerifyResult>;
    try {
      verdict = this.options.verify({
        request,
        origin: typeof origin === "string" ? origin : "",
        secure: url.protocol === "wss:",
        url,
      });
    } catch (error) {
      finish();
      this.emit("error", error);
      refuse(500, "Internal error while verifying the handshake");
      return;
    }
    if (verdict instanceof Promise) {
      verdict.then(proceed, (error) => {
        if (!finish()) return;
        this.emit("error", error);
        refuse(500, "Internal error while verifying the handshake");
      });
    } else {
      proceed(verdict);
    }
  }

  /** Keeps an open connection in the server's sets until it closes (then untrack runs). */
  private track(webSocket: WebSocket, connection: Connection): void {
    this.clients.add(webSocket);
    this.sockets.set(connection, webSocket);
    this.keepalive.add(connection);
  }

  /** The last accepted URL and its origin: connections to the same URL share the two strings. */
  private lastUrl = { url: "", origin: "" };

  private sharedUrl(url: URL): { url: string; origin: string } {
    const href = url.href;
    if (href !== this.lastUrl.url) this.lastUrl = { url: href, origin: url.origin };
    return this.lastUrl;
  }

  private readonly untrack = (webSocket: WebSocket, connection: Connection, event: CloseEvent): void => {
    this.clients.delete(webSocket);
    this.sockets.delete(connection);
    this.keepalive.delete(connection);
    this.pubsub.removeSocket(webSocket);
    if (diagnostics.close.hasSubscribers) diagnostics.close.publish({ webSocket, event });
    if (this.closing && this.clients.size === 0) this.emit("drained");
  };

  private selectProtocol(offered: string[], request: IncomingMessage): string {
    if (offered.length === 0) return "";
    if (this.options.selectProtocol !== undefined) {
      const chosen = this.options.selectProtocol(offered, request);
      if (chosen === null || chosen === undefined || chosen === "") return "";
      // RFC 6455 §4.2.2 item 5.4: the selected value must be one the client offered.
      if (!offered.includes(chosen))
        throw new Error(`selectProtocol returned '${chosen}', which was not offered`);
      return chosen;
    }
    const supported = this.options.protocols ?? [];
    return offered.find((p) => supported.includes(p)) ?? "";
  }

  /**
   * Publishes `data` (a string is text, bytes are binary, converted as send() does) to every subscriber of
   * `topic` but `options.except`: here at once, framed once, and through the adapter in every other process.
   * Returns how many local subscribers it was written to. A publish the adapter cannot take is an 'error'.
   */
  publish(topic: string, data: string | ArrayBufferLike | ArrayBufferView, options?: PublishOptions): number {
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
        this.keepalive.stop();
        const closedServer =
          this.ownsServer && this.httpServer?.listening
            ? new Promise<void>((resolve) => this.httpServer!.close(() => resolve()))
            : Promise.resolve();
        for (const client of this.clients)
          closeWithStatus(client, CloseCode.GoingAway, "Server shutting down");
        await this.waitForClients();
        for (const client of this.clients) client.terminate();
        await this.pubsub.close(this.settings.shutdownTimeoutMs);
        if (this.ownsServer) (this.httpServer as http.Server | null)?.closeAllConnections?.();
        await closedServer;
        this.emit("close");
      }
    })());
    if (callback) done.then(() => callback(), callback);
    return done;
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
