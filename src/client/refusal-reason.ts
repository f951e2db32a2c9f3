import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";

// Why a server refused the handshake, when it says so: the first line of a short text/plain body ("Origin
// not allowed"). Read with a bound and a short timeout, so a server that sends a large or endless body (or
// none) cannot hold up or fill the error; controls are escaped, so the text cannot drive a terminal.

/** Bytes of the body read at most; the reason is cut to REASON_CHARS characters. */
const BODY_BYTES = 512;
const REASON_CHARS = 200;
const BODY_TIMEOUT_MS = 500;

/**
 * Calls `done` once with the reason the response's body gives, or "" (not text/plain, empty, too slow).
 * `response` is the body, `headers` its response's: an HTTP/1.1 response, or the stream of an HTTP/2 one.
 */
export function readRefusalReason(
  headers: IncomingHttpHeaders,
  response: Readable,
  done: (reason: string) => void,
): void {
  const type = String(headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
  if (type !== "text/plain") {
    response.resume();
    done("");
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    response.off("data", onData);
    response.resume();
    done(firstLine(Buffer.concat(chunks).subarray(0, BODY_BYTES).toString("utf8")));
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= BODY_BYTES) finish();
  };
  const timer = setTimeout(finish, BODY_TIMEOUT_MS);
  timer.unref();
  response.on("data", onData);
  response.once("end", finish);
  response.once("error", finish);
  response.once("close", finish);
}

/** The first non-empty line, controls escaped (\x1b, \u202e), at most REASON_CHARS characters. */
function firstLine(body: string): string {
  const line = body.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const escaped = line.trim().replace(
    // C0, DEL, C1, and the bidirectional and invisible format characters.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the controls is the point
    /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ufffd]/g,
    (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u${code.toString(16).padStart(4, "0")}`;
    },
  );
  return escaped.length > REASON_CHARS ? `${escaped.slice(0, REASON_CHARS)}…` : escaped;
}

/**
 * What a 2xx answer to an upgrade means (RFC 6455 §4.1: anything but 101 fails it): the URL is served as a
 * plain HTTP resource, not as a WebSocket endpoint. "" for other statuses, whose reason says more.
 */
export function plainHttpNote(status: number | undefined): string {
  return status !== undefined && status >= 200 && status < 300 ? " (not a WebSocket endpoint)" : "";
}
