/**
 * ResumableWebSocket: the client of resumable sessions (docs/resume.md), for browsers and Node.
 * @module sockjet/resume
 */
// One self-contained ES module with no import at all, so that the very same built file runs in a browser
// (served as /sockjet-resume.js, on globalThis.WebSocket) and in Node (on sockjet's WebSocket, passed as
// the `WebSocket` option). It offers sockjet.resume.1, says hello or presents its token and positions,
// unwraps the server's envelopes so the app sees plain `message` events (with `topic` and `position`), and
// reconnects with a jittered backoff.

/** The subprotocol of resumable sessions. */
export const RESUME_PROTOCOL = "sockjet.resume.1";

/** What the helper uses of a WebSocket: the WHATWG interface (browser, sockjet, undici). */
interface WebSocketLike {
  readonly protocol: string;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
}

/** A WHATWG WebSocket class: the browser's, sockjet's (its options are `webSocketOptions`), undici's. */
export type WebSocketClass = new (url: string, protocols: string[], options?: never) => object;

type AnyWebSocketClass = new (url: string, protocols: string[], options?: unknown) => WebSocketLike;

/** The listener of an event not in ResumableWebSocketEventMap (DOM's EventListenerOrEventListenerObject). */
export type ResumeEventListener =
  | ((event: Event) => unknown)
  | {
      /** Called with each event. */
      handleEvent(event: Event): unknown;
    };

/** addEventListener's options (DOM's AddEventListenerOptions). */
export interface ResumeListenerOptions {
  capture?: boolean;
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

/** Options of `new ResumableWebSocket(url, options)`. */
export interface ResumableWebSocketOptions {
  /** The WebSocket class (Node 20: sockjet's `WebSocket`). Default: globalThis.WebSocket. */
  WebSocket?: WebSocketClass;
  /** The app's subprotocols, offered after sockjet.resume.1 (for servers without resume). Default none. */
  protocols?: string[];
  /** Third argument of the WebSocket constructor (sockjet's options: perMessageDeflate, headers, …). */
  webSocketOptions?: unknown;
  /** "blob" (the WHATWG default) or "arraybuffer": what binary messages' `data` is. Default "blob". */
  binaryType?: "blob" | "arraybuffer";
  /** First reconnection delay ceiling (full jitter). Default 250 ms. */
  initialDelayMs?: number;
  /** Largest reconnection delay ceiling. Default 10,000 ms. */
  maxDelayMs?: number;
  /** Reconnections tried in a row before giving up (then `close`). Default Infinity. */
  maxRetries?: number;
  /** Messages send() keeps while disconnected; past it send() throws. Default 1000. */
  maxQueuedMessages?: number;
}

type MessageEventClass = new (type: string, init: { data: unknown }) => Event & { readonly data: unknown };
/** The platform's MessageEvent (browsers, Node ≥ 15), so that `instanceof MessageEvent` holds. */
const PlatformMessageEvent = (globalThis as unknown as { MessageEvent: MessageEventClass }).MessageEvent;

/** A message from the server: `topic` and `position` are set for topic messages, null for direct sends. */
export class ResumableMessageEvent extends PlatformMessageEvent {
  readonly topic: string | null;
  readonly position: string | null;

  constructor(data: unknown, topic: string | null, position: string | null) {
    super("message", { data });
    this.topic = topic;
    this.position = position;
  }
}

/**
 * The session's events: `session` (a session is set up: `resumed` says whether the old one came back),
 * `reset` (the old session could not be resumed: `reason`; the app should refetch its state), `resumed`
 * (the replay is over: `replayed` messages), `disconnect` (the connection dropped; `code`), `reconnecting`
 * (`attempt`, `delayMs`).
 */
export class ResumeEvent extends Event {
  readonly resumed: boolean;
  readonly reason: string;
  readonly replayed: number;
  readonly code: number;
  readonly attempt: number;
  readonly delayMs: number;

