import http2, { type ClientHttp2Session, type Settings } from "node:http2";
import { isIP } from "node:net";
import tls, { type TLSSocket } from "node:tls";
import { HandshakeError } from "../protocol/errors.js";
import type { Http2Mode, PoolSettings } from "./http2-session-pool.js";
import { watchGoaway } from "./http2-unprocessed.js";

// The setup of one client HTTP/2 session (TCP, TLS and ALPN, the server's SETTINGS: RFC 9113 §3.3–3.4) and
// the sockets that wait on it: the first WebSocket to an origin starts it, the ones that come meanwhile wait
// on the same one (http2-session-pool.ts). Each waiter keeps its own handshake deadline: the setup runs to
// the latest of them (a waiter whose deadline comes first gives up alone), and is abandoned, its connection
// destroyed, when no waiter is left (all closed or timed out): it would otherwise hold the server's connection
// and the Node process until a deadline nobody waits for (review 144).

/** What a setup found: a session ready for WebSockets (now in the pool), or HTTP/1.1 (on `socket` if open). */
export type SetupOutcome = { kind: "h2" } | { kind: "http1"; socket: TLSSocket | null };

/** A socket waiting for a route: its handshake's deadline (a Date.now() time), and the setup it waits on. */
export interface SetupWaiter {
  readonly deadline: number;
  setup: SessionSetup | null;
  withdrawn: boolean;
}

/**
 * The setup ran to its deadline, the latest of its waiters': each waiter's own deadline has passed, so this
 * is a handshake timeout for each, never a network error.
 */
export class SessionSetupTimeout extends Error {
  constructor(ms: number) {
    super(`no HTTP/2 session within ${ms} ms`);
    this.name = "SessionSetupTimeout";
  }
}

export interface SessionSetup {
  /** `waiter` waits on this setup; the setup's deadline moves to the waiter's when that is later. */
  join(waiter: SetupWaiter): Promise<SetupOutcome>;
  /** `waiter` gave up: the last one to leave abandons the setup. */
  leave(waiter: SetupWaiter): void;
}

/** What the pool does with a setup's results (http2-session-pool.ts), before the waiters hear of them. */
export interface SetupHooks {
  /** A session whose SETTINGS allow extended CONNECT (RFC 8441 §3) and some stream. */
  ready(session: ClientHttp2Session): void;
  /** "auto" takes HTTP/1.1 at this origin for a while: its server cannot carry WebSockets over HTTP/2. */
  noHttp2(): void;
  /** The setup is over (done, failed or abandoned): sockets that come now need another. */
  settled(): void;
}

/** For an HTTP/1.1 server, what reaches it over ws: ("auto" stays on HTTP/1.1 for ws:). */
const HTTP1_ADVICE = 'for an HTTP/1.1 server use the http2 option "auto" or "never"';

/**
 * RFC 9113 §3.3: over ws:, "always" starts HTTP/2 with prior knowledge, its preface first. A server that
 * answers with bytes that are not HTTP/2 frames (an HTTP/1.1 server's "400 Bad Request") fails the session
 * in nghttp2 (ERR_HTTP2_ERROR, "Protocol error"): a handshake answer that is not the protocol asked for, as
 * connect.ts has it for HTTP/1.1 (network-error.ts).
 */
function h2cFailure(error: Error): Error {
  if ((error as NodeJS.ErrnoException).code !== "ERR_HTTP2_ERROR") return error;
  return new HandshakeError(
    "SJ_ERR_INVALID_HANDSHAKE",
    `the server does not speak HTTP/2 cleartext on this port (h2c, by prior knowledge: the http2 option "always" on ws:): its answer is not HTTP/2 (nghttp2: ${error.message}); ${HTTP1_ADVICE}`,
    { cause: error },
  );
}

interface Waiting {
  resolve(outcome: SetupOutcome): void;
  reject(error: Error): void;
}

