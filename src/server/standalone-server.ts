import * as http from "node:http";
import * as https from "node:https";
import { createHttp2Server } from "./http2-upgrade.js";
import { answerMethodNotAllowed } from "./method-not-allowed.js";
import type { WebSocketServerOptions } from "./options.js";
import type { Settings } from "./server-settings.js";
import type { WebSocketServer } from "./websocket-server.js";

// The http, https or http2 server a standalone WebSocketServer (`port`) makes for itself: its timeouts and
// its answer to plain HTTP requests. Apart from the WebSocket server's handshake and lifecycle.

/** Makes the server and forwards its 'request' (or answers 426), 'listening' and 'error' to `target`. */
export function createStandaloneServer(
  target: WebSocketServer,
  options: WebSocketServerOptions,
  settings: Settings,
): http.Server {
  // Node enforces headersTimeout only when it sweeps its connections, every connectionsCheckingInterval
  // (default 30 s): sweep often enough that a slowloris head is cut within ~1.5 × handshakeTimeoutMs.
  // Node's parser takes a safe integer only: Infinity (no limit, as the other limits take it, and as it
  // works in attached mode) was its RangeError naming its own "maxHeaderSize" (a newcomer's review). The
  // head is checked against maxHeaderBytes again once parsed (handshake-admission.ts).
  const serverOptions = {
    maxHeaderSize: Math.min(settings.maxHeaderBytes, Number.MAX_SAFE_INTEGER),
    connectionsCheckingInterval: Math.max(10, Math.min(1000, settings.handshakeTimeoutMs / 2)),
  };
  const server = (
    options.http2 === true
      ? createHttp2Server(options.tls, settings.handshakeTimeoutMs)
      : options.tls
        ? https.createServer({
            // A TLS handshake that never finishes is cut at the same timeout (node:tls's default: 120 s).
            handshakeTimeout: settings.handshakeTimeoutMs,
            ...options.tls,
            ...serverOptions,
          })
        : http.createServer(serverOptions)
  ) as http.Server;
  // Slowloris: a request head must arrive within the handshake timeout. The header count is ours to check.
  // (Only the head: a plain HTTP request served by a "request" listener, an upload say, keeps Node's
  // requestTimeout for its body.)
  server.headersTimeout = settings.handshakeTimeoutMs;
  server.maxHeadersCount = 0;
  server.on("request", (request, response) => {
    if (target.listenerCount("request") > 0) {
      target.emit("request", request, response);
      return;
    }
    // Over HTTP/2 a method other than GET and HEAD is one we do not serve: 405 with Allow (RFC 9110
    // §15.5.6). HTTP/1.1 requests are answered as on the http and https standalone servers.
    if (request.httpVersion === "2.0" && request.method !== "GET" && request.method !== "HEAD") {
      answerMethodNotAllowed(response);
      return;
    }
    const body = "426 Upgrade Required: this endpoint speaks WebSocket\n";
    // HTTP/2 has no Upgrade or Connection (RFC 9113 §8.2.2); its clients use extended CONNECT.
    const upgrade = request.httpVersion === "2.0" ? {} : { Upgrade: "websocket", Connection: "Upgrade" };
    response.writeHead(426, { "Content-Type": "text/plain", ...upgrade });
    response.end(body);
  });
  server.on("listening", () => target.emit("listening"));
  server.on("error", (error) => target.emit("error", error));
  return server;
}