  constructor(
    type: string,
    init: {
      resumed?: boolean;
      reason?: string;
      replayed?: number;
      code?: number;
      attempt?: number;
      delayMs?: number;
    } = {},
  ) {
    super(type);
    this.resumed = init.resumed ?? false;
    this.reason = init.reason ?? "";
    this.replayed = init.replayed ?? 0;
    this.code = init.code ?? 0;
    this.attempt = init.attempt ?? 0;
    this.delayMs = init.delayMs ?? 0;
  }
}

const DIRECT = 0;
const TOPIC = 1;
const CONTROL = 2;
const utf8 = new TextDecoder();

/** The events of a ResumableWebSocket, by type. */
export interface ResumableWebSocketEventMap {
  message: ResumableMessageEvent;
  session: ResumeEvent;
  reset: ResumeEvent;
  resumed: ResumeEvent;
  disconnect: ResumeEvent;
  reconnecting: ResumeEvent;
  close: ResumeEvent;
}

/**
 * A client of resumable sessions: reconnects by itself, resumes its session (subscriptions back, missed topic
 * messages replayed in order, once), and tells the app by `reset` when it could not.
 */
export class ResumableWebSocket extends EventTarget {
  readonly url: string;
  private readonly options: Required<
    Omit<ResumableWebSocketOptions, "WebSocket" | "webSocketOptions" | "binaryType">
  > & { binaryType: "blob" | "arraybuffer" };
  private readonly WebSocketClass: AnyWebSocketClass;
  private readonly webSocketOptions: unknown;
  private socket: WebSocketLike | null = null;
  private token: string | null = null;
  /** topic → the last position received on it, in this session. */
  private readonly lastPositions = new Map<string, string>();
  /** The session is set up on the current connection: send() goes straight out. */
  private ready = false;
  private stopped = false;
  private retries = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly queue: (string | ArrayBufferLike | ArrayBufferView | Blob)[] = [];

  constructor(url: string | URL, options: ResumableWebSocketOptions = {}) {
    super();
    this.url = String(url);
    const WebSocketClass =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket ?? null;
    if (typeof WebSocketClass !== "function")
      throw new TypeError("ResumableWebSocket: no WebSocket class (pass options.WebSocket)");
    this.WebSocketClass = WebSocketClass as unknown as AnyWebSocketClass;
    this.webSocketOptions = options.webSocketOptions;
    this.options = {
      protocols: options.protocols ?? [],
      binaryType: options.binaryType ?? "blob",
      initialDelayMs: options.initialDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      maxRetries: options.maxRetries ?? Number.POSITIVE_INFINITY,
      maxQueuedMessages: options.maxQueuedMessages ?? 1000,
    };
    if (this.options.binaryType !== "blob" && this.options.binaryType !== "arraybuffer")
      throw new TypeError("ResumableWebSocket: binaryType must be 'blob' or 'arraybuffer'");
    this.connect();
  }

  /** Whether a session is set up on an open connection now. */
  get connected(): boolean {
    return this.ready;
  }

  /** The last position received on each topic (what a resume presents). */
  get positions(): Record<string, string> {
    return Object.fromEntries(this.lastPositions);
  }

