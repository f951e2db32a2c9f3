import { type BinaryType, CloseEvent, ErrorEvent, MessageEvent, WebSocket } from "../index.js";
import { SEND_ON_WEBSOCKET, toSendPayload } from "../web/binary.js";
import { closeArguments } from "../web/close-arguments.js";
import { toProtocolList } from "../web/constructor-arguments.js";
import {
  getEventHandler,
  type HandlerSlots,
  handlerListener,
  setEventHandler,
} from "../web/event-handlers.js";
import { requireArguments, toUSVString } from "../web/webidl.js";
import type {
  WebSocketAddEventListenerOptions,
  WebSocketEventListener,
  WebSocketEventListenerOptions,
} from "../web/websocket-options.js";
import { backoffDelayMs } from "./backoff.js";
import {
  DropEvent,
  ReconnectedEvent,
  ReconnectingEvent,
  type ReconnectingWebSocketEventMap,
  type SendData,
} from "./events.js";
import { type ReconnectingWebSocketOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { SendQueue } from "./send-queue.js";
import { closeStopsRetries } from "./stop-rules.js";

// A WebSocket that comes back: the WebSocket surface (events, send, readyState, binaryType, on*, url,
// protocol, close) over a series of public `WebSocket`s (DESIGN.md: above the web API). After a close the
// application did not ask for, it opens a new connection after a backoff with full jitter, unless the close
// means "do not come back" (stopCloseCodes, or an opening handshake refused with one of stopStatuses) or
// maxAttempts retries have failed. Only then does it fire `close` and become CLOSED.
//
// readyState: CONNECTING until a connection is open (and its onOpen hook done), and again while it is
// reconnecting; OPEN; CLOSING after close(); CLOSED once it has given up or been closed. Every `open` is a
// new connection (`reconnected` follows it from the second on); every `error` of every attempt is passed on;
// messages are passed on as they arrive (also while the onOpen hook runs). Sends are at most once: a message
// sent on a connection that then drops is not sent again.

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

type Handler<K extends keyof ReconnectingWebSocketEventMap> =
  | ((this: ReconnectingWebSocket, event: ReconnectingWebSocketEventMap[K]) => unknown)
  | null;

/** What this object's send() errors start with (WebSocket's say "'send' on 'WebSocket'"). */
const SEND_HERE = "Failed to execute 'send' on 'ReconnectingWebSocket'";

/**
 * A client WebSocket that opens a new connection, after a jittered backoff, when the current one ends
 * without the application asking; it has the WebSocket's surface and events, plus `reconnecting`,
 * `reconnected` and `drop`.
 */
export class ReconnectingWebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  readonly #options: ResolvedOptions;
  readonly #protocols: string[];
  #url: string;
  #readyState = CONNECTING;
  #binaryType: BinaryType = "blob";
  /** The current connection (connecting, open or closing), or null while waiting to retry. */
  #socket: WebSocket | null = null;
  /** The last connection's protocol and extensions (kept after it closed, as WebSocket keeps them). */
  #protocol = "";
  #extensions = "";
  /** The error event of the current connection, if any: it says whether a refused handshake may be retried. */
  #socketError: unknown = null;
  /** The current connection failed its onOpen hook: it is closed by us, and retried. */
  #hookFailed = false;
  #openedAt: number | null = null;
  /** Retries since the last stable connection. */
  #attempt = 0;
  #everOpened = false;
  #closeRequested = false;
  #retryTimer: NodeJS.Timeout | null = null;
  /**
   * WHATWG send(): once closing, sent data is discarded but counted in bufferedAmount, which then "will only
   * increase": sends after close(), and what the last connection and the queue never sent when it ended.
   */
  #discardedBytes = 0;
  readonly #queue: SendQueue | null;
  #handlers: HandlerSlots | null = null;
  /** The listener of every instance's on* handlers (event-handlers.ts). */
  static readonly #runHandler = handlerListener((target) => (target as ReconnectingWebSocket).#handlers);

  constructor(url: string | URL, protocols?: string | string[], options?: ReconnectingWebSocketOptions) {
    super();
    // As the WebSocket constructor: the url is required (WebIDL: TypeError, not "the URL 'undefined'").
    requireArguments(arguments.length, 1, "ReconnectingWebSocket constructor");
    this.#options = resolveOptions(options, protocols);
    // WebIDL converts the arguments once, before the constructor's steps: every attempt offers the same list
    // (an iterator, or an array changed later, changed what a reconnect offered; review 152).
    const urlText = toUSVString(url);
    this.#protocols = toProtocolList(protocols);
    this.#queue = this.#options.queue === null ? null : new SendQueue(this.#options.queue);
    // The first WebSocket checks the URL and protocols and throws as the WebSocket constructor does; every
    // later one reuses its parsed URL.
    this.#url = this.#connect(urlText).url;
  }

  get url(): string {
    return this.#url;
  }

  get readyState(): number {
    return this.#readyState;
  }

  /**
   * The current connection's bufferedAmount plus the bytes waiting in the send queue; after close(), as a
   * WebSocket's, it keeps what was never sent and counts every later send().
   */
  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + (this.#queue?.bytes ?? 0) + this.#discardedBytes;
  }

  get protocol(): string {
    return this.#protocol;
  }

  get extensions(): string {
    return this.#extensions;
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // An enumeration attribute: unknown values are ignored. Applies to this and every later connection.
    if (value !== "blob" && value !== "arraybuffer" && value !== "nodebuffer") return;
    this.#binaryType = value;
    if (this.#socket !== null) this.#socket.binaryType = value;
  }

  /** The current connection (Node-only), or null while waiting to retry. */
  get webSocket(): WebSocket | null {
    return this.#socket;
  }

  /**
   * Sends on the open connection. While not connected: queued if `options.queue` is set (send() throws a
   * QuotaExceededError when it is full and `whenFull` is "throw"), else an InvalidStateError. After
   * close(): discarded but counted in bufferedAmount, as WebSocket does once closing.
   */
  send(data: SendData): void {
    requireArguments(arguments.length, 1, "send");
    // One argument: ws's send(data, callback) or send(data, { binary }) would be ignored without a word.
    if (arguments.length > 1 && arguments[1] !== undefined) {
      throw new TypeError(
        "Failed to execute 'send' on 'ReconnectingWebSocket': send() takes the data only (no callback, no options: a string goes as text, bytes as binary)",
      );
    }
    const socket = this.#socket;
    if (this.#readyState === OPEN && socket !== null && socket.readyState === OPEN) {
      try {
        socket.send(data);
      } catch (error) {
        // The socket's conversion errors (a shared or resizable buffer) name this object's send(), as the
        // same data refused while not connected does.
        if (error instanceof TypeError && error.message.startsWith(`${SEND_ON_WEBSOCKET}:`))
          throw new TypeError(SEND_HERE + error.message.slice(SEND_ON_WEBSOCKET.length));
        throw error;
      }
      return;
    }
    // WebIDL converts the argument, (BufferSource or Blob or USVString), before send()'s steps whatever the
    // state: 5 is the text "5" here as on an open socket, a Symbol a TypeError.
    const converted = toSendPayload(data, SEND_HERE);
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) {
      this.#discardedBytes += converted.size;
      return;
    }
    if (this.#queue === null) {
      throw new DOMException(
        "Failed to execute 'send' on 'ReconnectingWebSocket': not connected (set options.queue to keep messages until it is).",
        "InvalidStateError",
      );
    }
    for (const dropped of this.#queue.push(converted)) {
      this.dispatchEvent(new DropEvent("drop", { data: dropped, reason: "overflow" }));
    }
  }

  /** Closes the connection (WebSocket's close() rules) and stops reconnecting; `close` follows. */
  close(code?: number, reason?: string): void {
    // WebSocket's conversion ([Clamp] unsigned short, USVString) and checks (WHATWG close(), steps 1–2).
    const { status, reasonText } = closeArguments(code, reason, false, "ReconnectingWebSocket");
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    this.#closeRequested = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const socket = this.#socket;
    if (socket !== null) {
      // Its close event ends this object (#onSocketClose).
      this.#readyState = CLOSING;
      socket.close(status ?? undefined, reasonText);
      return;
    }
    // Between attempts: no connection to close. As a WebSocket closed while connecting: 1006, not clean.
    this.#readyState = CLOSED;
    setImmediate(() => this.#finish(new CloseEvent("close", { code: 1006, reason: "", wasClean: false })));
  }

  #connect(url: string | URL = this.#url): WebSocket {
    const socket = new WebSocket(url, this.#protocols, this.#options.webSocket);
    socket.binaryType = this.#binaryType;
    this.#socket = socket;
    this.#socketError = null;
    this.#hookFailed = false;
    socket.addEventListener("open", () => this.#onSocketOpen(socket));
    socket.addEventListener("message", (event) => {
      if (socket !== this.#socket) return;
      this.dispatchEvent(new MessageEvent("message", { data: event.data, origin: event.origin }));
    });
    socket.addEventListener("error", (event) => {
      if (socket !== this.#socket) return;
      this.#socketError = event.error;
      this.dispatchEvent(new ErrorEvent("error", { error: event.error, message: event.message }));
    });
    socket.addEventListener("close", (event) => this.#onSocketClose(socket, event));
    return socket;
  }

  #onSocketOpen(socket: WebSocket): void {
    if (socket !== this.#socket) return;
    this.#protocol = socket.protocol;
    this.#extensions = socket.extensions;
    const hook = this.#options.onOpen;
    if (hook === null) {
      this.#opened(socket);
      return;
    }
    let pending: unknown;
    try {
      pending = hook(socket, { reconnect: this.#everOpened, attempt: this.#attempt });
    } catch (error) {
      this.#failHook(socket, error);
      return;
    }
    Promise.resolve(pending).then(
      () => this.#opened(socket),
      (error: unknown) => this.#failHook(socket, error),
    );
  }

  /** The hook is done: the queued sends go first, then `open` (and `reconnected`). */
  #opened(socket: WebSocket): void {
    // Closed or replaced while the hook ran: its close event has taken over.
    if (socket !== this.#socket || socket.readyState !== OPEN || this.#readyState !== CONNECTING) return;
    // "Stable" counts from here: a connection whose open hook failed never opened, and must not reset the
    // backoff and the attempt count (else maxAttempts could never be reached).
    this.#openedAt = performance.now();
    this.#readyState = OPEN;
    for (const data of this.#queue?.takeAll() ?? []) socket.send(data);
    const attempts = this.#attempt;
    const reconnect = this.#everOpened;
    this.#everOpened = true;
    this.dispatchEvent(new Event("open"));
    if (reconnect && this.#socket === socket && !this.#closeRequested) {
      this.dispatchEvent(new ReconnectedEvent("reconnected", { attempts }));
    }
  }

  #failHook(socket: WebSocket, error: unknown): void {
    if (socket !== this.#socket) return;
    this.#hookFailed = true;
    this.dispatchEvent(
      new ErrorEvent("error", { error, message: String((error as Error)?.message ?? error) }),
    );
    // Closed by us, in order (the server may log it); its close event schedules the next attempt.
    if (socket.readyState === OPEN) socket.close(1000, "the client's open hook failed");
  }

  #onSocketClose(socket: WebSocket, event: CloseEvent): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    if (this.#openedAt !== null && performance.now() - this.#openedAt >= this.#options.stableAfterMs) {
      this.#attempt = 0;
    }
    this.#openedAt = null;
    // A connection whose onOpen hook failed is retried whatever its close (stop-rules.ts).
    if (
      this.#closeRequested ||
      this.#readyState === CLOSED ||
      (!this.#hookFailed && closeStopsRetries(event, this.#socketError, this.#options))
    ) {
      this.#finish(event, socket);
      return;
    }
    if (this.#attempt >= this.#options.maxAttempts) {
      this.#finish(event, socket);
      return;
    }
    const delayMs = backoffDelayMs(
      this.#attempt,
      this.#options.initialDelayMs,
      this.#options.maxDelayMs,
      this.#options.random,
    );
    this.#attempt++;
    this.#readyState = CONNECTING;
    const reconnecting = new ReconnectingEvent("reconnecting", {
      attempt: this.#attempt,
      delayMs,
      code: event.code,
      reason: event.reason,
      wasClean: event.wasClean,
      error: this.#socketError,
    });
    // preventDefault(): give up now. close() from a listener: it has been handled there.
    const goOn = this.dispatchEvent(reconnecting);
    // close() from a listener has scheduled the end itself (one close event).
    if (this.#closeRequested) return;
    if (!goOn) {
      this.#finish(event);
      return;
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      try {
        this.#connect();
      } catch (error) {
        // The same arguments were accepted the first time; should the constructor refuse them now, say so.
        this.dispatchEvent(new ErrorEvent("error", { error, message: String((error as Error)?.message) }));
        this.#finish(event);
      }
    }, delayMs);
  }

  /**
   * The end: CLOSED, the queue's messages reported as dropped, then the last connection's close event. What
   * `last` and the queue never sent stays in bufferedAmount (WHATWG: once closed it only increases).
   */
  #finish(event: CloseEvent, last: WebSocket | null = null): void {
    this.#readyState = CLOSED;
    this.#discardedBytes += (last?.bufferedAmount ?? 0) + (this.#queue?.bytes ?? 0);
    for (const data of this.#queue?.takeAll() ?? []) {
      this.dispatchEvent(new DropEvent("drop", { data, reason: "closed" }));
    }
    this.dispatchEvent(
      new CloseEvent("close", { code: event.code, reason: event.reason, wasClean: event.wasClean }),
    );
  }

  // Typed as WebSocket's, with the added events.
  /** Listens to the WebSocket's events and `reconnecting`, `reconnected`, `drop`, typed per event. */
  override addEventListener<K extends keyof ReconnectingWebSocketEventMap>(
    type: K,
    listener: ((this: ReconnectingWebSocket, event: ReconnectingWebSocketEventMap[K]) => unknown) | null,
    options?: WebSocketAddEventListenerOptions | boolean,
  ): void;
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
    super.addEventListener(type, listener, options);
  }

  /** Removes a listener added with addEventListener(). */
  override removeEventListener<K extends keyof ReconnectingWebSocketEventMap>(
    type: K,
    listener: ((this: ReconnectingWebSocket, event: ReconnectingWebSocketEventMap[K]) => unknown) | null,
    options?: WebSocketEventListenerOptions | boolean,
  ): void;
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

  get onopen(): Handler<"open"> {
    return getEventHandler(this.#handlers, "open") as Handler<"open">;
  }
  set onopen(value: Handler<"open">) {
    this.#setHandler("open", value);
  }
  get onmessage(): Handler<"message"> {
    return getEventHandler(this.#handlers, "message") as Handler<"message">;
  }
  set onmessage(value: Handler<"message">) {
    this.#setHandler("message", value);
  }
  get onerror(): Handler<"error"> {
    return getEventHandler(this.#handlers, "error") as Handler<"error">;
  }
  set onerror(value: Handler<"error">) {
    this.#setHandler("error", value);
  }
  get onclose(): Handler<"close"> {
    return getEventHandler(this.#handlers, "close") as Handler<"close">;
  }
  set onclose(value: Handler<"close">) {
    this.#setHandler("close", value);
  }

  #setHandler(type: string, value: unknown): void {
    setEventHandler(
      (this.#handlers ??= {}),
      type,
      value,
      ReconnectingWebSocket.#runHandler,
      // HTML §8.1.8.1: added by "add an event listener" itself, not through an overridable public method.
      (t, l) => super.addEventListener(t, l),
      (t, l) => super.removeEventListener(t, l),
    );
  }
}
