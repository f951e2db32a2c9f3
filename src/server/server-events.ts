import { channel } from "node:diagnostics_channel";
import type * as http from "node:http";
import type { IncomingMessage } from "node:http";
import type { WebSocket } from "../web/websocket.js";

// What a WebSocketServer tells the outside: its events and their arguments, and its diagnostics channels.
// Apart from the server (websocket-server.ts): a contract for listeners and subscribers, read without the
// server's code.

/** node:diagnostics_channel channels, for logging and metrics without patching. */
export const diagnostics = {
  open: channel("sockjet:server:open"),
  close: channel("sockjet:server:close"),
  rejected: channel("sockjet:server:handshake-rejected"),
};

/** The events of a WebSocketServer and their listeners' arguments. */
export interface WebSocketServerEventMap {
  /** A handshake completed: the accepted WebSocket and its upgrade request. */
  connection: [socket: WebSocket, request: IncomingMessage];
  /** Standalone mode: the server listens. */
  listening: [];
  /** The server's own failures: listening failed, the adapter could not take a publish. */
  error: [error: Error];
  /** close() is over: every connection is closed. */
  close: [];
  /** Standalone mode: a plain HTTP request (without a listener it gets 426 Upgrade Required). */
  request: [request: IncomingMessage, response: http.ServerResponse];
  /** A handshake was refused: its status and the reason. */
  rejected: [request: IncomingMessage, status: number, reason: string];
  /** A verify/selectProtocol/headers/origins hook threw or broke its contract; the client got a 500. */
  handshakeError: [error: Error, request: IncomingMessage];
  /** A publish could not be delivered (a Blob that cannot be read); the publishes behind it go on. */
  publishError: [error: Error, topic: string];
}
