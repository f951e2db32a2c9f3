import { getEventListeners } from "node:events";
import { type ClientHandshake, validateExtraHeaders } from "../client/connect.js";
import { defaultHttp2Mode, startHandshake } from "../client/http2-connect.js";
import { proxyFor } from "../client/proxy.js";
import { Connection } from "../connection/connection.js";
import type { ConnectionEvents } from "../connection/connection-options.js";
import { CloseCode } from "../protocol/constants.js";
import { ConnectionLostError, ProtocolError } from "../protocol/errors.js";
import { clientDeflateFromOption } from "../protocol/permessage-deflate/index.js";
import { decodeText } from "../protocol/utf8.js";
import { plainBytes, SEND_ON_WEBSOCKET, toBinaryData, toSendPayload } from "./binary.js";
import {
  clientConnectionOptions,
  clientLocalOptions,
  clientTlsOptions,
} from "./client-connection-options.js";
import { validateClientOptions } from "./client-options.js";
import { closeArguments } from "./close-arguments.js";
import { originToSend, pageLocation, parseConstructorArguments } from "./constructor-arguments.js";
import type {
  AcceptedConnection,
  BinaryType,
  EventHandler,
  SendOptions,
  ServerHooks,
  WebSocketAddEventListenerOptions,
  WebSocketEventListener,
  WebSocketEventListenerOptions,
  WebSocketEventMap,
  WebSocketOptions,
} from "./websocket-options.js";

export type {
  AcceptedConnection,
  BinaryType,
  EventHandler,
  SendOptions,
  ServerHooks,
  WebSocketEventMap,
  WebSocketOptions,
} from "./websocket-options.js";

import {
  getEventHandler,
  type HandlerListener,
  type HandlerSlots,
  handlerListener,
  setEventHandler,
} from "./event-handlers.js";
import { CloseEvent, createMessageEvent, ErrorEvent } from "./events.js";
import type { PublishedMessage, TopicHost } from "./topic-hooks.js";
import { requireArguments, toDOMString } from "./webidl.js";
import { defineWebSocketInterface } from "./websocket-interface.js";
import {
  BINARY_TYPES,
  Bits,
  CLOSED,
  CLOSING,
  CONNECTING,
  OPEN,
  type QueuedSend,
  RareState,
} from "./websocket-state.js";
import { checkSendOptions } from "./ws-option-names.js";

// The WebSocket interface of the WHATWG WebSockets Standard (https://websockets.spec.whatwg.org/), the same
// class at both ends: `new WebSocket(url)` connects as a client; the server hands out instances made by
// acceptWebSocket(). Step numbers in comments follow the standard's algorithms.

let acceptImpl: (init: AcceptedConnection) => { webSocket: WebSocket; connection: Connection };

let closeImpl: (webSocket: WebSocket, code: number, reason: string) => void;

/**
 * Starts the closing handshake with any valid wire code (the server's 1001 "going away"), which the WHATWG
 * close() method does not allow.
 */
export function closeWithStatus(webSocket: WebSocket, code: number, reason = ""): void {
  closeImpl(webSocket, code, reason);
}

let deliverImpl: (webSocket: WebSocket, message: PublishedMessage) => boolean;

let sendInOrderImpl: (webSocket: WebSocket, text: string) => void;

/**
 * Sends a text message of the server's own (a resumable session's control message, its bytes final: around
 * Connection.hooks) behind whatever waits in the socket's send queue: a Blob being read and the topic
 * messages queued behind it (deliverPublished), so that a control message never overtakes the topic
 * messages it follows (docs/resume.md: send order = wire order).
 */
export function sendInOrder(webSocket: WebSocket, text: string): void {
  sendInOrderImpl(webSocket, text);
}

/**
 * Writes a topic message to an accepted socket: its shared frame as is, or an ordinary send where the
 * shared bytes cannot go (an extension transforms messages, or sends wait behind a Blob). False: dropped.
 */
export function deliverPublished(webSocket: WebSocket, message: PublishedMessage): boolean {
  return deliverImpl(webSocket, message);
}