  /** Sends now when a session is set up, else once it is (in order); throws past maxQueuedMessages. */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.stopped) throw new DOMException("The ResumableWebSocket is closed.", "InvalidStateError");
    if (this.ready && this.socket !== null && this.queue.length === 0) {
      this.socket.send(data);
      return;
    }
    if (this.queue.length >= this.options.maxQueuedMessages)
      throw new DOMException("Too many messages waiting for the connection.", "QuotaExceededError");
    this.queue.push(data);
  }

  /** Ends for good: closes the connection (its session then expires on the server) and stops reconnecting. */
  close(code?: number, reason?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.ready = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      socket.onclose = null;
      socket.close(code, reason);
    }
    this.dispatchEvent(new ResumeEvent("close", { code: code ?? 1000 }));
  }

  /** Listens to the events of ResumableWebSocketEventMap, typed per event. */
  override addEventListener<K extends keyof ResumableWebSocketEventMap>(
    type: K,
    listener: ((this: ResumableWebSocket, event: ResumableWebSocketEventMap[K]) => unknown) | null,
    options?: ResumeListenerOptions | boolean,
  ): void;
  override addEventListener(
    type: string,
    listener: ResumeEventListener | null,
    options?: ResumeListenerOptions | boolean,
  ): void;
  override addEventListener(
    type: string,
    listener: ResumeEventListener | null,
    options?: ResumeListenerOptions | boolean,
  ): void {
    super.addEventListener(type, listener as never, options);
  }

  /** Removes a listener added with addEventListener(). */
  override removeEventListener<K extends keyof ResumableWebSocketEventMap>(
    type: K,
    listener: ((this: ResumableWebSocket, event: ResumableWebSocketEventMap[K]) => unknown) | null,
    options?: ResumeListenerOptions | boolean,
  ): void;
  override removeEventListener(
    type: string,
    listener: ResumeEventListener | null,
    options?: ResumeListenerOptions | boolean,
  ): void;
  override removeEventListener(
    type: string,
    listener: ResumeEventListener | null,
    options?: ResumeListenerOptions | boolean,
  ): void {
    super.removeEventListener(type, listener as never, options);
  }

  private connect(): void {
    this.timer = null;
    const protocols = [RESUME_PROTOCOL, ...this.options.protocols];
    let socket: WebSocketLike;
    try {
      socket =
        this.webSocketOptions === undefined
          ? new this.WebSocketClass(this.url, protocols)
          : new this.WebSocketClass(this.url, protocols, this.webSocketOptions);
    } catch (error) {
      // A bad URL will not get better: that is the caller's error.
      if (this.retries === 0 && this.lastPositions.size === 0 && this.token === null) throw error;
      this.scheduleReconnect(1006);
      return;
    }
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      if (socket.protocol !== RESUME_PROTOCOL) {
        // A server without resume: its messages are the app's as they are.
        this.sessionReady(false);
        return;
      }
      const hello =
        this.token === null
          ? { type: "hello" }
          : { type: "resume", token: this.token, positions: Object.fromEntries(this.lastPositions) };
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => this.onMessage(socket, event.data);
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      this.dispatchEvent(new ResumeEvent("disconnect", { code: event.code }));
      this.scheduleReconnect(event.code);
    };
  }

  private scheduleReconnect(code: number): void {
    if (this.stopped) return;
    if (this.retries >= this.options.maxRetries) {
      this.stopped = true;
      this.dispatchEvent(new ResumeEvent("close", { code }));
      return;
    }
    // Full jitter: a random delay in [0, min(max, initial × 2^n)), so a crowd dropped at once spreads out.
    const ceiling = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** Math.min(this.retries, 30),
    );
    const delayMs = Math.floor(Math.random() * ceiling);
    this.retries++;
    this.dispatchEvent(new ResumeEvent("reconnecting", { attempt: this.retries, delayMs }));
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  private sessionReady(resumed: boolean): void {
    this.ready = true;
    this.retries = 0;
    this.dispatchEvent(new ResumeEvent("session", { resumed }));
    while (this.ready && this.socket !== null && this.queue.length > 0) this.socket.send(this.queue.shift()!);
  }

  private onMessage(socket: WebSocketLike, data: unknown): void {
    if (this.socket !== socket) return;
    if (socket.protocol !== RESUME_PROTOCOL) {
      this.dispatchEvent(new ResumableMessageEvent(this.binary(data), null, null));
      return;
    }
    if (typeof data === "string") {
      const type = data.charCodeAt(0);
      if (type === DIRECT) this.dispatchEvent(new ResumableMessageEvent(data.slice(1), null, null));
      else if (type === TOPIC) {
        const end = data.indexOf("\n");
        const [topic, position] = readHeader(data.slice(1, end));
        this.topicMessage(topic, position, data.slice(end + 1));
      } else if (type === CONTROL) this.onControl(JSON.parse(data.slice(1)));
      return;
    }
    const bytes = new Uint8Array(data as ArrayBuffer);
    const type = bytes[0];
    if (type === DIRECT)
      this.dispatchEvent(new ResumableMessageEvent(this.binary(bytes.slice(1).buffer), null, null));
    else if (type === TOPIC) {
      const end = bytes.indexOf(0x0a);
      const [topic, position] = readHeader(utf8.decode(bytes.subarray(1, end)));
      this.topicMessage(topic, position, this.binary(bytes.slice(end + 1).buffer));
    }
  }

  private topicMessage(topic: string, position: string, data: unknown): void {
    this.lastPositions.set(topic, position);
    this.dispatchEvent(new ResumableMessageEvent(data, topic, position));
  }

  private onControl(control: {
    type?: string;
    token?: string;
    resumed?: boolean;
    reason?: string;
    replayed?: number;
  }) {
    if (control.type === "reset") {
      // The old session is gone: its positions mean nothing to the new one.
      this.token = null;
      this.lastPositions.clear();
      this.dispatchEvent(new ResumeEvent("reset", { reason: String(control.reason) }));
    } else if (control.type === "session") {
      this.token = typeof control.token === "string" ? control.token : null;
      if (control.resumed !== true) this.lastPositions.clear();
      this.sessionReady(control.resumed === true);
    } else if (control.type === "resumed") {
      this.dispatchEvent(new ResumeEvent("resumed", { resumed: true, replayed: Number(control.replayed) }));
    }
  }

  private binary(data: unknown): unknown {
    if (this.options.binaryType === "blob" && data instanceof ArrayBuffer) return new Blob([data]);
    return data;
  }
}

/** "<position> <topic as JSON>" → [topic, position]. */
function readHeader(header: string): [string, string] {
  const space = header.indexOf(" ");
  return [JSON.parse(header.slice(space + 1)) as string, header.slice(0, space)];
}
