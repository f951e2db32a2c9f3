import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Transport } from "../connection/connection-options.js";
import { computeAccept, type UpgradeRequestResult, validateUpgradeRequest } from "../protocol/handshake.js";
import { acceptResponse, requestUrl, writeRejection } from "./http-response.js";

// What differs between an HTTP/1.1 upgrade (RFC 6455 §4) and an HTTP/2 extended CONNECT (RFC 8441) in the
// server's handshake: how the request is checked, its URL, and how the answer is written. The rest (limits,
// origins, verify, subprotocol and extension selection, the accept step) is WebSocketServer's, shared by both.

export interface HandshakeWire {
  /** The transport the connection will run on: the upgraded socket, or the HTTP/2 stream. */
  readonly socket: Transport;
  /** The request's method and WebSocket headers (RFC 6455 §4.2.1, or RFC 8441 §4–5). */
  validate(): UpgradeRequestResult;
  /** The request URL as the server sees it (ws://host/path?query). */
  url(secure: boolean): URL;
  /** Answers a refused handshake with `status` and closes the transport once it is written. */
  refuse(status: number, reason: string, headers?: Record<string, string>): void;
  /**
   * Builds the accepting answer (throws on an invalid extra header, before anything is written) and returns
   * the function that sends it.
   */
  prepareAccept(
    key: string,
    protocol: string,
    extensions: string,
    headers: Record<string, string> | undefined,
  ): () => void;
}

/** An HTTP/1.1 upgrade: `101 Switching Protocols` written on the socket Node handed over. */
export class Http1Wire implements HandshakeWire {
  readonly socket: Transport;
  private readonly request: IncomingMessage;

  constructor(request: IncomingMessage, socket: Duplex) {
    this.request = request;
    this.socket = socket;
  }

  validate(): UpgradeRequestResult {
    return validateUpgradeRequest({
      method: this.request.method ?? "",
      httpVersion: this.request.httpVersion,
      headers: this.request.headers,
      rawHeaders: this.request.rawHeaders,
    });
  }

  url(secure: boolean): URL {
    return requestUrl(this.request, secure || (this.socket as { encrypted?: boolean }).encrypted === true);
  }

  refuse(status: number, reason: string, headers?: Record<string, string>): void {
    writeRejection(this.socket, status, reason, headers);
  }

  prepareAccept(
    key: string,
    protocol: string,
    extensions: string,
    headers: Record<string, string> | undefined,
  ): () => void {
    const response = acceptResponse(computeAccept(key), protocol, extensions, headers);
    const socket = this.socket;
    return () => socket.write(response);
  }
}
