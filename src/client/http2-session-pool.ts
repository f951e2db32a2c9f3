import type { ClientHttp2Session } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { LocalConnectOptions } from "./connect.js";
import { type SessionSetup, type SetupWaiter, startSessionSetup } from "./http2-session-setup.js";

// The client's HTTP/2 sessions, one per origin (and TLS settings), shared by every WebSocket to it as
// browsers share a page's connection (RFC 8441). A session is used for WebSockets only once the server's
// SETTINGS have SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (§3); it closes a short while after its last socket.
// A session that carries as many streams as its server allows (SETTINGS_MAX_CONCURRENT_STREAMS) takes no
// more: the origin gets another session beside it. A stream refused unprocessed (GOAWAY, REFUSED_STREAM) is
// retried once on a session other than the one that refused it (http2-unprocessed.ts). A session being set
// up is shared too: the sockets that come meanwhile wait on it, each until its own deadline
// (http2-session-setup.ts).

/** "never": HTTP/1.1 only; "always": HTTP/2 only (ws: by prior knowledge, h2c); "auto": see Http2Mode docs. */
export type Http2Mode = "auto" | "never" | "always";

/** A session's TLS settings and the local end of its connection (LocalConnectOptions). */
export interface PoolSettings extends LocalConnectOptions {
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
const pending = new Map<string, SessionSetup>();
const noH2Until = new Map<string, number>();

/** A number per lookup function, for the pool key. */
const lookupIds = new WeakMap<object, number>();
let lastLookupId = 0;

/**
 * TLS material is part of the key: a session is never shared by sockets that trust different things. So is
 * the local end: a socket asked to connect from a localAddress, or with a family or lookup, gets a session
 * connected so.
 */
function poolKey(url: URL, options: PoolSettings): string {
  const pem = (value: unknown) => (Buffer.isBuffer(value) ? value.toString("base64") : value);
  const ca = Array.isArray(options.ca) ? options.ca.map(pem) : pem(options.ca);
  let lookup: number | undefined;
  if (options.lookup !== undefined) {
    lookup = lookupIds.get(options.lookup);
    if (lookup === undefined) lookupIds.set(options.lookup, (lookup = ++lastLookupId));
  }
  return JSON.stringify([
    url.protocol,
    url.host,
    options.servername,
    options.rejectUnauthorized,
    ca,
    pem(options.cert),
    pem(options.key),
    options.localAddress,
    options.family,
    lookup,
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
      idle(key, entry);
    },
  };
}

/**
 * A session with no WebSocket: it must not keep the process alive, and it closes (GOAWAY) unless a socket
 * comes soon.
 */
function idle(key: string, entry: Entry): void {
  entry.session.unref();
  entry.idleTimer = setTimeout(() => {
    forget(key, entry);
    entry.session.close();
  }, SESSION_IDLE_MS);
  entry.idleTimer.unref();
}

/** A socket's request for a route (acquireRoute). */
export interface RouteRequest {
  /**
   * The route. Rejected with the error of the session's setup; with a SessionSetupTimeout when the setup ran
   * to its deadline (the latest of the sockets waiting on it: this socket's has passed too).
   */
  readonly route: Promise<Route>;
  /**
   * The socket gives up waiting for its route (it was closed, or its deadline passed). A session setup that no
   * socket waits for any more is abandoned: its connection is destroyed at once.
   */
  withdraw(): void;
}

/**
 * The route for a WebSocket to `url`, for a handshake that must be done by `deadline` (a Date.now() time).
 * "auto" on wss: offers h2 and http/1.1 by ALPN (RFC 7301): HTTP/1.1 on the same TLS socket when the server
 * picks it, else an HTTP/2 session, used when its SETTINGS allow extended CONNECT (else HTTP/1.1 on a new
 * connection, and the origin is remembered for a minute). ws: with "auto" is HTTP/1.1 (cleartext HTTP/2 needs
 * prior knowledge, RFC 9113 §3.3: "always"). `avoid`: a session not to use (the one that refused the stream
 * being retried).
 */
export function acquireRoute(
  url: URL,
  mode: Http2Mode,
  options: PoolSettings,
  deadline: number,
  avoid: ClientHttp2Session | null = null,
): RouteRequest {
  const waiter: SetupWaiter = { deadline, setup: null, withdrawn: false };
  return {
    route: routeFor(url, mode, options, waiter, avoid),
    withdraw() {
      if (waiter.withdrawn) return;
      waiter.withdrawn = true;
      waiter.setup?.leave(waiter);
    },
  };
}

function routeFor(
  url: URL,
  mode: Http2Mode,
  options: PoolSettings,
  waiter: SetupWaiter,
  avoid: ClientHttp2Session | null,
): Promise<Route> {
  const secure = url.protocol === "wss:";
  if (mode === "never" || (!secure && mode === "auto"))
    return Promise.resolve({ kind: "http1", socket: null });
  const key = poolKey(url, options);
  const entry = usable(key, avoid);
  if (entry !== undefined) return Promise.resolve(use(key, entry));
  if (mode === "auto" && (noH2Until.get(key) ?? 0) > Date.now())
    return Promise.resolve({ kind: "http1", socket: null });
  let setup = pending.get(key);
  if (setup === undefined) {
    const started = startSessionSetup(url, mode, options, {
      ready: (session) => add(key, session),
      noHttp2: () => noH2Until.set(key, Date.now() + NO_H2_MEMORY_MS),
      settled: () => {
        if (pending.get(key) === started) pending.delete(key);
      },
    });
    setup = started;
    pending.set(key, setup);
  }
  return setup.join(waiter).then((outcome): Route | Promise<Route> => {
    if (outcome.kind === "http1") return outcome;
    // A socket that gave up as the session became ready takes no stream (nor starts another setup).
    if (waiter.withdrawn) throw new Error("the socket no longer waits for a route");
    // The session is in the pool now: taken as any open one is (another if it is full, RFC 9113 §5.1.2).
    return routeFor(url, mode, options, waiter, avoid);
  });
}

/** A session ready for WebSockets (its setup's waiters are about to take it) joins the pool, idle. */
function add(key: string, session: ClientHttp2Session): void {
  const entry: Entry = { session, sockets: 0, idleTimer: null };
  const entries = sessions.get(key);
  if (entries === undefined) sessions.set(key, [entry]);
  else entries.push(entry);
  const drop = () => forget(key, entry);
  // GOAWAY: the streams it allows go on; new WebSockets get a new session.
  session.once("goaway", drop);
  session.once("close", drop);
  idle(key, entry);
}