let takeImpl: (
  webSocket: WebSocket,
  events: ConnectionEvents,
) => { connection: Connection; previous: ConnectionEvents };

/**
 * Hands an open WebSocket's connection to a WebSocketStream: from now on its messages go to `events`, which
 * forward the closing events to `previous` (so the WebSocket, and the server tracking it, see the close).
 * Throws InvalidStateError if the socket is not open, was taken already, or has had a message delivered
 * (which the stream would have missed).
 */
export function takeConnection(
  webSocket: WebSocket,
  events: ConnectionEvents,
): { connection: Connection; previous: ConnectionEvents } {
  return takeImpl(webSocket, events);
}

let connectionImpl: (webSocket: WebSocket) => Connection | null;

/**
 * The connection of a WebSocket (an accepted one has it from the start; a client once open): the server's
 * keepalive reaches connections through its `clients` set, with no table of its own.
 */
export function connectionOf(webSocket: WebSocket): Connection | null {
  return connectionImpl(webSocket);
}

let acceptedImpl: (webSocket: WebSocket) => boolean;
/** Whether a WebSocket is a server's socket (accepted by a WebSocketServer), not a client's. */
export function isAccepted(webSocket: WebSocket): boolean {
  return acceptedImpl(webSocket);
}

/** Makes the WebSocket (readyState OPEN) of a connection the server accepted. */
export function acceptWebSocket(init: AcceptedConnection): { webSocket: WebSocket; connection: Connection } {
  return acceptImpl(init);
}

let accepting: AcceptedConnection | null = null;
let ConnectionEventsOf: new (webSocket: WebSocket) => ConnectionEvents;

let isWebSocket: (value: unknown) => boolean;
/** The listener of every WebSocket's on* handlers (event-handlers.ts). */
let runHandler: HandlerListener;

/**
 * WebIDL §3.7.6 and §3.7.7 (operations and attribute accessors): "If thisValue does not implement the
 * interface, throw a TypeError", before any argument is converted (WPT websockets/idlharness). Accessors
 * and methods that read a private field first get this from the language; the others call this.
 */
function requireWebSocket(value: unknown, member: string): void {
  if (!isWebSocket(value)) {
    throw new TypeError(`Failed to execute '${member}' on 'WebSocket': Illegal invocation`);
  }
}

/**
 * The WHATWG WebSocket (https://websockets.spec.whatwg.org/) on Node.js: the client
 * (`new WebSocket(url, protocols?, options?)`) and every connection a WebSocketServer accepts.
 */
export class WebSocket extends EventTarget {
  // WebIDL §3.7.5 constants: defined below the class as read-only, non-configurable properties.
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  #url: string;
  /** The URL's origin for MessageEvent.origin: a client's is serialized on its first message (issue 17). */
  #origin: string | null = null;
  #protocol = "";
  #extensions = "";
  #connection: Connection | null = null;
  /**
   * readyState, binaryType and the yes/no state, in bits (Bits), behind the accessors below: a field each
   * would cost 8 bytes per socket, idle ones included (issue 17).
   */
  #bits = 0;
  /** What few sockets use (RareState), made on first use. */
  #rare: RareState | null = null;
  /** The on* handler attributes, made on first use. */
  #handlers: HandlerSlots | null = null;
  /** The accepting server's topics and close hook, shared by its sockets. */
  #server: ServerHooks | null = null;

