/**
 * ResumableWebSocket: the client of resumable sessions (docs/resume.md), for browsers and Node.
 * @module sockjet/resume
 */
// One self-contained ES module with no import at all, so that the very same built file runs in a browser
// (served as /sockjet-resume.js, on globalThis.WebSocket) and in Node (on sockjet's WebSocket, passed as
// the `WebSocket` option). It offers sockjet.resume.1, says hello or presents its token and positions,
// unwraps the server's envelopes so the app sees plain `message` events (with `topic` and `position`), and
// reconnects with a jittered backoff — unless the close means "do not come back", as ReconnectingWebSocket
// decides it (stopCloseCodes, stopStatuses). It stays one file (past the usual size) for that reason.

/** The subprotocol of resumable sessions. */
export const RESUME_PROTOCOL = "sockjet.resume.1";

/** What the helper uses of a WebSocket: the WHATWG interface (browser, sockjet, undici). */
interface WebSocketLike {
  readonly url?: string;
  readonly protocol: string;
  readonly readyState: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string; wasClean?: boolean }) => void) | null;
  onerror: ((event: { error?: unknown; message?: string }) => void) | null;
  send(data: SendData): void;
  close(code?: number, reason?: string): void;
}

/**
 * What WebSocket's send() would take of `data` now (WHATWG send(): the bytes as they are at the call;
 * WebIDL: a value that is no BufferSource or Blob is converted to a string, a Symbol throws), for a message
 * that waits in the queue: bytes are copied, as the caller may change them meanwhile.
 */
function snapshot(data: SendData): SendData {
  if (typeof data === "string" || (typeof Blob !== "undefined" && data instanceof Blob)) return data;
  const view = ArrayBuffer.isView(data) ? viewSlots(data) : null;
  const buffer = view === null ? data : view.buffer;
  const kind = bufferKind(buffer);
  if (kind === null) return `${data}`;
  // WebIDL BufferSource: neither [AllowShared] nor [AllowResizable]; WebSocket's send() says so.
  if (kind === "shared" || (buffer as { resizable?: boolean }).resizable === true) {
    throw new TypeError(
      "Failed to execute 'send' on 'ResumableWebSocket': The provided ArrayBuffer value must not be shared or resizable.",
    );
  }
  // A detached buffer has no bytes (slice() of it throws, and so does a DataView's byteLength): WebSocket
  // sends an empty message.
  if ((buffer as ArrayBuffer).byteLength === 0) return view === null ? new ArrayBuffer(0) : new Uint8Array(0);
  if (view === null) return (buffer as ArrayBuffer).slice(0);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

type Getter = (this: unknown) => unknown;
const slotGetter = (prototype: object, key: PropertyKey) =>
  Object.getOwnPropertyDescriptor(prototype, key)!.get as Getter;
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayKind = slotGetter(typedArrayPrototype, Symbol.toStringTag);
const typedArraySlots = ["buffer", "byteOffset", "byteLength"].map((key) =>
  slotGetter(typedArrayPrototype, key),
);
const dataViewSlots = ["buffer", "byteOffset", "byteLength"].map((key) =>
  slotGetter(DataView.prototype, key),
);

/**
 * A view's buffer, offset and length as its internal slots hold them, as WebSocket's send() reads them (a
 * subclass's getters or own properties may say otherwise); offset and length 0 once its buffer is detached.
 */
function viewSlots(view: ArrayBufferView): {
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
} {
  const [buffer, byteOffset, byteLength] =
    typedArrayKind.call(view) === undefined ? dataViewSlots : typedArraySlots;
  const viewed = buffer!.call(view) as ArrayBufferLike;
  if (viewed.byteLength === 0) return { buffer: viewed, byteOffset: 0, byteLength: 0 };
  return {
    buffer: viewed,
    byteOffset: byteOffset!.call(view) as number,
    byteLength: byteLength!.call(view) as number,
  };
}

const arrayBufferBytes = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!;
const sharedBufferBytes =
  typeof SharedArrayBuffer === "undefined"
    ? null
    : Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, "byteLength")!.get!;

/**
 * Whether `value` is an ArrayBuffer or a SharedArrayBuffer, of any realm (an iframe's too): a brand check, as
 * WebIDL makes, by their byteLength getters, which throw for anything else (an object that only claims the
 * name through Symbol.toStringTag or its prototype is converted to a string, as WebSocket's send() does).
 */
function bufferKind(value: unknown): "plain" | "shared" | null {
  try {
    arrayBufferBytes.call(value);
    return "plain";
  } catch {}
  try {
    if (sharedBufferBytes !== null) {
      sharedBufferBytes.call(value);
      return "shared";
    }
  } catch {}
  return null;
}

/** A WHATWG WebSocket class: the browser's, sockjet's (its options are `webSocketOptions`), undici's. */
export type WebSocketClass = new (url: string, protocols: string[], options?: never) => object;

type AnyWebSocketClass = new (url: string, protocols: string[], options?: unknown) => WebSocketLike;

