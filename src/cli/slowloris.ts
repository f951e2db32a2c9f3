import type http from "node:http";

// Slowloris against `serve`'s own http(s) server: node:http waits 60 s for a request head (headersTimeout)
// and checks only every 30 s (connectionsCheckingInterval), so 200 sockets trickling a head byte by byte stayed
// open for a minute, and a socket that sends nothing at all is not covered by headersTimeout (it starts with
// the first byte). Both are cut here within ~1.5 × the handshake timeout.

/** The sweep interval: a quarter of the timeout, at most 1 s, so a socket is cut within 1.25 × the timeout. */
function sweepInterval(timeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4)));
}

/**
 * node:http options: the head, and the whole request (the page takes no uploads), must arrive within the
 * timeout; Node answers 408 to a socket it cuts (the server's clientError listener).
 */
export function slowlorisTimeouts(timeoutMs: number): http.ServerOptions {
  return {
    headersTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: sweepInterval(timeoutMs),
  };
}

/**
 * A socket that sends nothing at all is not covered by headersTimeout (it starts with the first byte): the
 * socket idle timeout closes it. An upgraded socket keeps the timer object (about 120 B) but Node takes its
 * listener away, so an idle WebSocket is not closed by it (keepalive pings are the WebSocket's own).
 */
export function closeSilentSockets(server: http.Server, timeoutMs: number): void {
  server.timeout = timeoutMs;
}
