import { EventEmitter } from "node:events";
import type * as http from "node:http";
import type { IncomingMessage } from "node:http";
import type * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Connection } from "../connection/connection.js";
import type { ConnectionOptions } from "../connection/connection-options.js";
import { type ResolvedRateLimit, resolveRateLimit } from "../connection/rate-limit.js";
import { CloseCode } from "../protocol/constants.js";
import { serverDeflateFromOption } from "../protocol/permessage-deflate/index.js";
import { checkMaxPayloadBytes } from "../web/client-options.js";
import type { CloseEvent } from "../web/events.js";
import { requireArguments } from "../web/webidl.js";
import { acceptWebSocket, closeWithStatus, type ServerHooks, type WebSocket } from "../web/websocket.js";
import { rejectWsOptionNames } from "../web/ws-option-names.js";
import { checkAdapter } from "./adapter.js";
import { HandshakeAdmission } from "./handshake-admission.js";
import {
  type AcceptedCallback,
  type HandshakeServer,
  runHandshake,
  type ValidRequest,
} from "./handshake-flow.js";
import { type HandshakeWire, Http1Wire } from "./handshake-wire.js";
import { Http2Shutdown } from "./http2-shutdown.js";
import { attachHttp2Target, detachHttp2Target, isHttp2Server } from "./http2-upgrade.js";
import { Keepalive } from "./keepalive.js";
import { listenOutcome } from "./listen-outcome.js";
import { checkServerOptions, checkUpgradeArguments } from "./option-checks.js";
import {
  SERVER_PER_MESSAGE_DEFLATE,
  SERVER_RATE_LIMIT,
  type ServerExtensionNegotiator,
  type WebSocketServerOptions,
} from "./options.js";
import { type PublishOptions, PubSub, type PubSubStats } from "./pubsub.js";
import { resolveResumeOptions } from "./resume-options.js";
import { RESUME_PROTOCOL } from "./resume-wire.js";
import { ServerErrorReports } from "./server-error-reports.js";
import { diagnostics, type WebSocketServerEventMap } from "./server-events.js";
import { resolveSettings, type Settings, serverConnectionOptions } from "./server-settings.js";
import { createStandaloneServer } from "./standalone-server.js";
import { selectSubprotocol } from "./subprotocol-choice.js";
import {
  attachUpgradeTarget,
  checkPathFree,
  detachUpgradeTarget,
  type UpgradeTarget,
} from "./upgrade-router.js";

// A WebSocket server whose connections are the WHATWG WebSocket class. Three modes, like ws: standalone
// (its own http server), attached ({ server, path } on an existing one) and noServer (handleUpgrade()).
// Its events and diagnostics channels are in server-events.ts, the refusals before verify in
// handshake-admission.ts, one handshake's steps in handshake-flow.ts.

type ServerListener<K extends keyof WebSocketServerEventMap> = (...args: WebSocketServerEventMap[K]) => void;
// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature, for any other event
type AnyListener = (...args: any[]) => void;