/** What send() takes, as WebSocket's send(). */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

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
  /**
   * The app's subprotocols, offered after sockjet.resume.1 (for servers without resume): one, or a list, as
   * the WebSocket constructor takes them. Default none.
   */
  protocols?: string | string[];
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
  /** A session up this long counts as stable: the next drop starts the backoff over. Default 5000 ms. */
  stableAfterMs?: number;
  /** Close codes from the server that mean "do not come back" (as ReconnectingWebSocket). Default [1000, 1008]. */
  stopCloseCodes?: Iterable<number>;
  /** HTTP statuses refusing the opening handshake that mean the same (Node only). Default [401, 403]. */
  stopStatuses?: Iterable<number>;
  /** Messages send() keeps while disconnected; past it send() throws. Default 1000. */
  maxQueuedMessages?: number;
  /**
   * How long a connection attempt may take, from its start to its session (the server's `session` answer to
   * the hello), the opening handshake included, before it is dropped (an `error`, then a retry with
   * backoff): a server that accepted and never answers. 0: no limit. Default 10000.
   */
  sessionTimeoutMs?: number;
}

interface ResolvedOptions {
  protocols: string[];
  binaryType: "blob" | "arraybuffer";
  initialDelayMs: number;
  maxDelayMs: number;
  maxRetries: number;
  stableAfterMs: number;
  stopCloseCodes: ReadonlySet<number>;
  stopStatuses: ReadonlySet<number>;
  maxQueuedMessages: number;
  sessionTimeoutMs: number;
}

/**
 * The global MessageEvent's instance type (lib.dom's, or undici's from @types/node), else Event: a
 * ResumableMessageEvent has every member of it (origin, lastEventId, source, ports), so a handler written for
 * the WebSocket's messages, typed with the global MessageEvent, type-checks on this client too.
 */
type GlobalMessageEvent = typeof globalThis extends { MessageEvent: { prototype: infer E extends Event } }
  ? E
  : Event;
type MessageEventClass = new (type: string, init: { data: unknown }) => GlobalMessageEvent;
/** The platform's MessageEvent (browsers, Node ≥ 15), so that `instanceof MessageEvent` holds. */
const PlatformMessageEvent = (globalThis as unknown as { MessageEvent: MessageEventClass }).MessageEvent;

/** A message from the server: `topic` and `position` are set for topic messages, null for direct sends. */
export class ResumableMessageEvent extends PlatformMessageEvent {
  /** A string for a text message; an ArrayBuffer or a Blob (binaryType) for a binary one. Typed as
   * MessageEvent's data (`any`), so that `JSON.parse(event.data)` reads without a cast. */
  // biome-ignore lint/suspicious/noExplicitAny: as MessageEvent.data (lib.dom, sockjet's WebSocketEventMap)
  declare readonly data: any;
  readonly topic: string | null;
  readonly position: string | null;

  constructor(data: unknown, topic: string | null, position: string | null) {
    super("message", { data });
    this.topic = topic;
    this.position = position;
  }
}

/**
 * The `reason` of a `reset` (docs/resume.md): from the server "expired", "unknown", "forged", "invalid",
 * "gap"; from the client itself "rejected" (the server refused the resume hello: 1009 or 1002),
 * "too-big" (a message of the session is larger than this client's WebSocket takes, so every resume would
 * replay it and fail again) and "unsupported" (a server without resume). A newer server may send others: compare, do not assume a closed set.
 */
export type ResumeResetReason =
  | "expired"
  | "unknown"
  | "forged"
  | "invalid"
  | "gap"
  | "rejected"
  | "too-big"
  | "unsupported"
  | (string & {});

/** The second argument of `new ResumeEvent(type, init)`. */
export interface ResumeEventInit {
  resumed?: boolean;
  reason?: string;
  replayed?: number;
  code?: number;
  wasClean?: boolean;
  error?: unknown;
  attempt?: number;
  delayMs?: number;
}

/**
 * The session's events: `session` (a session is set up: `resumed` says whether the old one came back),
 * `reset` (the old session could not be resumed: `reason`; the app should refetch its state), `resumed`
 * (the replay is over: `replayed` messages), `disconnect` (a connection ended or failed to open: `code`,
 * `reason`, `wasClean`, `error`), `reconnecting` (`attempt`, `delayMs`, `code`), `close` (the end: `code`,
 * `reason`, `wasClean`, `error`).
 */
export class ResumeEvent extends Event {
  readonly resumed: boolean;
  /** `reset`: a ResumeResetReason; `disconnect`, `reconnecting`, `close`: the close frame's reason. */
  readonly reason: ResumeResetReason;
  readonly replayed: number;
  readonly code: number;
  readonly wasClean: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: as ErrorEvent.error, so that `event.error?.status` reads without a cast
  readonly error: any;
  readonly attempt: number;
  readonly delayMs: number;

  constructor(type: string, init: ResumeEventInit = {}) {
    super(type);
    this.resumed = init.resumed ?? false;
    this.reason = init.reason ?? "";
    this.replayed = init.replayed ?? 0;
    this.code = init.code ?? 0;
    this.wasClean = init.wasClean ?? false;
    this.error = init.error ?? null;
    this.attempt = init.attempt ?? 0;
    this.delayMs = init.delayMs ?? 0;
  }
}

/**
 * `error`: a connection failed. `error` is what the WebSocket's error event carried (on sockjet's WebSocket a
 * HandshakeError with `code` and `status`; a browser says nothing more), `message` its text.
 */
export class ResumeErrorEvent extends Event {
  // biome-ignore lint/suspicious/noExplicitAny: as ErrorEvent.error, so that `event.error?.status` reads without a cast
  readonly error: any;
  readonly message: string;

  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.error = init.error ?? null;
    this.message = init.message ?? "";
  }
}

