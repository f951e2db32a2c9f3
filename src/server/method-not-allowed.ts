import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";

// The 405 of the http2 server a standalone WebSocketServer makes for itself (`http2: true`), for a method it
// does not serve: a CONNECT without `:protocol` (a plain tunnel request, RFC 9113 §8.5), a POST, a DELETE….
// RFC 9110 §15.5.6: a 405 MUST carry Allow, which lists what the server serves: the WebSocket's own methods,
// CONNECT with `:protocol websocket` over HTTP/2 (RFC 8441 §4) and GET with Upgrade over HTTP/1.1 (GET and
// HEAD over HTTP/2 get a 426 that says so). Node's compatibility layer answered the CONNECT 405 without Allow.
// Only while the WebSocketServer has no 'request' listener (RFC 9110 §10.2.1: Allow lists the methods the
// target resource supports): with one, the app serves the other methods (POST, DELETE…) and sockjet does not
// know them. Then the app gets those requests, and a plain CONNECT gets what Node gives it with a 'request'
// listener and no 'connect' one, a 405 without Allow (http2-upgrade.ts). A node:http2 server of the user's is
// left alone in the same way: its owner knows its methods, sockjet does not.

/** The methods a standalone WebSocketServer answers other than with 405 (RFC 9110 §10.2.1). */
export const ALLOWED_METHODS = "GET, HEAD, CONNECT";

const BODY =
  "Method Not Allowed: this endpoint speaks WebSocket (over HTTP/2: CONNECT with :protocol websocket, RFC 8441)\n";

export function answerMethodNotAllowed(response: Http2ServerResponse | ServerResponse): void {
  response.writeHead(405, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(BODY),
    allow: ALLOWED_METHODS,
  });
  response.end(BODY);
}
