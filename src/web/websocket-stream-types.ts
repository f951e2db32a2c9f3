import type { ReadableStream, WritableStream } from "node:stream/web";
import type { WebSocketOptions } from "./websocket.js";

// The public types of WebSocketStream (websocket-stream.ts), as the draft (whatwg/websockets PR #48) names them.

/** What the readable gives: a string for a text message, a `Uint8Array` for a binary one (as the draft). */
export type WebSocketStreamChunk = string | Uint8Array;

/** What `opened` resolves to (the draft's WebSocketOpenInfo). */
export interface WebSocketOpenInfo {
  readable: ReadableStream<WebSocketStreamChunk>;
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  extensions: string;
  protocol: string;
}

/** What `closed` resolves to: the close code and reason received (1005 and "" for a Close without a code). */
export interface WebSocketStreamCloseInfo {
  closeCode: number;
  reason: string;
}

/** The draft's WebSocketStreamOptions, plus the Node-only options of WebSocket's third argument. */
export interface WebSocketStreamOptions extends WebSocketOptions {
  protocols?: string[];
  /** Aborts the opening handshake; no effect once open (as specified). */
  signal?: AbortSignal;
}
