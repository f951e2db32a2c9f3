import {
  ReadableStream,
  type ReadableStreamDefaultController,
  WritableStream,
  type WritableStreamDefaultController,
} from "node:stream/web";
import type { Connection } from "../connection/connection.js";
import type { ConnectionEvents } from "../connection/connection-options.js";
import { CloseCode } from "../protocol/constants.js";
import { decodeText } from "../protocol/utf8.js";
import { toSendPayload } from "./binary.js";
import { pageLocation, parseConstructorArguments } from "./constructor-arguments.js";
import { requireArguments, toDictionary, toSequence, toUSVString } from "./webidl.js";
import { closeWithStatus, isAccepted, takeConnection, WebSocket } from "./websocket.js";
import {
  closeInfoOfReason,
  toValidCloseInfo,
  type WebSocketCloseInfo,
  WebSocketError,
  webSocketErrorFor,
} from "./websocket-error.js";
import type {
  WebSocketOpenInfo,
  WebSocketStreamChunk,
  WebSocketStreamCloseInfo,
  WebSocketStreamOptions,
} from "./websocket-stream-types.js";

// WebSocketStream: the WebSockets Standard's draft (whatwg/websockets PR #48) as Chromium ships it, on the
// same Connection as WebSocket, at both ends. Its point is backpressure that reaches the socket:
// - receive: the readable queues messages (a count strategy of RECEIVE_HIGH_WATER_MARK, as Chromium); once
//   RECEIVE_HOLD_BYTES of them wait unread the connection stops parsing and reading the socket
//   (Connection.pauseForReader), and pull() resumes it, so a peer that floods a reader that does not read
//   meets TCP flow control;
// - send: a write() resolves once its bytes are with the kernel, or at once while at most
//   SEND_HIGH_WATER_MARK bytes wait in our buffers (Connection.whenSent), so a producer that awaits its
//   writes never grows our memory.
// A client stream makes its handshake with a WebSocket it keeps to itself (the same URL, protocol, Origin
// and TLS rules); a server takes an accepted WebSocket with WebSocketStream.from().

export type {
  WebSocketOpenInfo,
  WebSocketStreamChunk,
  WebSocketStreamCloseInfo,
  WebSocketStreamOptions,
} from "./websocket-stream-types.js";

/** The readable's count strategy (Chromium's): pull() is called whenever its queue is empty. */
export const RECEIVE_HIGH_WATER_MARK = 1;
/**
 * Bytes of messages that may wait unread in the readable before the socket is paused; each counts its payload
 * plus HELD_MESSAGE_COST (its objects), so that empty messages are bounded too. Under it the socket is still
 * read: Pings are answered and the peer's Close is seen while a few messages wait. (Paused at the first unread
 * message, an idle stream holding one was dropped by the peer's keepalive, and a Close behind it went unread:
 * review 134.)
 */
