import {
  requireArguments,
  toBoolean,
  toDictionary,
  toDOMString,
  toUnsignedShort,
  toUSVString,
} from "./webidl.js";

// MessageEvent (HTML §9.2 "The MessageEvent interface") and CloseEvent (WebSockets Standard §5), built
// like the globals: `new MessageEvent(type, init)`, attributes read-only on the prototype.

const EMPTY_PORTS: readonly unknown[] = Object.freeze([]);

function eventInit(init: Record<string, unknown>): EventInit {
  return {
    bubbles: toBoolean(init.bubbles),
    cancelable: toBoolean(init.cancelable),
    composed: toBoolean(init.composed),
  };
}

export interface MessageEventInit<T = unknown> extends EventInit {
  data?: T;
  origin?: string;
  lastEventId?: string;
  source?: unknown;
  ports?: readonly unknown[];
}

export class MessageEvent<T = unknown> extends Event {
  #data: T;
  #origin: string;
  #lastEventId: string;
  #source: unknown;
  #ports: readonly unknown[];

  constructor(type: string, eventInitDict?: MessageEventInit<T>) {
    if (eventInitDict === RECEIVED) {
      // A received message: the fields are known to be well-formed, so the WebIDL conversions are skipped.
      super("message");
      this.#data = receivedData as T;
      this.#origin = receivedOrigin;
      this.#lastEventId = "";
      this.#source = null;
      this.#ports = EMPTY_PORTS;
      return;
    }
    requireArguments(arguments.length, 1, "MessageEvent constructor");
    const init = toDictionary(eventInitDict, "eventInitDict");
    super(toDOMString(type), eventInit(init));
    this.#data = (init.data === undefined ? null : init.data) as T;
    this.#origin = init.origin === undefined ? "" : toUSVString(init.origin);
    this.#lastEventId = init.lastEventId === undefined ? "" : toDOMString(init.lastEventId);
    this.#source = init.source === undefined ? null : init.source;
    this.#ports =
      init.ports === undefined ? EMPTY_PORTS : Object.freeze([...(init.ports as Iterable<unknown>)]);
  }

  get data(): T {
    return this.#data;
  }

  get origin(): string {
    return this.#origin;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  get source(): unknown {
    return this.#source;
  }

  get ports(): readonly unknown[] {
    return this.#ports;
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

export interface CloseEventInit extends EventInit {
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

export class CloseEvent extends Event {
  #wasClean: boolean;
  #code: number;
  #reason: string;

  constructor(type: string, eventInitDict?: CloseEventInit) {
    requireArguments(arguments.length, 1, "CloseEvent constructor");
    const init = toDictionary(eventInitDict, "eventInitDict");
    super(toDOMString(type), eventInit(init));
    this.#wasClean = toBoolean(init.wasClean);
    this.#code = init.code === undefined ? 0 : toUnsignedShort(init.code);
    this.#reason = init.reason === undefined ? "" : toUSVString(init.reason);
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

for (const [cls, names] of [
  [MessageEvent, ["data", "origin", "lastEventId", "source", "ports"]],
  [CloseEvent, ["wasClean", "code", "reason"]],
] as const) {
  for (const name of names) {
    Object.defineProperty(cls.prototype, name, { enumerable: true });
  }
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: cls.name, configurable: true });
}
