import type { WebSocket } from "./websocket.js";
import { CLOSED, CLOSING, CONNECTING, OPEN } from "./websocket-state.js";

// The WebIDL shape of the WebSocket interface that a class declaration does not give: constants, enumerable
// members, the "length" of the constructor and methods, the toStringTag. Run once, when websocket.ts loads.

/** Defines WebSocket's WebIDL constants and member attributes (WebIDL §3.7). */
export function defineWebSocketInterface(WebSocketClass: typeof WebSocket): void {
  for (const [name, value] of [
    ["CONNECTING", CONNECTING],
    ["OPEN", OPEN],
    ["CLOSING", CLOSING],
    ["CLOSED", CLOSED],
  ] as const) {
    Object.defineProperty(WebSocketClass.prototype, name, { value, enumerable: true });
    Object.defineProperty(WebSocketClass, name, { value, enumerable: true });
  }
  for (const name of [
    "url",
    "readyState",
    "bufferedAmount",
    "extensions",
    "protocol",
    "binaryType",
    "onopen",
    "onmessage",
    "onerror",
    "onclose",
  ]) {
    Object.defineProperty(WebSocketClass.prototype, name, { enumerable: true });
  }
  // WebIDL §3.7.6 operations are enumerable; §3.7 "length" counts the required arguments only (the Node-only
  // trailing options would otherwise show up in it).
  for (const name of ["send", "close"])
    Object.defineProperty(WebSocketClass.prototype, name, { enumerable: true });
  Object.defineProperty(WebSocketClass, "length", { value: 1 });
  Object.defineProperty(WebSocketClass.prototype.send, "length", { value: 1 });
  Object.defineProperty(WebSocketClass.prototype.close, "length", { value: 0 });
  Object.defineProperty(WebSocketClass.prototype, Symbol.toStringTag, {
    value: "WebSocket",
    configurable: true,
  });
}
