import type { WebSocketEventMap } from "../index.js";
import type { EventInit } from "../web/events.js";

// The events a ReconnectingWebSocket adds to the WebSocket's (open, message, error, close).

/** The second argument of `new ReconnectingEvent(type, init)`. */
export interface ReconnectingEventInit extends EventInit {
  attempt?: number;
  delayMs?: number;
  code?: number;
  reason?: string;
  wasClean?: boolean;
  error?: unknown;
}

/**
 * `reconnecting`: a connection closed or failed and another is attempted after `delayMs`. `attempt` counts
 * the attempts since the last stable connection (1 for the first retry); `code`, `reason`, `wasClean` and
 * `error` say how the last one ended. Cancelable: preventDefault() gives up instead (the final `close` follows).
 */
export class ReconnectingEvent extends Event {
  readonly attempt: number;
  readonly delayMs: number;
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: as ErrorEvent.error, so that `event.error?.code` reads without a cast
  readonly error: any;

  constructor(type: string, init: ReconnectingEventInit = {}) {
    super(type, { cancelable: true, ...init });
    this.attempt = init.attempt ?? 0;
    this.delayMs = init.delayMs ?? 0;
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
    this.error = init.error ?? null;
  }
}

/** The second argument of `new ReconnectedEvent(type, init)`. */
export interface ReconnectedEventInit extends EventInit {
  attempts?: number;
}

/** `reconnected`: open again (after the `open` event of the new connection); `attempts` it took. */
export class ReconnectedEvent extends Event {
  readonly attempts: number;

  constructor(type: string, init: ReconnectedEventInit = {}) {
    super(type, init);
    this.attempts = init.attempts ?? 0;
  }
}

/** What send() takes, as WebSocket's send(). */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** The second argument of `new DropEvent(type, init)`. */
export interface DropEventInit extends EventInit {
  data?: SendData;
  reason?: "overflow" | "closed";
}

/**
 * `drop`: a message given to send() while disconnected was never sent: pushed out of a full queue
 * (`whenFull: "drop-oldest"`: reason "overflow"), or still queued when the client gave up or was closed
 * (reason "closed"). `data` is the message (a copy of the caller's bytes).
 */
export class DropEvent extends Event {
  readonly data: SendData | null;
  readonly reason: "overflow" | "closed";

  constructor(type: string, init: DropEventInit = {}) {
    super(type, init);
    this.data = init.data ?? null;
    this.reason = init.reason ?? "overflow";
  }
}

export interface ReconnectingWebSocketEventMap extends WebSocketEventMap {
  reconnecting: ReconnectingEvent;
  reconnected: ReconnectedEvent;
  drop: DropEvent;
}