/** `drop`: a message given to send() that was never sent (still queued when the client ended): `data`. */
export class ResumeDropEvent extends Event {
  readonly data: SendData | null;
  readonly reason: "closed";

  constructor(type: string, init: { data?: SendData } = {}) {
    super(type);
    this.data = init.data ?? null;
    this.reason = "closed";
  }
}

/** The events of a ResumableWebSocket, by type. */
export interface ResumableWebSocketEventMap {
  open: Event;
  message: ResumableMessageEvent;
  error: ResumeErrorEvent;
  close: ResumeEvent;
  session: ResumeEvent;
  reset: ResumeEvent;
  resumed: ResumeEvent;
  disconnect: ResumeEvent;
  reconnecting: ResumeEvent;
  drop: ResumeDropEvent;
}

/** A listener of `type`: a function or an object with handleEvent (DOM's EventListenerOrEventListenerObject). */
export type ResumeEventListener<K extends keyof ResumableWebSocketEventMap> =
  | ((this: ResumableWebSocket, event: ResumableWebSocketEventMap[K]) => unknown)
  | {
      /** Called with each event. */
      handleEvent(event: ResumableWebSocketEventMap[K]): unknown;
    };

type Handler<K extends keyof ResumableWebSocketEventMap> =
  | ((this: ResumableWebSocket, event: ResumableWebSocketEventMap[K]) => unknown)
  | null;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const DIRECT = 0;
const TOPIC = 1;
const CONTROL = 2;
/** A topic message's header (docs/resume.md, wire format): "<topic number> <position>", plain ASCII. The
 * number in decimal digits (no sign, no leading zero, a safe integer), the position non-empty and visible. */
const TOPIC_HEADER = /^(0|[1-9][0-9]{0,14}) ([\x21-\x7e]+)$/;
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * WebSocket's close() rules (WHATWG WebSockets "The close(code, reason) method", steps 1–2), on the code as
 * WebIDL converts it (`[Clamp] unsigned short`); returns that code.
 */
function checkCloseArguments(rawCode: number | undefined, reason: string | undefined): number | undefined {
  const code = rawCode === undefined ? undefined : clampToUnsignedShort(rawCode);
  if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
    throw new DOMException(
      `Failed to execute 'close' on 'ResumableWebSocket': The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
      "InvalidAccessError",
    );
  }
  if (reason !== undefined && utf8Encoder.encode(String(reason)).length > 123) {
    throw new DOMException(
      "Failed to execute 'close' on 'ResumableWebSocket': The close reason must not be greater than 123 UTF-8 bytes.",
      "SyntaxError",
    );
  }
  return code;
}

/** WebIDL [Clamp] unsigned short (§3.2.4.9, §3.2.2): NaN → 0, clamped to 0..65535, rounded half to even. */
function clampToUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(65535, Math.max(0, number));
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

function nonNegative(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0)
    throw new TypeError(`ResumableWebSocket: options.${name} must be a number ≥ 0`);
  return value;
}

/** stopCloseCodes, stopStatuses: lists (any iterable) of numbers. */
function numberSet(
  value: Iterable<number> | undefined,
  name: string,
  fallback: number[],
): ReadonlySet<number> {
  if (value === undefined) return new Set(fallback);
  const iterable =
    value !== null && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === "function";
  const list = iterable && typeof value !== "string" ? [...value] : null;
  if (list === null || list.some((item) => typeof item !== "number"))
    throw new TypeError(`ResumableWebSocket: options.${name} must be a list of numbers, like [1000, 1008]`);
  return new Set(list);
}

/** maxRetries: an integer ≥ 0, or Infinity (no limit); 1.5 retries means nothing. */
function retryCount(value: number | undefined): number {
  const count = nonNegative(value, "maxRetries", Number.POSITIVE_INFINITY);
  if (!Number.isInteger(count) && count !== Number.POSITIVE_INFINITY)
    throw new TypeError("ResumableWebSocket: options.maxRetries must be a whole number ≥ 0, or Infinity");
  return count;
}

/**
 * Other clients' names for options this class names otherwise, and the WebSocket's own options given at the
 * top level: a TypeError that says where they go, not ignored.
 */
const OTHER_NAMES: Record<string, string> = {
  maxAttempts: "ReconnectingWebSocket's name: use maxRetries",
  webSocket: "ReconnectingWebSocket's name: use webSocketOptions",
  queue: "ReconnectingWebSocket's name: use maxQueuedMessages",
  reconnectionAttempts: "Socket.IO's name: use maxRetries",
  reconnectionDelay: "Socket.IO's name: use initialDelayMs",
  reconnectionDelayMax: "Socket.IO's name: use maxDelayMs",
  headers: "an option of the WebSocket: pass it in webSocketOptions",
  perMessageDeflate: "an option of the WebSocket: pass it in webSocketOptions",
  heartbeat: "an option of the WebSocket: pass it in webSocketOptions",
  proxy: "an option of the WebSocket: pass it in webSocketOptions",
  maxPayloadBytes: "an option of the WebSocket: pass it in webSocketOptions",
};

function resolveOptions(options: ResumableWebSocketOptions): ResolvedOptions {
  for (const [name, hint] of Object.entries(OTHER_NAMES)) {
    if ((options as Record<string, unknown>)[name] !== undefined)
      throw new TypeError(`ResumableWebSocket: options.${name} is ${hint}`);
  }
  const binaryType = options.binaryType ?? "blob";
  if (binaryType !== "blob" && binaryType !== "arraybuffer")
    throw new TypeError("ResumableWebSocket: binaryType must be 'blob' or 'arraybuffer'");
  return {
    // A string is one protocol (as the WebSocket constructor takes it), not a list of its letters.
    protocols: appProtocols(options.protocols),
    binaryType,
    initialDelayMs: nonNegative(options.initialDelayMs, "initialDelayMs", 250),
    maxDelayMs: Math.min(nonNegative(options.maxDelayMs, "maxDelayMs", 10_000), 2 ** 31 - 1),
    maxRetries: retryCount(options.maxRetries),
    stableAfterMs: nonNegative(options.stableAfterMs, "stableAfterMs", 5000),
    stopCloseCodes: numberSet(options.stopCloseCodes, "stopCloseCodes", [1000, 1008]),
    stopStatuses: numberSet(options.stopStatuses, "stopStatuses", [401, 403]),
    maxQueuedMessages: nonNegative(options.maxQueuedMessages, "maxQueuedMessages", 1000),
    sessionTimeoutMs: Math.min(
      nonNegative(options.sessionTimeoutMs, "sessionTimeoutMs", 10_000),
      2 ** 31 - 1,
    ),
  };
}

/** The app's subprotocols: a string is one protocol (as the WebSocket constructor takes it). */
function appProtocols(protocols: string | string[] | undefined): string[] {
  const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
  if (list.includes(RESUME_PROTOCOL))
    throw new TypeError(
      `ResumableWebSocket: options.protocols are the app's own; ${RESUME_PROTOCOL} is offered first already`,
    );
  return list;
}

