import {
  requireArguments,
  toBoolean,
  toDictionary,
  toDOMString,
  toSequence,
  toUnsignedShort,
  toUSVString,
} from "./webidl.js";

// MessageEvent (HTML §9.2 "The MessageEvent interface") and CloseEvent (WebSockets Standard §5), built
// like the globals: `new MessageEvent(type, init)`, attributes read-only on the prototype.

const EMPTY_PORTS: readonly unknown[] = Object.freeze([]);

/** HTML §9.2 MessageEventInit: `ports` is a sequence<MessagePort> and `source` a MessageEventSource. */
function toMessagePort(value: unknown): MessagePort {
  if (!(value instanceof MessagePort)) throw new TypeError("The value is not of type MessagePort");
  return value;
}

function eventInit(init: Record<string, unknown>): EventInit {
  return {
    bubbles: toBoolean(init.bubbles),
    cancelable: toBoolean(init.cancelable),
    composed: toBoolean(init.composed),
  };
}

/**
 * DOM §2.2 EventInit, declared here (as are the listener types in websocket-options.ts) so that the
 * published declarations type-check without the DOM lib, in an ordinary Node project.
 */
export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** The second argument of `new MessageEvent(type, init)`. */
export interface MessageEventInit<T = unknown> extends EventInit {
  data?: T;
  origin?: string;
  lastEventId?: string;
  source?: unknown;
  ports?: readonly unknown[];
}

interface MessageEventRest {
  lastEventId: string;
  source: unknown;
  ports: readonly unknown[];
}

/** A received message (`event.data`), as the HTML standard's MessageEvent. */
export class MessageEvent<T = unknown> extends Event {
  #data: T;
  #origin: string;
  /** lastEventId, source and ports: null for a received message, whose are always "", null and []. */
  #rest: MessageEventRest | null;

  constructor(type: string, eventInitDict?: MessageEventInit<T>) {
    if (eventInitDict === RECEIVED) {
      // A received message: the fields are known to be well-formed, so the WebIDL conversions are skipped.
      super("message");
      this.#data = receivedData as T;
      this.#origin = receivedOrigin;
      this.#rest = null;
      return;
    }
    requireArguments(arguments.length, 1, "MessageEvent constructor");
    const init = toDictionary(eventInitDict, "eventInitDict");
    super(toDOMString(type), eventInit(init));
    // WebIDL §3.2.17: dictionary members are read once each, inherited ones first, then in lexicographic
    // order (data, lastEventId, origin, ports, source).
    const data = init.data;
    this.#data = (data === undefined ? null : data) as T;
    const lastEventIdInit = init.lastEventId;
    const lastEventId = lastEventIdInit === undefined ? "" : toDOMString(lastEventIdInit);
    const origin = init.origin;
    this.#origin = origin === undefined ? "" : toUSVString(origin);
    const portsInit = init.ports;
    const ports =
      portsInit === undefined ? EMPTY_PORTS : Object.freeze(toSequence(portsInit, toMessagePort, "ports"));
    const sourceInit = init.source;
    // MessageEventSource? is (WindowProxy or MessagePort or ServiceWorker)?: in Node only a MessagePort.
    const source = sourceInit === undefined || sourceInit === null ? null : toMessagePort(sourceInit);
    this.#rest = { lastEventId, source, ports };
  }

  get data(): T {
    return this.#data;
  }

  get origin(): string {
    return this.#origin;
  }

  get lastEventId(): string {
    return this.#rest?.lastEventId ?? "";
  }

  get source(): unknown {
    return this.#rest?.source ?? null;
  }

  get ports(): readonly unknown[] {
    return this.#rest?.ports ?? EMPTY_PORTS;
  }

  /**
   * HTML §9.2.1 (legacy, kept by browsers): initializes an event that is not being dispatched, like
   * initEvent(). With it the class has every member of lib.dom's MessageEvent.
   */
  initMessageEvent(
    type: string,
    bubbles = false,
    cancelable = false,
    data: unknown = null,
    origin = "",
    lastEventId = "",
    source: unknown = null,
    ports: Iterable<unknown> = [],
  ): void {
    // WebIDL §3.7.6: the brand check comes before the arguments.
    if (typeof this !== "object" || this === null || !(#data in this)) {
      throw new TypeError("Failed to execute 'initMessageEvent' on 'MessageEvent': Illegal invocation");
    }
    requireArguments(arguments.length, 1, "initMessageEvent");
    const init = {
      type: toDOMString(type),
      bubbles: toBoolean(bubbles),
      cancelable: toBoolean(cancelable),
      origin: toUSVString(origin),
      lastEventId: toDOMString(lastEventId),
      source: source === null ? null : toMessagePort(source),
      ports: Object.freeze(toSequence(ports, toMessagePort, "ports")),
    };
    // "If this's dispatch flag is set, then return": an event in dispatch has a phase other than NONE.
    if (this.eventPhase !== Event.NONE) return;
    this.initEvent(init.type, init.bubbles, init.cancelable);
    this.#data = data as T;
    this.#origin = init.origin;
    this.#rest = { lastEventId: init.lastEventId, source: init.source, ports: init.ports };
  }
}

const RECEIVED: MessageEventInit = Object.freeze({});
let receivedData: unknown = null;
let receivedOrigin = "";

/** The fast path for received messages: no dictionary conversions, the fields are known to be right. */
export function createMessageEvent<T>(data: T, origin: string): MessageEvent<T> {
  receivedData = data;
  receivedOrigin = origin;
  const event = new MessageEvent<T>("message", RECEIVED as MessageEventInit<T>);
  receivedData = null;
  return event;
}

/** The second argument of `new CloseEvent(type, init)`. */
export interface CloseEventInit extends EventInit {
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

/** The connection closed: `code`, `reason`, `wasClean` (WHATWG WebSockets). */
export class CloseEvent extends Event {
  #wasClean: boolean;
  #code: number;
  #reason: string;