/** Typed listeners for WebSocketServerEventMap's events (on, once, off…); others are EventEmitter's. */
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
  /** A standalone http2 server's sessions and connections, ended by close() (http2-shutdown.ts). */
  private readonly http2Shutdown: Http2Shutdown | null = null;
  private readonly options: WebSocketServerOptions;
  private readonly settings: Settings;
  private readonly secure: boolean;
  private readonly keepalive: Keepalive;
  private readonly ownsServer: boolean;
  /** Our own server's listen(): true once it listens, false if it failed (null: not ours). */
  private listened: Promise<boolean> | null = null;
  private closing = false;
  private shutdown: Promise<void> | null = null;
  /** Topics and the scale-out adapter (src/server/pubsub.ts). */
  private readonly pubsub: PubSub;
  private readonly extension: ServerExtensionNegotiator | null;
  /** The refusals before verify (handshake-admission.ts). */
  private readonly admission: HandshakeAdmission;
  private readonly reports = new ServerErrorReports(this);
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
    if (options.server !== undefined) checkPathFree(options.server, options.path);
    this.options = options;
    this.extension =
      options.extension !== undefined
        ? options.extension
        : serverDeflateFromOption(options.perMessageDeflate ?? SERVER_PER_MESSAGE_DEFLATE);
    this.settings = resolveSettings(options);
    this.rateLimit = resolveRateLimit(
      options.rateLimit === undefined ? SERVER_RATE_LIMIT : options.rateLimit,
    );
    this.admission = new HandshakeAdmission(
      this.settings,
      options.origins,
      (request) => this.handles(request),
      () => this.clients.size + this.handshakes.handshaking,
    );
    this.pubsub = new PubSub(
      checkAdapter(options.adapter),
      (error) => this.reports.error(error),
      (error, topic) => this.reports.publishError(error, topic),
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
      attachUpgradeTarget(server, this, options.path);
      if (isHttp2Server(server)) {
        attachHttp2Target(server, this, options.path);
        this.http2Shutdown = new Http2Shutdown(server);
      }
      this.listened = listenOutcome(server);
      server.listen(options.port, options.host, options.backlog);
      this.httpServer = server;
      this.ownsServer = true;
      this.secure = options.tls !== undefined;
    } else if (options.server !== undefined) {
      this.httpServer = options.server as http.Server;
      this.ownsServer = false;
      this.secure = options.server instanceof tls.Server;
      attachUpgradeTarget(options.server as http.Server, this, options.path);
      if (isHttp2Server(options.server)) attachHttp2Target(options.server, this, options.path);
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
   * @internal The handshake shared by HTTP/1.1 upgrades and HTTP/2 extended CONNECTs (http2-upgrade.ts):
   * `wire` checks the request and writes the answers; everything else is the same (handshake-flow.ts).
   */
  handshake(request: IncomingMessage, wire: HandshakeWire, head: Buffer, callback: AcceptedCallback): void {
    runHandshake(this.handshakes, request, wire, head, callback);
  }

  /** What a handshake asks of the server (handshake-flow.ts), one object for all of them. */
  private readonly handshakes: HandshakeServer = this.handshakeServer();

  private handshakeServer(): HandshakeServer {
    const server = this;
    return {
      get closing() {
        return server.closing;
      },
      handshaking: 0,
      pendingHandshakes: new Set(),
      get handshakeTimeoutMs() {
        return server.settings.handshakeTimeoutMs;
      },
      get secure() {
        return server.secure;
      },
      get verify() {
        return server.options.verify;
      },
      admit: (request, wire) => this.admission.admit(request, wire),
      rejected: (request, status, reason) => {
        if (diagnostics.rejected.hasSubscribers) diagnostics.rejected.publish({ request, status, reason });
        this.emit("rejected", request, status, reason);
      },
      hookFailed: (error, request) => this.reports.handshakeError(error, request),
      prepareAccept: (valid, request, wire, url) => this.prepareAccept(valid, request, wire, url),
    };
  }

  /**
   * Chooses the subprotocol and the extensions and prepares the 101 (hooks may throw: a 500); what it
   * returns sends the 101, opens the WebSocket and announces it.
   */
  private prepareAccept(
    valid: ValidRequest,
    request: IncomingMessage,
    wire: HandshakeWire,
    url: URL,
  ): (head: Buffer, callback: AcceptedCallback) => void {
    const protocol = this.selectProtocol(valid.protocols, request);
    const negotiated = this.extension?.negotiate(valid.extensions) ?? null;
    const extensionsHeader = negotiated?.response ?? "";
    const extraHeaders =
      typeof this.options.headers === "function" ? this.options.headers(request) : this.options.headers;
    const sendAnswer = wire.prepareAccept(valid.key, protocol, extensionsHeader, extraHeaders);
    const options = this.connectionOptions(
      protocol === RESUME_PROTOCOL && this.pubsub.resumeSessions !== null,
    );
    const extension = negotiated?.extension ?? null;
    return (head, callback) => {
      sendAnswer();
      const { webSocket, connection } = acceptWebSocket({
        socket: wire.socket,
        options,
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
      connection.receiveHead(head);
    };
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
        for (const abort of [...this.handshakes.pendingHandshakes]) abort();
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
        this.http2Shutdown?.goaway();
        await this.pubsub.close(this.settings.shutdownTimeoutMs);
        if (this.ownsServer) (this.httpServer as http.Server | null)?.closeAllConnections?.();
        // A peer of our HTTP/2 server that holds its connection after the GOAWAY is cut in time.
        if (this.http2Shutdown !== null)
          await this.http2Shutdown.cutAfter(closedServer, this.settings.shutdownTimeoutMs);
        else await closedServer;
        this.reports.closed = true;
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