  get #topicHost(): TopicHost | null {
    return this.#server?.topics ?? null;
  }

  get #readyState(): number {
    return this.#bits & Bits.readyState;
  }
  set #readyState(state: number) {
    this.#bits = (this.#bits & ~Bits.readyState) | state;
  }
  get #binaryType(): BinaryType {
    return BINARY_TYPES[(this.#bits & Bits.binaryType) >> Bits.binaryTypeShift];
  }
  set #binaryType(type: BinaryType) {
    this.#bits = (this.#bits & ~Bits.binaryType) | (BINARY_TYPES.indexOf(type) << Bits.binaryTypeShift);
  }
  get #hasMessageListener(): boolean {
    return (this.#bits & Bits.hasMessageListener) !== 0;
  }
  set #hasMessageListener(on: boolean) {
    this.#bits = on ? this.#bits | Bits.hasMessageListener : this.#bits & ~Bits.hasMessageListener;
  }
  /** A WebSocketStream has taken this socket's messages (takeConnection). */
  get #taken(): boolean {
    return (this.#bits & Bits.taken) !== 0;
  }
  set #taken(on: boolean) {
    this.#bits = on ? this.#bits | Bits.taken : this.#bits & ~Bits.taken;
  }

  #rareState(): RareState {
    return (this.#rare ??= new RareState());
  }
  get #handshake(): ClientHandshake | null {
    return this.#rare?.handshake ?? null;
  }
  set #handshake(handshake: ClientHandshake | null) {
    if (handshake !== null || this.#rare !== null) this.#rareState().handshake = handshake;
  }
  /** Sends waiting behind a Blob being read, so that send order = wire order. */
  get #queue(): QueuedSend[] | null {
    return this.#rare?.queue ?? null;
  }
  set #queue(queue: QueuedSend[] | null) {
    if (queue !== null || this.#rare !== null) this.#rareState().queue = queue;
  }
  get #queuedBytes(): number {
    return this.#rare?.queuedBytes ?? 0;
  }
  set #queuedBytes(bytes: number) {
    if (bytes !== 0 || this.#rare !== null) this.#rareState().queuedBytes = bytes;
  }
  /** A close() waiting for queued Blob sends to go out first. */
  get #pendingClose(): { code: number; reason: string } | null {
    return this.#rare?.pendingClose ?? null;
  }
  set #pendingClose(close: { code: number; reason: string } | null) {
    if (close !== null || this.#rare !== null) this.#rareState().pendingClose = close;
  }
  /** WHATWG send(): data sent after closing is discarded but still counted in bufferedAmount. */
  get #discardedBytes(): number {
    return this.#rare?.discardedBytes ?? 0;
  }
  set #discardedBytes(bytes: number) {
    if (bytes !== 0 || this.#rare !== null) this.#rareState().discardedBytes = bytes;
  }

  constructor(url: string | URL, protocols?: string | string[], options?: WebSocketOptions) {
    super();
    const accepted = accepting;
    if (accepted !== null) {
      accepting = null;
      this.#url = accepted.url;
      this.#origin = accepted.origin;
      this.#protocol = accepted.protocol;
      this.#extensions = accepted.extensions;
      this.#server = accepted.server ?? null;
      this.#readyState = OPEN;
      this.#connection = new Connection(
        accepted.socket,
        accepted.options,
        this.#connectionEvents(),
        accepted.extension ?? accepted.options.extension ?? null,
      );
      return;
    }
    requireArguments(arguments.length, 1, "WebSocket constructor");
    const opts = validateClientOptions(options);
    // The baseURL and origin options win over the page's (where the global object has a location).
    const page = pageLocation();
    const { record, protocols: protocolList } = parseConstructorArguments(
      url,
      protocols,
      opts.baseURL ?? page?.href,
    );
    const headers = validateExtraHeaders(opts.headers);
    this.#url = record.href;

    // 11. Establish a WebSocket connection (in parallel).
    const tls = clientTlsOptions(opts);
    const local = clientLocalOptions(opts);
    const proxy = proxyFor(record, opts.proxy, opts.proxyFromEnvironment, tls, local);
    const connectionOptions = clientConnectionOptions(opts);
    this.#handshake = startHandshake(
      record,
      {
        protocols: protocolList,
        headers,
        origin: originToSend(opts.origin, headers, page),
        handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 30_000,
        maxHeaderBytes: opts.maxHeaderBytes,
        tls,
        proxy,
        local,
        extension:
          opts.extension !== undefined
            ? opts.extension
            : clientDeflateFromOption(opts.perMessageDeflate ?? true),
      },
      opts.http2 ?? defaultHttp2Mode(),
      (result) => {
        this.#handshake = null;
        // The handshake was all an open client's side object held: an idle one keeps none (issue 17).
        if (this.#rare?.unused === true) this.#rare = null;
        // "When the WebSocket connection is established": readyState OPEN, extensions, protocol, fire open.
        const connection = new Connection(
          result.socket,
          connectionOptions,
          this.#connectionEvents(),
          result.extension ?? null,
        );
        this.#readyState = OPEN;
        this.#extensions = result.extensions;
        this.#protocol = result.protocol;
        this.#connection = connection;
        this.dispatchEvent(new Event("open"));
        // Frames that came with the 101 are messages of later tasks, as in browsers: code that awaits a
        // promise resolved in onopen gets to add its message listener first.
        if (result.head.length > 0) {
          result.socket.pause();
          setImmediate(() => {
            connection.receiveHead(result.head);
            // Not socket.resume(): the head's messages may have paused input (a WebSocketStream's full
            // queue, pongs waiting to be sent), and that pause must hold.
            connection.resumeReading();
          });
        }
      },
      (error) => {
        // "Fail the WebSocket connection" during the handshake: closed, error, then close 1006.
        this.#handshake = null;
        setImmediate(() => this.#closed(CloseCode.Abnormal, "", false, error));
      },
    );
  }

  get url(): string {
    return this.#url;
  }

  get readyState(): number {
    return this.#readyState;
  }

  get bufferedAmount(): number {
    return (this.#connection?.bufferedAmount ?? 0) + this.#queuedBytes + this.#discardedBytes;
  }

  get extensions(): string {
    return this.#extensions;
  }

  get protocol(): string {
    return this.#protocol;
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    requireWebSocket(this, "binaryType");
    // WebIDL enumeration attribute: an unknown value is ignored.
    const type = toDOMString(value);
    if (type === "blob" || type === "arraybuffer" || type === "nodebuffer") this.#binaryType = type;
  }

  /** The peer's address (Node-only). */
  get remoteAddress(): string | undefined {
    return this.#connection?.socket.remoteAddress;
  }

  /** Node-only, server side: subscribes this socket to `topic` (a non-empty string); false if it already was. */
  subscribe(topic: string): boolean {
    requireArguments(arguments.length, 1, "subscribe");
    return this.#topics("subscribe").subscribe(this, topic);
  }

  /** Node-only, server side: unsubscribes from `topic`; false if it was not subscribed. */
  unsubscribe(topic: string): boolean {
    requireArguments(arguments.length, 1, "unsubscribe");
    return this.#topics("unsubscribe").unsubscribe(this, topic);
  }

  /** Node-only: whether this socket is subscribed to `topic`. */
  isSubscribed(topic: string): boolean {
    requireArguments(arguments.length, 1, "isSubscribed");
    return this.#topicHost?.isSubscribed(this, topic) ?? false;
  }

  /** Node-only: a snapshot of this socket's topics (empty on a client socket and once closed). */
  get topics(): readonly string[] {
    return this.#topicHost?.topicsOf(this) ?? Object.freeze([]);
  }

  /**
   * Node-only, server side: whether this connection resumed an earlier session (the server's `resume`
   * option, docs/resume.md): its subscriptions are back and the messages it missed were replayed.
   */
  get resumed(): boolean {
    return this.#topicHost?.resumed(this) ?? false;
  }

  /**
   * Node-only, server side: publishes `data` (converted as send() does, a Blob in call order) to every
   * subscriber of `topic` except this socket, in this process and, with an adapter, in every other. Returns
   * how many local subscribers it was written to (0 for a Blob, delivered once read).
   */
  publish(
    topic: string,
    data: string | ArrayBufferLike | ArrayBufferView | Blob,
    options?: { binary?: boolean },
  ): number {
    requireArguments(arguments.length, 2, "publish");
    return this.#topics("publish").publishFrom(this, topic, data, options);
  }

  #topics(method: string): TopicHost {
    if (this.#topicHost === null) {
      throw new DOMException(
        `Failed to execute '${method}' on 'WebSocket': only sockets accepted by a WebSocketServer have topics.`,
        "NotSupportedError",
      );
    }
    return this.#topicHost;
  }

  /** §"The send(data) method". */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob, options?: SendOptions): void {
    requireArguments(arguments.length, 1, "send");
    if (options !== undefined) checkSendOptions(options);
    // The hot path (an open socket, nothing queued behind a Blob, a string or bytes in a Uint8Array or an
    // ArrayBuffer): no conversion record, and a string is encoded straight into the frame (its UTF-8 length
    // comes from the encoding). Anything else — other views, shared or resizable or foreign-realm buffers —
    // takes the general path below, which applies every WebIDL rule.
    // (The per-message paths read #bits and #rare directly: a private accessor costs a brand check a call.)
    if ((this.#bits & Bits.readyState) === OPEN && this.#rare?.queue == null && this.#connection !== null) {
      if (typeof data === "string") {
        const text = data.toWellFormed();
        // Refused (the connection failed, the socket's close is on its way): discarded, still counted.
        if (this.#connection.sendText(text, options?.compress) < 0)
          this.#discardedBytes += Buffer.byteLength(text);
        return;
      }
      const bytes = plainBytes(data);
      if (bytes !== null) {
        if (!this.#connection.send(bytes, false, options?.compress, true))
          this.#discardedBytes += bytes.length;
        return;
      }
    }
    const text = typeof data === "string" ? data.toWellFormed() : null;
    const converted = text === null ? toSendPayload(data, SEND_ON_WEBSOCKET) : null;
    const size = text === null ? converted!.size : Buffer.byteLength(text);
    // 1. CONNECTING → InvalidStateError.
    if (this.#readyState === CONNECTING) {
      throw new DOMException(
        "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
        "InvalidStateError",
      );
    }
    // 2. After the closing handshake has started, the data is discarded but counted in bufferedAmount: "any
    // invocation of this method ... that does not throw an exception must increase the bufferedAmount
    // attribute", and once the connection is closed the value "will only increase". The same for data the
    // connection refuses after a failure, before its close is reported.
    if (this.#readyState !== OPEN || this.#connection === null) {
      this.#discardedBytes += size;
      return;
    }
    const compress = options?.compress;
    if (this.#queue === null) {
      // (A string was sent by the hot path above: readyState is OPEN and nothing is queued here.)
      if (converted !== null && converted.payload !== null) {
        if (!this.#connection.send(converted.payload, converted.isText, compress, converted.borrowed)) {
          this.#discardedBytes += size;
        }
        return;
      }
    }
    // A Blob (or anything queued behind one) waits for the Blob's bytes.
    const item: QueuedSend = {
      // Kept until the Blob ahead is read: the caller's bytes are copied now (WHATWG: as at the call).
      payload:
        text !== null
          ? Buffer.from(text, "utf8")
          : converted!.borrowed && converted!.payload !== null
            ? Buffer.from(converted!.payload)
            : converted!.payload,
      isText: text !== null || converted!.isText,
      compress,
      size,
      published: false,
    };
    (this.#queue ??= []).push(item);
    this.#queuedBytes += item.size;
    if (converted !== null && converted.blob !== null) {
      converted.blob.arrayBuffer().then(
        (bytes) => {
          item.payload = Buffer.from(bytes);
          this.#drainQueue();
        },
        () => {
          // A Blob that cannot be read (a file changed or removed since) fails the connection, as Chromium
          // does (WebSocketChannelImpl::BlobDidFail); sending an empty message in its place would corrupt
          // the stream. 1011: the client met an unexpected condition (RFC 6455 §7.4.1).
          if (this.#queue === null || this.#connection === null) return;
          this.#discardedBytes += this.#queuedBytes;
          this.#queuedBytes = 0;
          this.#queue = null;
          this.#pendingClose = null;
          this.#connection.fail(
            new ProtocolError(
              "SJ_ERR_BLOB_UNREADABLE",
              "A Blob passed to send() could not be read",
              CloseCode.InternalError,
            ),
          );
        },
      );
    }
  }

  /** §"The close(code, reason) method". */
  close(code?: number, reason?: string): void {
    requireWebSocket(this, "close");
    // A server's socket (this.#server is set on accept, never cleared) may send the codes servers send.
    const { status, reasonText } = closeArguments(code, reason, this.#server !== null);
    // 3. "Close the WebSocket".
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#readyState === CONNECTING) {
      // Not yet established: fail the connection; readyState CLOSING; events follow in a later task.
      this.#readyState = CLOSING;
      this.#handshake?.abort();
      return;
    }
    this.#readyState = CLOSING;
    // A reason without a code is sent with 1000; neither → a Close frame with no body (1005).
    const wireCode = status ?? (reasonText !== "" ? CloseCode.Normal : CloseCode.NoStatus);
    this.#startClosingHandshake(wireCode, reasonText);
  }

  /** Node-only: sends a Ping (at most 125 bytes of payload). */
  ping(data?: string | ArrayBufferView | ArrayBuffer): void {
    if (this.#readyState === CONNECTING) {
      throw new DOMException("Failed to execute 'ping': Still in CONNECTING state.", "InvalidStateError");
    }
    // A copy: a ping may wait behind a message being compressed.
    const payload =
      data === undefined
        ? Buffer.alloc(0)
        : Buffer.from(toSendPayload(data, "Failed to execute 'ping' on 'WebSocket'").payload!);
    this.#connection?.ping(payload);
  }

  /** Node-only: destroys the connection at once (no closing handshake): error and close 1006 follow. */
  terminate(): void {
    if (this.#readyState === CONNECTING) {
      this.#readyState = CLOSING;
      this.#handshake?.abort();
      return;
    }
    if (this.#readyState !== CLOSED) this.#readyState = CLOSING;
    this.#connection?.terminate();
  }

  // Typed overloads, as lib.dom declares them, so that browser code type-checks unchanged
  // (`socket.addEventListener("message", (event) => event.data)`).
  /** Listens to `open`, `message`, `error` or `close` (EventTarget), typed per event. */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | null,
    options?: WebSocketAddEventListenerOptions | boolean,
  ): void;
  /** Listens to any event type (EventTarget). */
  override addEventListener(
    type: string,
    listener: WebSocketEventListener | null,
    options?: WebSocketAddEventListenerOptions | boolean,
  ): void;
  override addEventListener(
    type: string,
    listener: WebSocketEventListener | null,
    options?: WebSocketAddEventListenerOptions | boolean,
  ): void {
    // The type is a DOMString (WebIDL): a String object or anything else that converts to "message" counts.
    // (EventTarget's method, so it also works on other EventTargets, which have no such flag.)
    if (listener != null && #hasMessageListener in this && String(type) === "message") {
      this.#hasMessageListener = true;
    }
    super.addEventListener(type, listener, options);
  }

  /** Removes a listener added with addEventListener(). */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | null,
    options?: WebSocketEventListenerOptions | boolean,
  ): void;
  /** Removes a listener of any event type (EventTarget). */
  override removeEventListener(
    type: string,
    listener: WebSocketEventListener | null,
    options?: WebSocketEventListenerOptions | boolean,
  ): void;
  override removeEventListener(
    type: string,
    listener: WebSocketEventListener | null,
    options?: WebSocketEventListenerOptions | boolean,
  ): void {
    super.removeEventListener(type, listener, options);
  }

  // The handler attributes are typed as in lib.dom; at run time any object is kept and anything else is null.
  get onopen(): EventHandler<"open"> {
    return getEventHandler(this.#handlers, "open") as EventHandler<"open">;
  }
  set onopen(value: EventHandler<"open">) {
    this.#setHandler("open", value);
  }
  get onmessage(): EventHandler<"message"> {
    return getEventHandler(this.#handlers, "message") as EventHandler<"message">;
  }
  set onmessage(value: EventHandler<"message">) {
    this.#setHandler("message", value);
  }
  get onerror(): EventHandler<"error"> {
    return getEventHandler(this.#handlers, "error") as EventHandler<"error">;
  }
  set onerror(value: EventHandler<"error">) {
    this.#setHandler("error", value);
  }
  get onclose(): EventHandler<"close"> {
    return getEventHandler(this.#handlers, "close") as EventHandler<"close">;
  }
  set onclose(value: EventHandler<"close">) {
    this.#setHandler("close", value);
  }

  #setHandler(type: string, value: unknown): void {
    setEventHandler(
      (this.#handlers ??= {}),
      type,
      value,
      runHandler,
      // HTML §8.1.8.1: the handler's listener is added by "add an event listener" itself, not through the
      // overridable public method (a subclass that wraps or forwards listeners must not break handlers).
      (t, l) => {
        if (t === "message") this.#hasMessageListener = true;
        super.addEventListener(t, l);
      },
      (t, l) => super.removeEventListener(t, l),
    );
  }

  static {
    runHandler = handlerListener((target) => (target as WebSocket).#handlers);
    isWebSocket = (value) => typeof value === "object" && value !== null && #readyState in value;
    // One small object per connection with its methods on a prototype, instead of five closures.
    ConnectionEventsOf = class implements ConnectionEvents {
      readonly #webSocket: WebSocket;
      constructor(webSocket: WebSocket) {
        this.#webSocket = webSocket;
      }
      onMessage(data: Buffer, isText: boolean): void {
        this.#webSocket.#onMessage(data, isText);
      }
      onPing(): void {}
      onPong(): void {}
      onClosing(): void {
        // "When the WebSocket closing handshake is started": readyState CLOSING.
        const webSocket = this.#webSocket;
        if (webSocket.#readyState === OPEN) webSocket.#readyState = CLOSING;
      }
      onClosed(code: number, reason: string, wasClean: boolean, error: Error | null): void {
        // Our failure (a ProtocolError: the close code and reason we sent), or a drop without a closing
        // handshake (the socket's error, if any, as the cause).
        const failure =
          error instanceof ProtocolError || error instanceof ConnectionLostError
            ? error
            : error !== null || code === CloseCode.Abnormal
              ? new ConnectionLostError(error)
              : null;
        this.#webSocket.#closed(code, reason, wasClean, failure);
      }
    };
    closeImpl = (webSocket, code, reason) => {
      if (webSocket.#readyState !== OPEN) return;
      webSocket.#readyState = CLOSING;
      webSocket.#startClosingHandshake(code, reason);
    };
    deliverImpl = (webSocket, message) => {
      const connection = webSocket.#connection;
      if (webSocket.#readyState !== OPEN || connection === null) return false;
      if (webSocket.#queue === null) {
        if (connection.acceptsSharedFrames)
          return connection.writeFrame(message.frame(), message.payload.length);
        if (connection.congested) return false;
        return connection.sendShared(message);
      }
      // Behind a Blob being read: keep send order = wire order.
      webSocket.#queueFinal(message.payload, message.isText);
      return true;
    };
    sendInOrderImpl = (webSocket, text) => {
      const connection = webSocket.#connection;
      if (connection === null) return;
      if (webSocket.#queue === null) connection.sendTextNow(text);
      else webSocket.#queueFinal(Buffer.from(text, "utf8"), true);
    };
    takeImpl = (webSocket, events) => {
      const connection = webSocket.#connection;
      if (webSocket.#readyState !== OPEN || connection === null) {
        throw new DOMException("The WebSocket is not open.", "InvalidStateError");
      }
      if (webSocket.#taken) {
        throw new DOMException("The WebSocket already has a WebSocketStream.", "InvalidStateError");
      }
      // A resumable session's connection (docs/resume.md) speaks sockjet.resume.1: its first message is the
      // hello, its messages go out with envelopes and prefixes. A stream would read the hello as the app's
      // and write bare messages the client takes as malformed.
      if (connection.hooks !== null) {
        throw new DOMException(
          "A resumable-session connection (sockjet.resume.1) cannot have a WebSocketStream: use the WebSocket.",
          "NotSupportedError",
        );
      }
      if (connection.messageDelivered) {
        throw new DOMException(
          "The WebSocket has already received messages: make its stream before the first one.",
          "InvalidStateError",
        );
      }
      webSocket.#taken = true;
      return { connection, previous: connection.takeEvents(events) };
    };
    connectionImpl = (webSocket) => webSocket.#connection;
    acceptedImpl = (webSocket) => webSocket.#server !== null;
    acceptImpl = (init) => {
      accepting = init;
      try {
        const webSocket = new WebSocket(init.url);
        return { webSocket, connection: webSocket.#connection! };
      } finally {
        accepting = null;
      }
    };
  }

  #connectionEvents(): ConnectionEvents {
    return new ConnectionEventsOf(this);
  }

  /** §"When a WebSocket message has been received". */
  #onMessage(data: Buffer, isText: boolean): void {
    // 1. If readyState is not OPEN, return.
    const bits = this.#bits;
    if ((bits & Bits.readyState) !== OPEN) return;
    if ((bits & Bits.hasMessageListener) === 0) {
      // No listener came through our addEventListener or onmessage; one may have come through
      // EventTarget.prototype.addEventListener.call(socket, …), which a browser also delivers to.
      if (getEventListeners(this, "message").length === 0) return;
      this.#hasMessageListener = true;
    }
    // 2–3. Text → a string; binary → a Blob or an ArrayBuffer per binaryType.
    const value = isText
      ? decodeText(data)
      : toBinaryData(data, BINARY_TYPES[(bits & Bits.binaryType) >> Bits.binaryTypeShift]);
    // 4. Fire a MessageEvent with origin = the serialized origin of the URL.
    this.dispatchEvent(createMessageEvent(value, (this.#origin ??= new URL(this.#url).origin)));
  }

  /** §"When the WebSocket connection is closed, possibly cleanly". */
  #closed(code: number, reason: string, wasClean: boolean, failure: Error | null): void {
    if (this.#readyState === CLOSED) return;
    // 1. readyState CLOSED.
    this.#readyState = CLOSED;
    this.#queue = null;
    this.#pendingClose = null;
    // 2. If the connection was failed (or dropped without a closing handshake), fire error. Node code gets
    // the cause, as undici gives it: an ErrorEvent with `error` and `message`.
    if (failure !== null) {
      this.dispatchEvent(new ErrorEvent("error", { error: failure, message: failure.message }));
    }
    // 3. Fire close.
    const event = new CloseEvent("close", { wasClean, code, reason });
    const onServerClosed = this.#server?.onClosed ?? null;
    if (onServerClosed !== null && this.#connection !== null) {
      onServerClosed(this, this.#connection, event);
    }
    this.dispatchEvent(event);
  }

  /** Queues bytes that are final (a topic or control message: around Connection.hooks) behind a Blob. */
  #queueFinal(payload: Buffer, isText: boolean): void {
    const size = payload.length;
    this.#queue!.push({ payload, isText, compress: undefined, size, published: true });
    this.#queuedBytes += size;
  }

  #drainQueue(): void {
    const queue = this.#queue;
    if (queue === null) return;
    while (queue.length > 0 && queue[0].payload !== null) {
      const item = queue.shift()!;
      this.#queuedBytes -= item.size;
      // Accepted by send() while OPEN, so it is sent even if close() was called since: the Close frame
      // waits for the queue (#startClosingHandshake). Only a connection that can no longer send drops it.
      const connection = this.#connection;
      const sent =
        connection === null
          ? false
          : item.published
            ? connection.sendNow(item.payload!, item.isText, item.compress)
            : connection.send(item.payload!, item.isText, item.compress);
      if (!sent) this.#discardedBytes += item.size;
    }
    if (queue.length > 0) return;
    this.#queue = null;
    const pending = this.#pendingClose;
    if (pending !== null) {
      this.#pendingClose = null;
      this.#connection?.close(pending.code, pending.reason);
    }
  }

  /**
   * "Start the WebSocket closing handshake". Messages that send() accepted while OPEN are sent first (the
   * standard sends them when send() is called; MDN: close() "does not discard previously-sent messages";
   * Chromium queues the Close frame behind pending Blob reads), so a Close frame waits for queued Blobs.
   */
  #startClosingHandshake(code: number, reason: string): void {
    this.#drainQueue();
    if (this.#queue !== null) {
      this.#pendingClose = { code, reason };
      return;
    }
    this.#connection?.close(code, reason);
  }
}

defineWebSocketInterface(WebSocket);
