import { type ClientHttp2Session, type ClientHttp2Stream, constants } from "node:http2";

// Whether the server refused an extended CONNECT's stream before processing it. RFC 9113 §8.7: a stream
// reset with REFUSED_STREAM, or one above the last-stream-id of a GOAWAY (§6.8), "has not been processed"
// and can be retried: a server that sends GOAWAY as a client connects (a reload, a shutdown) refuses every
// stream already sent. http2-connect.ts retries such a handshake once, on another session. A request the
// client's own nghttp2 would not send looks the same (closed with REFUSED_STREAM) but is not the server's
// refusal, and a retry repeats it: refusedBeforeSending tells it apart.

/** The lowest last-stream-id of the GOAWAYs each session received. */
const goawayLastStreamId = new WeakMap<ClientHttp2Session, number>();

/** Records the GOAWAYs `session` receives (to be called before any stream is opened on it). */
export function watchGoaway(session: ClientHttp2Session): void {
  session.on("goaway", (_code: number, lastStreamId: number) => {
    const seen = goawayLastStreamId.get(session);
    goawayLastStreamId.set(session, seen === undefined ? lastStreamId : Math.min(seen, lastStreamId));
  });
}

/**
 * Whether `stream` (or a request that `session` would not take: no stream) was refused unprocessed: reset
 * with REFUSED_STREAM (§8.7), or above the last-stream-id of a GOAWAY received, sent or not (§6.8; Node
 * destroys a session's streams on a GOAWAY with an error code, without REFUSED_STREAM).
 */
export function notProcessed(session: ClientHttp2Session, stream: ClientHttp2Stream | undefined): boolean {
  if (stream?.rstCode === constants.NGHTTP2_REFUSED_STREAM) return true;
  const last = goawayLastStreamId.get(session);
  if (last === undefined) return false;
  const id = stream?.id;
  return id === undefined || id > last;
}

/** RFC 9113 §6.2: the HEADERS frame type. */
const HEADERS_FRAME = 0x1;
/** Streams whose request's HEADERS the client's own nghttp2 refused to send. */
const notSent = new WeakSet<ClientHttp2Stream>();

/**
 * Watches `stream` (just opened) for a request its own session will not send. nghttp2 refuses a header block
 * over node:http2's maxSendHeaderBlockLength (64 KiB by default; sockjet sets none) before anything of it
 * is written: 'frameError' for the HEADERS frame with FRAME_SIZE_ERROR, then it closes the stream with
 * REFUSED_STREAM, "so that application can send request again" (nghttp2), as a server refusing it unprocessed
 * would (§8.7). The server never saw it, and the same request is refused the same way on any session.
 */
export function watchSendRefusal(stream: ClientHttp2Stream): void {
  stream.on("frameError", (type: number, code: number) => {
    if (type === HEADERS_FRAME && code === constants.NGHTTP2_FRAME_SIZE_ERROR) notSent.add(stream);
  });
}

/** Whether the client's own nghttp2 refused to send `stream`'s request (watchSendRefusal). */
export function refusedBeforeSending(stream: ClientHttp2Stream | undefined): boolean {
  return stream !== undefined && notSent.has(stream);
}
