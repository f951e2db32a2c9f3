import type { LookupFunction } from "node:net";
import type { LocalConnectOptions } from "../client/connect.js";
import type { ConnectionOptions } from "../connection/connection-options.js";
import { resolveHeartbeat } from "../connection/heartbeat.js";
import type { WebSocketOptions } from "./websocket-options.js";

// What a client WebSocket's options make of its TLS settings and of its Connection's options: plain data
// taken out of the constructor, which keeps the standard's steps.

/** The connection options of every client that sets none of them. */
export const DEFAULT_CLIENT_CONNECTION_OPTIONS: ConnectionOptions = { role: "client" };

/** The TLS options given to the handshake. */
export function clientTlsOptions(opts: WebSocketOptions) {
  // Only the options given: an explicit `undefined` would override Node's defaults (rejectUnauthorized
  // follows NODE_TLS_REJECT_UNAUTHORIZED when it is not set).
  return Object.fromEntries(
    Object.entries({
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: opts.servername,
    }).filter(([, value]) => value !== undefined),
  );
}

/** The local end of the client's TCP connection (to the server, or to its proxy): only the options given. */
export function clientLocalOptions(opts: WebSocketOptions): LocalConnectOptions {
  const lookup = opts.lookup === undefined ? undefined : guardedLookup(opts.lookup);
  return Object.fromEntries(
    Object.entries({ localAddress: opts.localAddress, family: opts.family, lookup }).filter(
      ([, value]) => value !== undefined,
    ),
  );
}

/** One guard per lookup function: the HTTP/2 session pool keys sessions by the function. */
const guardedLookups = new WeakMap<LookupFunction, LookupFunction>();

/**
 * The user's `lookup` as node:net may call it: one that throws, or answers no address, is a lookup that
 * failed (an error event), not an exception out of `new WebSocket()` (wss: calls it synchronously) or out of
 * Node's own code (`all: true` with []); a second answer is ignored (review 152).
 */
function guardedLookup(lookup: LookupFunction): LookupFunction {
  let guarded = guardedLookups.get(lookup);
  if (guarded !== undefined) return guarded;
  guarded = (hostname, options, callback) => {
    let answered = false;
    const answer: typeof callback = (error, address, family) => {
      if (answered) return;
      answered = true;
      const none =
        address === undefined || address === null || (Array.isArray(address) && address.length === 0);
      if (error === null && none) {
        const notFound = Object.assign(new Error(`the lookup option found no address for ${hostname}`), {
          code: "ENOTFOUND",
        });
        callback(notFound, address, family);
      } else callback(error, address, family);
    };
    try {
      lookup(hostname, options, answer);
    } catch (error) {
      process.nextTick(() => answer(error as NodeJS.ErrnoException, "", 0));
    }
  };
  guardedLookups.set(lookup, guarded);
  return guarded;
}

/** The options of a client's Connection. */
export function clientConnectionOptions(opts: WebSocketOptions): ConnectionOptions {
  const heartbeat = resolveHeartbeat(opts.heartbeat);
  // The Connection keeps its options object: clients that set none share one (issue 17).
  return opts.maxPayloadBytes === undefined &&
    opts.maxFragmentsPerMessage === undefined &&
    opts.closeTimeoutMs === undefined &&
    heartbeat === null
    ? DEFAULT_CLIENT_CONNECTION_OPTIONS
    : {
        role: "client",
        maxPayloadBytes: opts.maxPayloadBytes,
        maxFragmentsPerMessage: opts.maxFragmentsPerMessage,
        closeTimeoutMs: opts.closeTimeoutMs,
        heartbeat,
      };
}