  constructor(type: string, eventInitDict?: CloseEventInit) {
    requireArguments(arguments.length, 1, "CloseEvent constructor");
    const init = toDictionary(eventInitDict, "eventInitDict");
    super(toDOMString(type), eventInit(init));
    // WebIDL §3.2.17: members read once each, in lexicographic order (code, reason, wasClean).
    const code = init.code;
    this.#code = code === undefined ? 0 : toUnsignedShort(code);
    const reason = init.reason;
    this.#reason = reason === undefined ? "" : toUSVString(reason);
    this.#wasClean = toBoolean(init.wasClean);
  }

  get wasClean(): boolean {
    return this.#wasClean;
  }

  get code(): number {
    return this.#code;
  }

  get reason(): string {
    return this.#reason;
  }
}

/** The second argument of `new ErrorEvent(type, init)`. */
export interface ErrorEventInit extends EventInit {
  message?: string;
  filename?: string;
  lineno?: number;
  colno?: number;
  error?: unknown;
}

/**
 * HTML §8.1.8.2 ErrorEvent. Browsers fire a bare Event at a failed WebSocket (pages must not learn about
 * the network); like undici, we fire an ErrorEvent whose `error` says why (a HandshakeError, a
 * ProtocolError with the close code and reason we sent, a ConnectionLostError) and `message` its text.
 */
export class ErrorEvent extends Event {
  #message: string;
  #filename: string;
  #lineno: number;
  #colno: number;
  #error: unknown;

  constructor(type: string, eventInitDict?: ErrorEventInit) {
    requireArguments(arguments.length, 1, "ErrorEvent constructor");
    const init = toDictionary(eventInitDict, "eventInitDict");
    super(toDOMString(type), eventInit(init));
    // WebIDL §3.2.17: members read once each, in lexicographic order (colno, error, filename, lineno, message).
    const colno = init.colno;
    this.#colno = colno === undefined ? 0 : Number(colno) >>> 0;
    const error = init.error;
    this.#error = error === undefined ? null : error;
    const filename = init.filename;
    this.#filename = filename === undefined ? "" : toUSVString(filename);
    const lineno = init.lineno;
    this.#lineno = lineno === undefined ? 0 : Number(lineno) >>> 0;
    const message = init.message;
    this.#message = message === undefined ? "" : toDOMString(message);
  }

  get message(): string {
    return this.#message;
  }

  get filename(): string {
    return this.#filename;
  }

  get lineno(): number {
    return this.#lineno;
  }

  get colno(): number {
    return this.#colno;
  }

  // biome-ignore lint/suspicious/noExplicitAny: as in lib.dom, so that `event.error?.code` reads without a cast
  get error(): any {
    return this.#error;
  }
}

// WebIDL §3.7 "length": the constructors take one required argument.
Object.defineProperty(MessageEvent, "length", { value: 1 });
Object.defineProperty(CloseEvent, "length", { value: 1 });
Object.defineProperty(ErrorEvent, "length", { value: 1 });
for (const [cls, names] of [
  [MessageEvent, ["data", "origin", "lastEventId", "source", "ports"]],
  [CloseEvent, ["wasClean", "code", "reason"]],
  [ErrorEvent, ["message", "filename", "lineno", "colno", "error"]],
] as const) {
  for (const name of names) {
    Object.defineProperty(cls.prototype, name, { enumerable: true });
  }
  // WebIDL §3.7.6: operations are enumerable too.
  if (cls === MessageEvent) Object.defineProperty(cls.prototype, "initMessageEvent", { enumerable: true });
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: cls.name, configurable: true });
}

// Where the platform has these interfaces (globalThis.MessageEvent on Node ≥ 15, CloseEvent on Node ≥ 23,
// browsers), ours inherit from their prototypes: browser code's `event instanceof MessageEvent` holds for
// our events, as it does for undici's. Every attribute is still ours (the platform's accessors check a brand
// of their own); the constructor is Event's, so the object is a real Event.
for (const [ours, name] of [
  [MessageEvent, "MessageEvent"],
  [CloseEvent, "CloseEvent"],
  [ErrorEvent, "ErrorEvent"],
] as const) {
  const platform = (globalThis as Record<string, unknown>)[name];
  if (typeof platform === "function" && platform !== ours && platform.prototype instanceof Event)
    Object.setPrototypeOf(ours.prototype, platform.prototype);
}