export function startSessionSetup(
  url: URL,
  mode: Http2Mode,
  options: PoolSettings,
  hooks: SetupHooks,
): SessionSetup {
  const secure = url.protocol === "wss:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const origin = `${secure ? "https" : "http"}://${url.host}`;
  /** In the order they came: an HTTP/1.1 socket that ALPN chose goes to the first. */
  const waiters = new Map<SetupWaiter, Waiting>();
  const startedAt = Date.now();
  let deadline = 0;
  let timer: NodeJS.Timeout | null = null;
  let settled = false;
  let session: ClientHttp2Session | null = null;
  let socket: TLSSocket | null = null;

  /** Ends the setup: every waiter left hears `outcome` (in order), or the error. */
  const settle = (outcome: SetupOutcome | Error) => {
    settled = true;
    if (timer !== null) clearTimeout(timer);
    hooks.settled();
    const waiting = [...waiters];
    waiters.clear();
    let ownSocket = outcome instanceof Error ? null : outcome.kind === "http1" ? outcome.socket : null;
    for (const [waiter, { resolve, reject }] of waiting) {
      waiter.setup = null;
      if (outcome instanceof Error) reject(outcome);
      else if (outcome.kind === "h2") resolve(outcome);
      else {
        // HTTP/1.1 on the TLS socket ALPN chose it on goes to one socket; the others make their own.
        resolve({ kind: "http1", socket: ownSocket });
        ownSocket = null;
      }
    }
    ownSocket?.destroy();
  };
  const fail = (error: Error) => {
    if (settled) return;
    socket?.destroy();
    session?.destroy();
    settle(error);
  };

  const startSession = (createConnection?: () => TLSSocket) => {
    // h2c: node:http2 hands the local end's options to net.connect (wss: has them in tls.connect's, below).
    const local = Object.fromEntries(
      Object.entries({
        localAddress: options.localAddress,
        family: options.family,
        lookup: options.lookup,
      }).filter(([, value]) => value !== undefined),
    );
    session = http2.connect(origin, createConnection === undefined ? local : { createConnection });
    const s = session;
    // A GOAWAY may come with the SETTINGS: the streams it refuses are retried (http2-unprocessed.ts).
    watchGoaway(s);
    const onError = (error: Error) => fail(secure ? error : h2cFailure(error));
    s.once("error", onError);
    s.once("close", () =>
      fail(
        new Error(
          `the HTTP/2 session closed before its SETTINGS${secure ? "" : ` (not an HTTP/2 cleartext server on this port? ${HTTP1_ADVICE})`}`,
        ),
      ),
    );
    s.once("remoteSettings", (settings: Settings) => {
      if (settled) return;
      s.removeListener("error", onError);
      s.on("error", () => {});
      // The TLS handshake is over on both ends now (the server wrote SETTINGS over it): see secureConnect.
      socket?.removeListener("error", fail);
      // RFC 8441 §3: without SETTINGS_ENABLE_CONNECT_PROTOCOL the server cannot take a WebSocket here.
      if (settings.enableConnectProtocol !== true) {
        s.close();
        if (mode === "always") {
          settle(
            new Error(
              "the server does not accept WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)",
            ),
          );
          return;
        }
        hooks.noHttp2();
        settle({ kind: "http1", socket: null });
        return;
      }
      // RFC 9113 §6.5.2: a server that allows no stream (yet) cannot carry this socket; nor would a next session.
      if (settings.maxConcurrentStreams === 0) {
        s.close();
        // "auto" takes HTTP/1.1 then, as for a server without extended CONNECT (review 137).
        if (mode === "auto") {
          hooks.noHttp2();
          settle({ kind: "http1", socket: null });
          return;
        }
        settle(new Error("the server allows no HTTP/2 stream (SETTINGS_MAX_CONCURRENT_STREAMS = 0)"));
        return;
      }
      hooks.ready(s);
      settle({ kind: "h2" });
    });
  };

  const setup: SessionSetup = {
    join(waiter) {
      waiter.setup = setup;
      if (waiter.deadline > deadline) {
        // The latest waiter's deadline bounds the setup; the waiters before it give up at their own.
        deadline = waiter.deadline;
        if (timer !== null) clearTimeout(timer);
        timer = setTimeout(
          () => fail(new SessionSetupTimeout(Date.now() - startedAt)),
          Math.max(0, deadline - Date.now()),
        );
        timer.unref();
      }
      return new Promise<SetupOutcome>((resolve, reject) => waiters.set(waiter, { resolve, reject }));
    },
    leave(waiter) {
      waiter.setup = null;
      if (!waiters.delete(waiter) || waiters.size > 0) return;
      // Nobody waits any more: the connection is closed now, not at the deadline of a socket that left.
      fail(new Error("no socket waits for this HTTP/2 session any more"));
    },
  };

  const connect = () => {
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
      s.removeListener("error", fail);
      // HTTP/1.1 on this very connection: no second TLS handshake.
      settle({ kind: "http1", socket: s });
    });
  };
  try {
    connect();
  } catch (error) {
    // Options Node refuses at once (a key or certificate it cannot read): the waiters hear it as they would a
    // failed connection, once they have joined (the pool joins the first right after this returns).
    queueMicrotask(() => fail(error as Error));
  }
  return setup;
}