/** A control message from the server, as parsed (its fields unchecked). */
interface Control {
  type: string;
  token?: unknown;
  resumed?: unknown;
  reason?: unknown;
  replayed?: unknown;
  topics?: unknown;
  topic?: unknown;
  id?: unknown;
}

/** A piece of what the server sent, quoted, for an error message. */
function excerpt(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** How a connection ended. */
interface Ending {
  code: number;
  reason: string;
  wasClean: boolean;
  error: unknown;
}

/**
 * A client of resumable sessions: reconnects by itself, resumes its session (subscriptions back, missed topic
 * messages replayed in order, once), and tells the app by `reset` when it could not.
 */
export class ResumableWebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  readonly url: string;
  private readonly options: ResolvedOptions;
  private readonly WebSocketClass: AnyWebSocketClass;
  private readonly webSocketOptions: unknown;
  private socket: WebSocketLike | null = null;
  private state = CONNECTING;
  private token: string | null = null;
  /** topic → the last position received on it, in this session. */
  private readonly lastPositions = new Map<string, string>();
  /** The server's topic numbers on the current connection (its `topic` control messages) → topic. */
  private topicNames = new Map<number, string>();
  /** The inverse of topicNames: each topic's current number on this connection. */
  private topicIds = new Map<string, number>();
  /** Topics this connection was told it left (`unsubscribed`) and not told of again since (`topic`). */
  private leftTopics = new Set<string>();
  /** The session is set up on the current connection: send() goes straight out. */
  private ready = false;
  /** A session (resumable or not) has been up before: a later one that cannot carry it on is a `reset`. */
  private hadSession = false;
  /** The current connection presented a token and has had no answer yet. */
  private resumeSent = false;
  /** The `session` control of the current connection: null before it, else its `resumed`. */
  private connectionSession: boolean | null = null;
  /** The current connection's replay is over (its `resumed` control came). */
  private replayOver = false;
  /** When the current session was set up (stableAfterMs counts from there), or null. */
  private sessionAt: number | null = null;
  /** The error event of the current connection's attempt, if any: it says whether to retry. */
  private socketError: unknown = null;
  private closeRequested = false;
  private retries = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Drops the current attempt if its session does not come within sessionTimeoutMs of its start. */
  private sessionTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly queue: SendData[] = [];
  private readonly handlers = new Map<string, { value: unknown; listener: (event: Event) => void }>();

  constructor(url: string | URL, options?: ResumableWebSocketOptions | null) {
    super();
    // WebIDL: a dictionary argument may be undefined or null (both are {}); anything else must be an object.
    if (options === undefined || options === null) options = {};
    else if (typeof options !== "object" && typeof options !== "function")
      throw new TypeError("ResumableWebSocket: options must be an object");
    this.url = String(url);
    const WebSocketClass =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket ?? null;
    if (typeof WebSocketClass !== "function")
      throw new TypeError("ResumableWebSocket: no WebSocket class (pass options.WebSocket)");
    this.WebSocketClass = WebSocketClass as unknown as AnyWebSocketClass;
    this.webSocketOptions = options.webSocketOptions;
    this.options = resolveOptions(options);
    // The first WebSocket checks the URL and protocols and throws as the WebSocket constructor does, and
    // gives the URL as it parsed it (http: → ws:, as WHATWG's constructor does).
    this.socket = this.open();
    if (typeof this.socket.url === "string") this.url = this.socket.url;
  }

  /** CONNECTING until a session is up (and again while reconnecting), OPEN, CLOSING after close(), CLOSED. */
  get readyState(): number {
    return this.state;
  }

  /**
   * The subprotocol of the connection in use, as WebSocket's `protocol`: "sockjet.resume.1" while resume is
   * on, the app's one when a server without resume chose it, "" before a connection is open (and while
   * reconnecting) or when the server chose none.
   */
  get protocol(): string {
    return this.state === OPEN ? (this.socket?.protocol ?? "") : "";
  }

  /** Whether a session is set up on an open connection now. */
  get connected(): boolean {
    return this.ready;
  }

  /** The last position received on each topic (what a resume presents). */
  get positions(): Record<string, string> {
    return Object.fromEntries(this.lastPositions);
  }

  /**
   * Sends now when a session is set up (after a resume: once its replay is over), else once it is, in order;
   * throws past maxQueuedMessages.
   */
  send(data: SendData): void {
    // One argument: ws's send(data, callback) or send(data, { binary }) would be ignored without a word.
    if (arguments.length > 1 && arguments[1] !== undefined) {
      throw new TypeError(
        "ResumableWebSocket.send() takes the data only (no callback, no options: a string goes as text, bytes as binary).",
      );
    }
    if (this.state === CLOSING || this.state === CLOSED)
      throw new DOMException("The ResumableWebSocket is closed.", "InvalidStateError");
    if (this.canSend && this.queue.length === 0) {
      this.socket!.send(data);
      return;
    }
    if (this.queue.length >= this.options.maxQueuedMessages)
      throw new DOMException(
        `Too many messages waiting for the connection: maxQueuedMessages is ${this.options.maxQueuedMessages}.`,
        "QuotaExceededError",
      );
    this.queue.push(snapshot(data));
  }

  /**
   * Ends for good (WebSocket's close() rules, checked before anything changes): closes the connection (its
   * session then expires on the server) and stops reconnecting; `close` follows once the connection has.
   */
  close(code?: number, reason?: string): void {
    const clampedCode = checkCloseArguments(code, reason);
    if (this.state === CLOSING || this.state === CLOSED) return;
    this.closeRequested = true;
    this.ready = false;
    this.clearSessionTimer();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    if (socket !== null) {
      // Its close event ends this object (onSocketClose).
      this.state = CLOSING;
      socket.close(clampedCode, reason);
      return;
    }
    // Between attempts: no connection to close. As a WebSocket closed while connecting: 1006, not clean.
    this.state = CLOSED;
    setTimeout(() => this.finish({ code: 1006, reason: "", wasClean: false, error: null }), 0);
  }

  /** Listens to the events of ResumableWebSocketEventMap (and only those), typed per event. */
  override addEventListener<K extends keyof ResumableWebSocketEventMap>(
    type: K,
    listener: ResumeEventListener<K> | null,
    options?: ResumeListenerOptions | boolean,
  ): void {
    super.addEventListener(type, listener as never, options);
  }

  /** Removes a listener added with addEventListener(). */
  override removeEventListener<K extends keyof ResumableWebSocketEventMap>(
    type: K,
    listener: ResumeEventListener<K> | null,
    options?: ResumeListenerOptions | boolean,
  ): void {
    super.removeEventListener(type, listener as never, options);
  }

  get onopen(): Handler<"open"> {
    return this.getHandler("open");
  }
  set onopen(value: Handler<"open">) {
    this.setHandler("open", value);
  }
  get onmessage(): Handler<"message"> {
    return this.getHandler("message");
  }
  set onmessage(value: Handler<"message">) {
    this.setHandler("message", value);
  }
  get onerror(): Handler<"error"> {
    return this.getHandler("error");
  }
  set onerror(value: Handler<"error">) {
    this.setHandler("error", value);
  }
  get onclose(): Handler<"close"> {
    return this.getHandler("close");
  }
  set onclose(value: Handler<"close">) {
    this.setHandler("close", value);
  }
  get onreset(): Handler<"reset"> {
    return this.getHandler("reset");
  }
  set onreset(value: Handler<"reset">) {
    this.setHandler("reset", value);
  }

  private getHandler<K extends keyof ResumableWebSocketEventMap>(type: K): Handler<K> {
    return (this.handlers.get(type)?.value ?? null) as Handler<K>;
  }

  /** An event handler attribute (HTML "event handlers"): one listener per type; a non-function clears it. */
  private setHandler(type: string, value: unknown): void {
    const previous = this.handlers.get(type);
    if (previous !== undefined) super.removeEventListener(type, previous.listener);
    this.handlers.delete(type);
    if (typeof value !== "function") return;
    const listener = (event: Event) => (value as (event: Event) => unknown).call(this, event);
    this.handlers.set(type, { value, listener });
    super.addEventListener(type, listener);
  }

  private open(): WebSocketLike {
    const protocols = [RESUME_PROTOCOL, ...this.options.protocols];
    const socket =
      this.webSocketOptions === undefined
        ? new this.WebSocketClass(this.url, protocols)
        : new this.WebSocketClass(this.url, protocols, this.webSocketOptions);
    this.socketError = null;
    this.resumeSent = false;
    this.connectionSession = null;
    this.replayOver = false;
    // Topic numbers are announced on each connection anew.
    this.topicNames = new Map();
    this.topicIds = new Map();
    this.leftTopics = new Set();
    socket.binaryType = "arraybuffer";
    // The whole attempt is bounded, its opening handshake too: a connection that is accepted and never
    // answered (a worker of node:cluster killed as the primary hands it a connection: the primary keeps
    // that connection and nobody answers it) must not hold the client in CONNECTING for ever.
    const timeoutMs = this.options.sessionTimeoutMs;
    this.clearSessionTimer();
    if (timeoutMs > 0)
      this.sessionTimer = setTimeout(() => this.sessionTimedOut(socket, timeoutMs), timeoutMs);
    socket.onopen = () => this.onSocketOpen(socket);
    socket.onmessage = (event) => this.onMessage(socket, event.data);
    socket.onerror = (event) => {
      if (this.socket !== socket) return;
      this.socketError = event?.error ?? null;
      const message = withResumeHint(event?.error, String(event?.message ?? ""));
      this.dispatchEvent(new ResumeErrorEvent("error", { error: event?.error, message }));
    };
    socket.onclose = (event) =>
      this.onSocketClose(socket, {
        code: event.code,
        reason: event.reason ?? "",
        wasClean: event.wasClean ?? false,
        error: this.socketError,
      });
    return socket;
  }

  private onSocketOpen(socket: WebSocketLike): void {
    if (this.socket !== socket) return;
    if (socket.protocol !== RESUME_PROTOCOL) {
      // A server without resume: its messages are the app's as they are. Whatever was published while
      // disconnected is lost, so a later session is a reset (docs/resume.md, "a server without resume").
      if (this.hadSession) this.reset("unsupported");
      this.sessionReady(false);
      return;
    }
    this.resumeSent = this.token !== null;
    const hello =
      this.token === null
        ? { type: "hello" }
        : { type: "resume", token: this.token, positions: Object.fromEntries(this.lastPositions) };
    socket.send(JSON.stringify(hello));
  }

  private clearSessionTimer(): void {
    if (this.sessionTimer !== null) clearTimeout(this.sessionTimer);
    this.sessionTimer = null;
  }

  /** No `session` within sessionTimeoutMs of the attempt: the connection is dropped, the next attempt follows. */
  private sessionTimedOut(socket: WebSocketLike, timeoutMs: number): void {
    this.sessionTimer = null;
    if (this.socket !== socket || this.ready) return;
    // Not "the server": a proxy, or this client's own busy event loop, can be what kept it waiting.
    const what =
      socket.readyState === CONNECTING ? "The opening handshake did not complete" : "No session came";
    const message = `${what} within ${timeoutMs} ms of the connection attempt (sessionTimeoutMs): the connection is dropped.`;
    const error = new Error(message);
    this.socketError = error;
    // Its own error for this close would say it a second time.
    socket.onerror = null;
    this.dispatchEvent(new ResumeErrorEvent("error", { error, message }));
    socket.close();
  }

  private onSocketClose(socket: WebSocketLike, ending: Ending): void {
    if (this.socket !== socket) return;
    this.clearSessionTimer();
    this.socket = null;
    this.ready = false;
    if (this.sessionAt !== null && Date.now() - this.sessionAt >= this.options.stableAfterMs)
      this.retries = 0;
    this.sessionAt = null;
    if (this.closeRequested) {
      this.finish(ending);
      return;
    }
    this.state = CONNECTING;
    this.dispatchEvent(new ResumeEvent("disconnect", ending));
    // The server refused the resume hello itself (1009: larger than its maxPayloadBytes; 1002: not one it
    // reads): presenting it again fails again, so the client starts a fresh session instead.
    if (this.resumeSent && (ending.code === 1009 || ending.code === 1002)) this.reset("rejected");
    // Our WebSocket refused a message as larger than its maxPayloadBytes (sockjet's; a browser has no such
    // limit): the session holds it, and every resume would replay it and fail again. A fresh one skips it.
    else if (
      this.token !== null &&
      (ending.error as { code?: unknown } | null)?.code === "SJ_ERR_MESSAGE_TOO_BIG"
    )
      this.reset("too-big");
    if (this.closeRequested) return;
    if (this.refusesRetry(ending)) {
      this.finish(ending);
      return;
    }
    this.scheduleReconnect(ending);
  }

  /** A close that means "do not come back" (as ReconnectingWebSocket): stopCloseCodes or stopStatuses. */
  private refusesRetry(ending: Ending): boolean {
    const error = ending.error as { code?: unknown; status?: unknown } | null;
    if (error !== null && typeof error === "object" && typeof error.code === "string") {
      // sockjet's HandshakeError. Proxy credentials refused, or a server that answered with no protocol we
      // offered (neither resume nor an app protocol: RFC 6455 §4.1), fail the same way on every attempt.
      // A port the Fetch standard blocks ("bad port") is refused on every attempt too.
      if (
        error.code === "SJ_ERR_PROXY_AUTH_REQUIRED" ||
        error.code === "SJ_ERR_INVALID_HANDSHAKE" ||
        error.code === "SJ_ERR_BAD_PORT"
      )
        return true;
      if (typeof error.status === "number") return this.options.stopStatuses.has(error.status);
      return false;
    }
    return this.options.stopCloseCodes.has(ending.code);
  }

  private scheduleReconnect(ending: Ending): void {
    if (this.retries >= this.options.maxRetries) {
      this.finish(ending);
      return;
    }
    // Full jitter: a random delay in [0, min(max, initial × 2^n)), so a crowd dropped at once spreads out.
    const ceiling = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** Math.min(this.retries, 30),
    );
    const delayMs = Math.floor(Math.random() * ceiling);
    this.retries++;
    this.dispatchEvent(
      new ResumeEvent("reconnecting", {
        attempt: this.retries,
        delayMs,
        code: ending.code,
        reason: ending.reason,
      }),
    );
    if (this.closeRequested) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      try {
        this.socket = this.open();
      } catch (error) {
        // The same arguments were accepted the first time; should the constructor refuse them now, say so.
        this.dispatchEvent(
          new ResumeErrorEvent("error", { error, message: String((error as Error)?.message) }),
        );
        this.finish({ ...ending, error });
      }
    }, delayMs);
  }

  /** The end: CLOSED, the queue's messages reported as dropped, then `close`. */
  private finish(ending: Ending): void {
    this.state = CLOSED;
    this.ready = false;
    for (const data of this.queue.splice(0)) this.dispatchEvent(new ResumeDropEvent("drop", { data }));
    this.dispatchEvent(new ResumeEvent("close", ending));
  }

  /** The old session cannot go on: its token and positions mean nothing to the next one. */
  private reset(reason: ResumeResetReason): void {
    this.token = null;
    this.resumeSent = false;
    this.lastPositions.clear();
    this.dispatchEvent(new ResumeEvent("reset", { reason }));
  }

  private sessionReady(resumed: boolean): void {
    this.clearSessionTimer();
    this.ready = true;
    this.hadSession = true;
    this.resumeSent = false;
    this.state = OPEN;
    this.sessionAt = Date.now();
    this.dispatchEvent(new ResumeEvent("session", { resumed }));
    if (!this.ready) return;
    this.dispatchEvent(new Event("open"));
    this.flushQueue();
  }

  /**
   * send() goes straight out: a session is set up on this connection and, after a resume, its replay is over.
   * Until then the server holds what comes behind the hello for the app; a connection closed during its
   * replay (e.g. cut, or 1013: live messages held behind it past maxBufferedBytes) is never handed to the
   * app, and what was sent on it would be lost: it waits here for the next connection instead.
   */
  private get canSend(): boolean {
    // A WebSocket that is closing discards what it is given (WHATWG send() step 2): it waits for the next.
    return (
      this.ready &&
      this.socket !== null &&
      this.socket.readyState === OPEN &&
      (this.connectionSession !== true || this.replayOver)
    );
  }

  private flushQueue(): void {
    while (this.canSend && this.queue.length > 0) this.socket!.send(this.queue.shift()!);
  }

  private onMessage(socket: WebSocketLike, data: unknown): void {
    if (this.socket !== socket) return;
    if (socket.protocol !== RESUME_PROTOCOL) {
      this.dispatchEvent(new ResumableMessageEvent(this.binary(data), null, null));
      return;
    }
    const problem =
      typeof data === "string" ? this.textMessage(data) : this.binaryMessage(data as ArrayBuffer);
    if (problem !== null) this.violation(socket, problem);
  }

  /**
   * The server broke the wire format (docs/resume.md): the message cannot be placed, and skipping it would be
   * a gap the app cannot see. The app gets `error`, the connection is dropped (1005/1006 for the app, not a
   * stop code) and nothing more of it is read; the resume then replays from the last message placed.
   */
  private violation(socket: WebSocketLike, problem: string): void {
    socket.onmessage = null;
    this.dispatchEvent(
      new ResumeErrorEvent("error", { message: `sockjet.resume: the server sent ${problem}` }),
    );
    socket.close();
  }

  // Every message starts with its type byte (docs/resume.md, wire format). These return what is wrong with
  // a message (nothing of it is delivered then), or null.

  private textMessage(data: string): string | null {
    if (data.length === 0) return "an empty message (no type byte)";
    const type = data.charCodeAt(0);
    if (type === DIRECT) {
      this.dispatchEvent(new ResumableMessageEvent(data.slice(1), null, null));
      return null;
    }
    if (type === TOPIC) {
      const end = data.indexOf("\n");
      if (end === -1) return `a topic message with no "\\n" after its header: ${excerpt(data)}`;
      return this.topicMessage(data.slice(1, end), data.slice(end + 1));
    }
    if (type === CONTROL) return this.controlMessage(data.slice(1));
    return `a message of unknown type ${type}`;
  }

  private binaryMessage(data: ArrayBuffer): string | null {
    const bytes = new Uint8Array(data);
    if (bytes.length === 0) return "an empty message (no type byte)";
    const type = bytes[0];
    if (type === DIRECT) {
      this.dispatchEvent(new ResumableMessageEvent(this.binary(bytes.slice(1).buffer), null, null));
      return null;
    }
    if (type === TOPIC) {
      const end = bytes.indexOf(0x0a);
      if (end === -1)
        return `a topic message with no "\\n" after its header: ${excerpt(utf8.decode(bytes.subarray(1, 80)))}`;
      return this.topicMessage(utf8.decode(bytes.subarray(1, end)), this.binary(bytes.slice(end + 1).buffer));
    }
    if (type === CONTROL) return "a control message in a binary message (they are text)";
    return `a message of unknown type ${type}`;
  }

  /** A topic message, its header "<topic number> <position>" (docs/resume.md). */
  private topicMessage(header: string, data: unknown): string | null {
    const parsed = TOPIC_HEADER.exec(header);
    if (parsed === null) return `a topic message with a malformed header ${excerpt(header)}`;
    const topic = this.topicNames.get(Number(parsed[1]));
    const position = parsed[2];
    // A number the server never announced here is a server bug, as malformed.
    if (topic === undefined) return `a topic message with an unknown topic number in ${excerpt(header)}`;
    // A message published before the unsubscribe may come after its `unsubscribed` (it waited behind a Blob
    // the app sent first): delivered, but its position must not put the topic back in the next hello.
    if (!this.leftTopics.has(topic)) this.lastPositions.set(topic, position);
    this.dispatchEvent(new ResumableMessageEvent(data, topic, position));
    return null;
  }

  /** A control message (0x02 + JSON, docs/resume.md): a JSON object with a string `type`, else malformed. */
  private controlMessage(text: string): string | null {
    let control: unknown;
    try {
      control = JSON.parse(text);
    } catch {
      return `a control message that is not JSON: ${excerpt(text)}`;
    }
    if (
      typeof control !== "object" ||
      control === null ||
      Array.isArray(control) ||
      typeof (control as Control).type !== "string"
    )
      return `a control message that is not an object with a type: ${excerpt(text)}`;
    const problem = this.onControl(control as Control);
    return problem === null ? null : `${problem}: ${excerpt(text)}`;
  }

  /**
   * Acts on a control message, in the order docs/resume.md gives them on a connection: `topic`s, then (after
   * a resume hello) maybe `reset`, then one `session`, then after a resumed one its `resumed`. Returns what is
   * wrong with it (nothing done then), or null. A type this client does not know is ignored.
   */
  private onControl(control: Control): string | null {
    if (control.type === "reset") {
      if (typeof control.reason !== "string") return "a reset without a reason";
      if (!this.resumeSent || this.connectionSession !== null) return "a reset that answers no resume";
      this.reset(control.reason);
    } else if (control.type === "session") {
      if (this.connectionSession !== null) return "a second session on one connection";
      if (typeof control.token !== "string" || control.token === "") return "a session without a token";
      if (typeof control.resumed !== "boolean") return "a session without resumed: true or false";
      if (control.resumed && !this.resumeSent) return "a resumed session, but no resume was presented";
      const topics = control.topics;
      if (
        topics !== undefined &&
        !(Array.isArray(topics) && topics.every((topic) => typeof topic === "string"))
      )
        return "a session whose topics are not a list of names";
      // A fresh session answering a resume with no `reset` first: the old session is gone all the same, and
      // the app must refetch its state (as for a token the server does not know).
      if (!control.resumed && this.resumeSent) this.reset("unknown");
      this.connectionSession = control.resumed;
      this.token = control.token;
      if (!control.resumed) this.lastPositions.clear();
      else if (topics !== undefined) this.keepPositionsOf(topics);
      this.sessionReady(control.resumed);
    } else if (control.type === "topic") {
      // The number the server's envelopes give this topic on this connection, from now on; a number once
      // announced names that topic for good (numbers are never reused).
      if (
        !Number.isSafeInteger(control.id) ||
        (control.id as number) < 0 ||
        typeof control.topic !== "string"
      )
        return "a topic announcement without a number and a name";
      const known = this.topicNames.get(control.id as number);
      if (known !== undefined && known !== control.topic)
        return "a topic number announced again for another topic";
      // A topic announced again under a new number (unsubscribed, then subscribed anew): every message of its
      // old number came before on this connection, so that number is forgotten, and the table stays as large
      // as the topics followed, however often subscriptions churn.
      const previous = this.topicIds.get(control.topic);
      if (previous !== undefined && previous !== control.id) this.topicNames.delete(previous);
      this.topicIds.set(control.topic, control.id as number);
      this.topicNames.set(control.id as number, control.topic);
      this.leftTopics.delete(control.topic);
    } else if (control.type === "unsubscribed") {
      // The app unsubscribed this session from the topic: its position would only grow the next hello. Its
      // number stays known (numbers are never reused): a message sent before may still be on its way.
      if (typeof control.topic !== "string") return "an unsubscribed without a topic";
      this.lastPositions.delete(control.topic);
      this.leftTopics.add(control.topic);
    } else if (control.type === "resumed") {
      if (this.connectionSession !== true || this.replayOver) return "a resumed that ends no replay";
      if (!Number.isSafeInteger(control.replayed) || (control.replayed as number) < 0)
        return "a resumed without a count";
      this.replayOver = true;
      this.dispatchEvent(new ResumeEvent("resumed", { resumed: true, replayed: control.replayed as number }));
      this.flushQueue();
    }
    return null;
  }

  /** A server that names the session's topics: positions of any other topic are forgotten (the hello stays small). */
  private keepPositionsOf(topics: string[]): void {
    const followed = new Set(topics);
    for (const topic of [...this.lastPositions.keys()])
      if (!followed.has(topic)) this.lastPositions.delete(topic);
  }

  // biome-ignore lint/suspicious/noExplicitAny: MessageEvent data
  private binary(data: unknown): any {
    if (this.options.binaryType === "blob" && data instanceof ArrayBuffer) return new Blob([data]);
    return data;
  }
}

/**
 * A server that answers none of the offered subprotocols fails the handshake (WHATWG WebSockets, "establish a
 * WebSocket connection"): for a ResumableWebSocket that is most often a server without resume, so say so.
 */
function withResumeHint(error: unknown, message: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "SJ_ERR_INVALID_HANDSHAKE" || !/did not select any of the offered subprotocols/.test(message))
    return message;
  return `${message}. The server does not speak ${RESUME_PROTOCOL}: turn on its \`resume\` option (docs/resume.md), or have it select one of options.protocols.`;
}