export const RECEIVE_HOLD_BYTES = 64 * 1024;
const HELD_MESSAGE_COST = 512;
/** Bytes that may wait in our buffers (Node's socket and the write batch) when write() resolves at once. */
export const SEND_HIGH_WATER_MARK = 64 * 1024;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Set while from() makes a stream of an open WebSocket (the constructor's module-private path). */
let adopting: WebSocket | null = null;

function noop(): void {}

let StreamEventsOf: new (stream: WebSocketStream) => ConnectionEvents;

/** A binary message as a plain Uint8Array (WPT read.any.js: its constructor is Uint8Array, not Buffer). */
function toChunk(data: Buffer): Uint8Array {
  const buffer = data.buffer as ArrayBuffer;
  // A message that owns its whole ArrayBuffer is handed out as is; a view into a read buffer (or Node's
  // shared pool, which holds other bytes) is copied.
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return new Uint8Array(buffer);
  return new Uint8Array(data);
}

function invalidState(message: string): DOMException {
  return new DOMException(message, "InvalidStateError");
}

/**
 * The WHATWG WebSocketStream draft (whatwg/websockets PR #48, as Chromium ships it): a WebSocket as a pair of
 * streams with backpressure both ways. `new WebSocketStream(url, { protocols, signal, ...options })` on the
 * client; `WebSocketStream.from(socket)` for a server's accepted connection.
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #opened: Promise<WebSocketOpenInfo>;
  readonly #closed: Promise<WebSocketStreamCloseInfo>;
  #resolveOpened: (info: WebSocketOpenInfo) => void = noop;
  #rejectOpened: (error: unknown) => void = noop;
  #resolveClosed: (info: WebSocketStreamCloseInfo) => void = noop;
  #rejectClosed: (error: unknown) => void = noop;
  #state = CONNECTING;
  /** The handshake (client) and the server's tracking of the connection; its messages come to us. */
  #webSocket: WebSocket | null = null;
  #connection: Connection | null = null;
  /** The WebSocket's own connection events, to which the closing events are passed on. */
  #previousEvents: ConnectionEvents | null = null;
  #readable: ReadableStreamDefaultController<WebSocketStreamChunk> | null = null;
  #readableDone = false;
  #writable: WritableStreamDefaultController | null = null;
  /** The write() waiting for its bytes to leave (the writable's strategy allows one at a time). */
  #pendingWrite: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  /** writer.close(): resolved when the closing handshake completes. */
  #pendingClose: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  /** A write was still on its way when the peer's Close arrived: the close is not clean. */
  #writeLost = false;
  /** What the messages in the readable's queue count against RECEIVE_HOLD_BYTES (0 when it is empty). */
  #heldBytes = 0;
  /** The signal's abort reason, when it aborted the handshake. */
  #abortReason: unknown = undefined;
  #aborted = false;

  constructor(url: string | URL, options?: WebSocketStreamOptions) {
    this.#opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // The draft marks both promises handled: a failed connection nobody awaits is no unhandled rejection.
    this.#opened.catch(noop);
    this.#closed.catch(noop);

    const accepted = adopting;
    if (accepted !== null) {
      adopting = null;
      this.#url = accepted.url;
      this.#attach(accepted);
      return;
    }
    requireArguments(arguments.length, 1, "WebSocketStream constructor");
    const opts = toDictionary(
      options,
      "Failed to construct 'WebSocketStream': options",
    ) as WebSocketStreamOptions;
    // WebIDL: sequence<USVString> (a string is not one) and AbortSignal, before the URL steps.
    const protocols =
      opts.protocols === undefined
        ? []
        : toSequence(opts.protocols, toUSVString, "Failed to construct 'WebSocketStream': protocols");
    const signal = opts.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("Failed to construct 'WebSocketStream': signal is not an AbortSignal");
    }
    // The URL and protocol checks of new WebSocket() (SyntaxError), without connecting yet.
    const { record } = parseConstructorArguments(url, protocols, opts.baseURL ?? pageLocation()?.href);
    this.#url = record.href;
    // An already aborted signal: no connection; both promises reject with its reason.
    if (signal?.aborted) {
      this.#state = CLOSED;
      this.#rejectOpened(signal.reason);
      this.#rejectClosed(signal.reason);
      return;
    }
    const webSocket = new WebSocket(record.href, protocols, opts);
    this.#webSocket = webSocket;
    const onAbort = (): void => {
      if (this.#state !== CONNECTING) return;
      this.#aborted = true;
      this.#abortReason = signal!.reason;
      webSocket.close();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    webSocket.addEventListener("open", () => {
      signal?.removeEventListener("abort", onAbort);
      this.#attach(webSocket);
    });
    // Why the handshake failed (the ErrorEvent's error, a HandshakeError): told in the rejections.
    let failure: unknown = null;
    webSocket.addEventListener("error", (event) => {
      failure = (event as { error?: unknown }).error ?? null;
    });
    webSocket.addEventListener("close", (event) => {
      signal?.removeEventListener("abort", onAbort);
      // Only a connection that never opened ends here; an open one reports through the connection events.
      if (this.#connection === null) this.#handshakeFailed(event.code, failure);
    });
  }

  /**
   * Node-only: a stream of an open WebSocket that has not received a message yet — on a server, the socket
   * of `server.on("connection")`, called in that handler (frames that came with the handshake are read only
   * after it returns, so none is missed). From then on its messages go to the stream's readable and not to
   * its `message` listeners; it still fires `close`, and the server still tracks it (keepalive,
   * maxConnections, close() sending 1001, topics). Throws InvalidStateError if the socket is not open,
   * already has a stream, or has had a message delivered.
   */
  static from(webSocket: WebSocket): WebSocketStream {
    requireArguments(arguments.length, 1, "WebSocketStream.from");
    if (!(webSocket instanceof WebSocket)) {
      throw new TypeError("Failed to execute 'from' on 'WebSocketStream': the argument is not a WebSocket");
    }
    adopting = webSocket;
    try {
      return new WebSocketStream(webSocket.url);
    } finally {
      adopting = null;
    }
  }

  get url(): string {
    return this.#url;
  }

  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened;
  }

  get closed(): Promise<WebSocketStreamCloseInfo> {
    return this.#closed;
  }

  /** Starts the closing handshake (or fails the connection while connecting), as WebSocket.close() does. */
  close(closeInfo?: WebSocketCloseInfo): void {
    // The stream of a server's socket (from()) closes with the codes servers send, as its socket does.
    const accepted = this.#webSocket !== null && isAccepted(this.#webSocket);
    const info = toValidCloseInfo(closeInfo, "Failed to execute 'close' on 'WebSocketStream'", accepted);
    this.#startClose(info.closeCode, info.reason);
  }

  // ---- opening ------------------------------------------------------------------------------------------

  /** The connection is open: take its messages, make the two streams, resolve `opened`. */
  #attach(webSocket: WebSocket): void {
    const { connection, previous } = takeConnection(webSocket, new StreamEventsOf(this));
    this.#webSocket = webSocket;
    this.#connection = connection;
    this.#previousEvents = previous;
    this.#state = OPEN;
    const readable = new ReadableStream<WebSocketStreamChunk>(
      {
        start: (controller) => {
          this.#readable = controller;
        },
        // The queue is empty: read the socket again.
        pull: () => {
          this.#heldBytes = 0;
          this.#connection?.resumeForReader();
        },
        cancel: (reason) => {
          this.#readableDone = true;
          const info = closeInfoOfReason(reason);
          this.#startClose(info.closeCode, info.reason);
        },
      },
      { highWaterMark: RECEIVE_HIGH_WATER_MARK },
    );
    const writable = new WritableStream<string | ArrayBuffer | ArrayBufferView>(
      {
        start: (controller) => {
          this.#writable = controller;
          // abort() while a write waits for the peer: the Streams machinery calls abort() below only once
          // that write has settled, which a peer that never reads would put off for ever. The write is
          // rejected now, and then abort() closes (with the reason's code).
          // (Node has the controller's signal since 16.5; @types/node does not declare it.)
          const { signal } = controller as WritableStreamDefaultController & { signal: AbortSignal };
          signal.addEventListener("abort", () => {
            const write = this.#pendingWrite;
            this.#pendingWrite = null;
            write?.reject(signal.reason);
          });
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeWritable(),
        abort: (reason) => {
          const info = closeInfoOfReason(reason);
          this.#startClose(info.closeCode, info.reason);
        },
      },
      { highWaterMark: 1 },
    );
    this.#resolveOpened({
      readable,
      writable,
      extensions: webSocket.extensions,
      protocol: webSocket.protocol,
    });
  }

  static {
    // The connection's events while a stream has it: messages to the stream, which passes the closing
    // events on to the WebSocket's own (one small object per connection, as WebSocket does).
    StreamEventsOf = class implements ConnectionEvents {
      readonly #stream: WebSocketStream;
      constructor(stream: WebSocketStream) {
        this.#stream = stream;
      }
      onMessage(data: Buffer, isText: boolean): void {
        this.#stream.#onMessage(data, isText);
      }
      onPing(): void {}
      onPong(): void {}
      onClosing(code: number, reason: string): void {
        this.#stream.#onClosing(code, reason);
      }
      onClosed(code: number, reason: string, wasClean: boolean, error: Error | null): void {
        this.#stream.#onClosed(code, reason, wasClean, error);
      }
    };
  }

  /**
   * The handshake failed (`cause`: the WebSocket's error, if any), was aborted by the signal, or close() was
   * called while connecting.
   */
  #handshakeFailed(code: number, cause: unknown): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (this.#aborted) {
      this.#rejectOpened(this.#abortReason);
      this.#rejectClosed(this.#abortReason);
      return;
    }
    // WebSocketStream (whatwg/websockets PR #48): never connected, `opened` rejects with a new WebSocketError
    // (closeCode null), and `closed` with one of its own that carries the close code (1006), as Chromium does.
    // Node-only, as WebSocket's ErrorEvent: the message says why and `cause` is the HandshakeError (browsers
    // keep it from pages).
    const why = cause instanceof Error ? `: ${cause.message}` : ".";
    const message = `The WebSocket connection could not be established${why}`;
    const opened = new WebSocketError(message);
    const closed = webSocketErrorFor(message, code, "");
    if (cause instanceof Error) {
      for (const error of [opened, closed])
        Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true });
    }
    this.#rejectOpened(opened);
    this.#rejectClosed(closed);
  }

  // ---- receiving ----------------------------------------------------------------------------------------

  #onMessage(data: Buffer, isText: boolean): void {
    const controller = this.#readable;
    // The draft's "a WebSocket message has been received": "If stream's ready state is not OPEN, return".
    // Once our close has started the socket is read on to the peer's Close, and what comes before it is
    // dropped (kept, a peer that went on sending filled memory until the close timeout: review 134).
    if (controller === null || this.#readableDone || this.#state !== OPEN) return;
    controller.enqueue(isText ? decodeText(data) : toChunk(data));
    // Handed straight to a waiting read(): nothing is held.
    if ((controller.desiredSize ?? 0) > 0) this.#heldBytes = 0;
    else if ((this.#heldBytes += data.length + HELD_MESSAGE_COST) >= RECEIVE_HOLD_BYTES)
      this.#connection?.pauseForReader();
  }

  // ---- sending ------------------------------------------------------------------------------------------

  #write(chunk: unknown): Promise<void> {
    const connection = this.#connection!;
    // The draft: BufferSource as binary (shared or resizable buffers are a TypeError, WebIDL §3.2.26);
    // anything else converted to a USVString (a value that cannot be is a TypeError), as text.
    const text = typeof chunk === "string" ? chunk.toWellFormed() : null;
    const binary =
      text === null && (chunk instanceof ArrayBuffer || ArrayBuffer.isView(chunk) || isSharedBuffer(chunk))
        ? toSendPayload(chunk, "Failed to write to 'WebSocketStream'")
        : null;
    const converted = text ?? (binary === null ? toUSVString(chunk) : null);
    // The draft sends "if the closing handshake has not yet started", and the write resolves either way (as
    // in Chromium and undici).
    if (this.#state !== OPEN) return Promise.resolve();
    const sent =
      binary !== null
        ? connection.send(binary.payload!, false, undefined, binary.borrowed)
        : connection.sendText(converted!) >= 0;
    if (!sent) return Promise.reject(invalidState("The WebSocket is closing or closed."));
    return new Promise((resolve, reject) => {
      const pending = { resolve, reject };
      this.#pendingWrite = pending;
      connection.whenSent(SEND_HIGH_WATER_MARK, (delivered) => {
        // Not delivered (the socket went away): the close that follows rejects it.
        if (!delivered || this.#pendingWrite !== pending) return;
        this.#pendingWrite = null;
        resolve();
      });
    });
  }

  /** writer.close(): a Close with no code; resolves once the closing handshake is complete. */
  #closeWritable(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pendingClose = { resolve, reject };
      this.#startClose(null, "");
    });
  }

  // ---- closing ------------------------------------------------------------------------------------------

  #startClose(closeCode: number | null, reason: string): void {
    if (this.#state === CONNECTING) {
      // Not yet established: fail the connection; opened and closed reject (#handshakeFailed).
      this.#state = CLOSING;
      this.#webSocket?.close();
      return;
    }
    if (this.#state !== OPEN) return;
    this.#state = CLOSING;
    // The peer's Close may wait behind messages nobody reads: the socket is read on (they are dropped).
    this.#connection!.resumeForReader();
    closeWithStatus(this.#webSocket!, closeCode ?? CloseCode.NoStatus, reason);
  }

  /** The closing handshake started: the peer's Close arrived, or we failed the connection. */
  #onClosing(code: number, reason: string): void {
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      // The peer closed first. It discards data that arrives after its Close (RFC 6455 §5.5.1: it has sent
      // its last frame and may close the transport once ours arrives), so a message still on its way is lost:
      // its write rejects and the close is not clean (WPT remote-close.any.js, write.any.js).
      const write = this.#pendingWrite;
      if (write !== null) {
        this.#pendingWrite = null;
        this.#writeLost = true;
        write.reject(invalidState("The peer closed the connection before the message was sent."));
      }
    }
    this.#previousEvents?.onClosing(code, reason);
  }

  /** The connection is closed: settle everything. */
  #onClosed(code: number, reason: string, wasClean: boolean, error: Error | null): void {
    this.#previousEvents?.onClosed(code, reason, wasClean, error);
    this.#state = CLOSED;
    const failure =
      wasClean && !this.#writeLost
        ? null
        : webSocketErrorFor("The WebSocket connection was not closed cleanly.", code, reason);
    // A write still in progress rejects first, so the writable is errored with its error (WPT write.any.js).
    const write = this.#pendingWrite;
    this.#pendingWrite = null;
    write?.reject(invalidState("The WebSocket closed before the message was sent."));
    const readable = this.#readable;
    if (readable !== null && !this.#readableDone) {
      this.#readableDone = true;
      if (failure === null) readable.close();
      else readable.error(failure);
    }
    const close = this.#pendingClose;
    this.#pendingClose = null;
    if (close !== null) {
      if (failure === null) close.resolve();
      else close.reject(failure);
    } else {
      this.#writable?.error(failure ?? invalidState("The WebSocket is closed."));
    }
    if (failure === null) this.#resolveClosed({ closeCode: code, reason });
    else this.#rejectClosed(failure);
  }
}

function isSharedBuffer(value: unknown): boolean {
  return typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer;
}

Object.defineProperty(WebSocketStream.prototype, Symbol.toStringTag, {
  value: "WebSocketStream",
  configurable: true,
});
for (const name of ["url", "opened", "closed", "close"]) {
  Object.defineProperty(WebSocketStream.prototype, name, { enumerable: true });
}
