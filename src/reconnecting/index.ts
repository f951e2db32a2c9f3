/**
 * ReconnectingWebSocket: a client WebSocket that reconnects with a jittered backoff.
 * @module sockjet/reconnecting
 */
// sockjet/reconnecting: a WebSocket that reconnects, built on the public WebSocket only.
export { backoffDelayMs } from "./backoff.js";
export {
  DropEvent,
  type DropEventInit,
  ReconnectedEvent,
  type ReconnectedEventInit,
  ReconnectingEvent,
  type ReconnectingEventInit,
  type ReconnectingWebSocketEventMap,
  type SendData,
} from "./events.js";
export type { OpenInfo, ReconnectingWebSocketOptions } from "./options.js";
export { ReconnectingWebSocket } from "./reconnecting-websocket.js";
export type { SendQueueOptions } from "./send-queue.js";
