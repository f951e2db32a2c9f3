import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { clientFrame, OP, parseFrame, type ServerFrame, within } from "../server/helpers.js";

// A raw RFC 8441 client on node:http2, for the server tests: it opens sessions and extended-CONNECT streams
// and reads the server's frames as bytes, so that what is checked is what was on the wire.

const origins = new WeakMap<ClientHttp2Session, string>();

/** A client session to `origin` that has received the server's SETTINGS. */
export async function rawSession(origin: string, ca?: string): Promise<ClientHttp2Session> {
  const session = http2.connect(origin, ca === undefined ? {} : { ca });
  origins.set(session, origin);
  session.on("error", () => {});
  await within(
    new Promise<void>((resolve) => session.once("remoteSettings", () => resolve())),
    5000,
    "the server's SETTINGS",
  );
  return session;
}

export interface RawStream {
  stream: ClientHttp2Stream;
  /** The response headers (`:status` and the rest). */
  response: Promise<IncomingHttpHeaders>;
  /** The next complete frame from the server. */
  nextFrame(ms?: number): Promise<ServerFrame>;
  sendText(text: string): void;
  /** The body of a refusal (the stream's data read as text until it ends). */
  body(): Promise<string>;
}

/** Opens an extended CONNECT stream (RFC 8441 §4) with the pseudo-headers a browser sends, plus `headers`. */
export function connectStream(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
): RawStream {
  const url = new URL(path, origins.get(session));
  const stream = session.request(
    {
      ":method": "CONNECT",
      ":protocol": "websocket",
      ":scheme": url.protocol.slice(0, -1),
      ":path": `${url.pathname}${url.search}`,
      ":authority": url.host,
      "sec-websocket-version": "13",
      ...headers,
    },
    { endStream: false },
  );
  stream.on("error", () => {});
  // As a TCP peer answers a FIN: the server ends its side after the closing handshake, and so do we.
  stream.on("end", () => stream.end());
  let buffered = Buffer.alloc(0);
  let text = "";
  const waiting: (() => void)[] = [];
  stream.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    text += chunk.toString("latin1");
    for (const wake of waiting.splice(0)) wake();
  });
  const ended = new Promise<void>((resolve) => stream.once("close", resolve));
  const response = within(
    new Promise<IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
    5000,
    "the CONNECT response",
  );
  // A stream whose answer nobody awaits (one the test resets) must not fail the run when it never comes.
  response.catch(() => {});
  return {
    stream,
    response,
    async nextFrame(ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const frame = parseFrame(buffered);
        if (frame !== null) {
          buffered = buffered.subarray(frame.size);
          return frame;
        }
        if (Date.now() > deadline || stream.destroyed) throw new Error("no frame from the server");
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    sendText(message: string) {
      stream.write(clientFrame(OP.text, message));
    },
    async body() {
      await within(ended, 5000, "the end of the refused stream");
      return Buffer.from(text, "latin1").toString("utf8");
    },
  };
}
