import http2, { type ClientHttp2Session } from "node:http2";
import { isIP } from "node:net";
import tls, { type TLSSocket } from "node:tls";
import { watchGoaway } from "./http2-unprocessed.js";

// The client's HTTP/2 sessions, one per origin (and TLS settings), shared by every WebSocket to it as
// browsers share a page's connection (RFC 8441). A session is used for WebSockets only once the server's
// SETTINGS have SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (§3); it closes a short while after its last socket.
// A session that carries as many streams as its server allows (SETTINGS_MAX_CONCURRENT_STREAMS) takes no
// more: the origin gets another session beside it. A stream refused unprocessed (GOAWAY, REFUSED_STREAM) is
// retried once on a session other than the one that refused it (http2-unprocessed.ts).

/** "never": HTTP/1.1 only; "always": HTTP/2 only (ws: by prior knowledge, h2c); "auto": see Http2Mode docs. */
export type Http2Mode = "auto" | "never" | "always";

export interface PoolTls {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** Where a WebSocket's handshake goes: an HTTP/2 session, or HTTP/1.1 (on `socket` when one is open). */
export type Route =
  | { kind: "h2"; session: ClientHttp2Session; release: () => void }
  | { kind: "http1"; socket: TLSSocket | null };

/** How long a session with no WebSocket stays open for the next one. */
export const SESSION_IDLE_MS = 5000;
/** How long an origin whose server does not take extended CONNECT goes straight to HTTP/1.1. */
const NO_H2_MEMORY_MS = 60_000;

interface Entry {
  session: ClientHttp2Session;
  sockets: number;
  idleTimer: NodeJS.Timeout | null;
}

/** The sessions of each pool key, oldest first. */
const sessions = new Map<string, Entry[]>();
/** Sessions being set up: sockets that arrive meanwhile wait for the same one. */
const pending = new Map<string, Promise<Route>>();
const noH2Until = new Map<string, number>();

/** TLS material is part of the key: a session is never shared by sockets that trust different things. */
function poolKey(url: URL, options: PoolTls): string {
  const pem = (value: unknown) => (Buffer.isBuffer(value) ? value.toString("base64") : value);
  const ca = Array.isArray(options.ca) ? options.ca.map(pem) : pem(options.ca);
  return JSON.stringify([
    url.protocol,
    url.host,
    options.servername,
    options.rejectUnauthorized,
    ca,
    pem(options.cert),
    pem(options.key),
  ]);
}

/** The open sessions (for tests and figures). */
export function openSessionCount(): number {
  let count = 0;
  for (const entries of sessions.values()) count += entries.length;
  return count;
}

function forget(key: string, entry: Entry): void {
  const entries = sessions.get(key);
  if (entries === undefined) return;
  const at = entries.indexOf(entry);
  if (at >= 0) entries.splice(at, 1);
  if (entries.length === 0) sessions.delete(key);
}

/**
 * A session of `key` that can take one more stream: open, not going away, and below the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2: a stream past it is refused, and Node would hold the
 * request until a stream closes, past the handshake timeout). Our streams on it are its WebSockets, those
 * still in their handshake included (`sockets`); the limit is read at each use, as the server may change it.
 * `avoid`: the session that refused a stream, for its retry (RFC 9113 §8.7).
 */
function usable(key: string, avoid: ClientHttp2Session | null): Entry | undefined {
  for (const entry of sessions.get(key) ?? []) {
    const session = entry.session;
    if (session.closed || session.destroyed || session === avoid) continue;
    const limit = session.remoteSettings?.maxConcurrentStreams;
    if (typeof limit === "number" && entry.sockets >= limit) continue;
    return entry;
  }
  return undefined;
}

function use(key: string, entry: Entry): Route {
  entry.sockets++;
  if (entry.idleTimer !== null) {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
  }
  entry.session.ref();
  let released = false;
  return {
    kind: "h2",
    session: entry.session,
    release: () => {
      if (released) return;
      released = true;
      if (--entry.sockets > 0 || entry.session.destroyed) return;
      // Idle: it must not keep the process alive, and it closes (GOAWAY) unless a socket comes soon.
      entry.session.unref();
      entry.idleTimer = setTimeout(() => {
        forget(key, entry);
        entry.session.close();
      }, SESSION_IDLE_MS);
      entry.idleTimer.unref();
    },
  };
}

/**
 * The route for a WebSocket to `url`. "auto" on wss: offers h2 and http/1.1 by ALPN (RFC 7301): HTTP/1.1 on
 * the same TLS socket when the server picks it, else an HTTP/2 session, used when its SETTINGS allow extended
 * CONNECT (else HTTP/1.1 on a new connection, and the origin is remembered for a minute). ws: with "auto" is
 * HTTP/1.1 (cleartext HTTP/2 needs prior knowledge, RFC 9113 §3.3: "always"). `avoid`: a session not to use
 * (the one that refused the stream being retried).
 */
export function acquireRoute(
  url: URL,
  mode: Http2Mode,
  options: PoolTls,
  timeoutMs: number,
  avoid: ClientHttp2Session | null = null,
): Promise<Route> {
  const secure = url.protocol === "wss:";
  if (mode === "never" || (!secure && mode === "auto"))
    return Promise.resolve({ kind: "http1", socket: null });
  const key = poolKey(url, options);
  const entry = usable(key, avoid);
  if (entry !== undefined) return Promise.resolve(use(key, entry));
  if (mode === "auto" && (noH2Until.get(key) ?? 0) > Date.now())
    return Promise.resolve({ kind: "http1", socket: null });
  const waiting = pending.get(key);
  if (waiting !== undefined)
    // The session being set up, if it has room when it is ready; else another (acquired again).
    return waiting.then((route) =>
      route.kind === "h2"
        ? acquireRoute(url, mode, options, timeoutMs, avoid)
        : { kind: "http1", socket: null },
    );
  const started = connect(key, url, mode, options, timeoutMs);
  pending.set(key, started);
  const done = () => pending.delete(key);
  started.then(done, done);
  return started;
}

function connect(
  key: string,
  url: URL,
  mode: Http2Mode,
  options: PoolTls,
  timeoutMs: number,
): Promise<Route> {
  const secure = url.protocol === "wss:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const origin = `${secure ? "https" : "http"}://${url.host}`;
  return new Promise<Route>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      fail(Object.assign(new Error(`no HTTP/2 session within ${timeoutMs} ms`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    timer.unref();
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      session?.destroy();
      reject(error);
    };
    let session: ClientHttp2Session | null = null;
    let socket: TLSSocket | null = null;
    const startSession = (createConnection?: () => TLSSocket) => {
      session = http2.connect(origin, createConnection === undefined ? {} : { createConnection });
      const s = session;
      // A GOAWAY may come with the SETTINGS: the streams it refuses are retried (http2-unprocessed.ts).
      watchGoaway(s);
      s.once("error", fail);
      s.once("close", () => fail(new Error("the HTTP/2 session closed before its SETTINGS")));
      s.once("remoteSettings", (settings) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        s.removeListener("error", fail);
        s.on("error", () => {});
        // The TLS handshake is over on both ends now (the server wrote SETTINGS over it): see secureConnect.
        socket?.removeListener("error", fail);
        // RFC 8441 §3: without SETTINGS_ENABLE_CONNECT_PROTOCOL the server cannot take a WebSocket here.
        if (settings.enableConnectProtocol !== true) {
          s.close();
          if (mode === "always") {
            reject(
              new Error(
                "the server does not accept WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)",
              ),
            );
            return;
          }
          noH2Until.set(key, Date.now() + NO_H2_MEMORY_MS);
          resolve({ kind: "http1", socket: null });
          return;
        }
        // RFC 9113 §6.5.2: a server that allows no stream (yet) cannot carry this socket; nor would a next session.
        if (settings.maxConcurrentStreams === 0) {
          s.close();
          // "auto" takes HTTP/1.1 then, as for a server without extended CONNECT (review 137).
          if (mode === "auto") {
            noH2Until.set(key, Date.now() + NO_H2_MEMORY_MS);
            resolve({ kind: "http1", socket: null });
            return;
          }
          reject(new Error("the server allows no HTTP/2 stream (SETTINGS_MAX_CONCURRENT_STREAMS = 0)"));
          return;
        }
        const entry: Entry = { session: s, sockets: 0, idleTimer: null };
        const entries = sessions.get(key);
        if (entries === undefined) sessions.set(key, [entry]);
        else entries.push(entry);
        const drop = () => forget(key, entry);
        // GOAWAY: the streams it allows go on; new WebSockets get a new session.
        s.once("goaway", drop);
        s.once("close", drop);
        resolve(use(key, entry));
      });
    };
    if (!secure) {
      startSession();
      return;
    }
    const tlsOptions: tls.ConnectionOptions = {
      ...(options as tls.ConnectionOptions),
      host: hostname,
      port,
      // RFC 7301: offer both; the server's choice says whether HTTP/2 is there at all.
      ALPNProtocols: mode === "always" ? ["h2"] : ["h2", "http/1.1"],
    };
    if (options.servername === undefined && isIP(hostname) === 0) tlsOptions.servername = hostname;
    socket = tls.connect(tlsOptions);
    const s = socket;
    s.once("error", fail);
    s.once("secureConnect", () => {
      if (settled) return;
      s.setNoDelay(true);
      if (s.alpnProtocol === "h2") {
        // The socket's error listener stays until the server's SETTINGS. RFC 8446 §4.4.2, §6.2: in TLS 1.3
        // the client's handshake ends (secureConnect) before the server has read its Certificate; a server
        // that requires a client certificate, or rejects the one given, answers with an alert after that.
        // node:http2 (Node 20) turns that socket error into no session error or close: without this listener
        // the socket waited for the timeout, then failed as a network error ("no HTTP/2 session within …").
        // Failed with the socket's error, it is the HTTP/1.1 path's SJ_ERR_TLS_FAILED (tls-failure.ts).
        startSession(() => s);
        return;
      }
      if (mode === "always") {
        fail(new Error(`the server does not speak HTTP/2 (ALPN: ${s.alpnProtocol || "none"})`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      s.removeListener("error", fail);
      // HTTP/1.1 on this very connection: no second TLS handshake.
      resolve({ kind: "http1", socket: s });
    });
  });
}
