import { constants } from "node:http2";
import type { Duplex } from "node:stream";

// Destroying a connection's transport at once (terminate(), a close timeout, a lost heartbeat, a handshake
// given up). On a socket that is destroy(): the kernel resets the connection if bytes are left. On an HTTP/2
// stream (RFC 8441) Node's destroy() sends RST_STREAM with NO_ERROR, which says the stream ended normally.

/** An HTTP/2 stream (Http2Stream is not exported: it has close(code) and rstCode, sockets have neither). */
function isHttp2Stream(transport: Duplex): transport is Duplex & { close(code: number): void } {
  return typeof (transport as { close?: unknown }).close === "function" && "rstCode" in transport;
}

/** A writable side's end that sends nothing (see destroyTransport). */
function endSilently(callback: (error?: Error | null) => void): void {
  callback();
}

/**
 * Destroys `transport` at once. RFC 8441 §6: on an HTTP/2 stream, a TCP reset is represented by RST_STREAM
 * with CANCEL; a stream whose side we have already ended cleanly (our END_STREAM sent, the peer's awaited)
 * keeps NO_ERROR, as a TCP connection whose FIN is sent is closed without a reset.
 */
export function destroyTransport(transport: Duplex): void {
  if (!transport.destroyed && !transport.writableFinished && isHttp2Stream(transport)) {
    // Node's close(code) ends the writable side first, and its _final queues an empty DATA frame with
    // END_STREAM that goes out before the RST_STREAM: a clean half-close (RFC 9113 §8.1), then a reset. An
    // abort is the RST_STREAM alone (RFC 8441 §6): the side is ended here without that frame.
    transport._final = endSilently;
    transport.close(constants.NGHTTP2_CANCEL);
  }
  transport.destroy();
}
