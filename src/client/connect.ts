import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction, type NetConnectOpts, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Transport } from "../connection/connection-options.js";
import { HandshakeError } from "../protocol/errors.js";
import type { PerMessageExtension } from "../protocol/extension.js";
import { generateKey, validateUpgradeResponse, WEBSOCKET_VERSION } from "../protocol/handshake.js";
import { type ExtensionOffer, isValidHeaderName, isValidHeaderValue } from "../protocol/header-grammar.js";
import { isBadPort } from "./bad-ports.js";
import { connectWithLargeReads } from "./large-read-socket.js";
import { closedWithoutAnswer, networkError } from "./network-error.js";
import { openTunnel, type ProxyTunnel, type ResolvedProxy } from "./proxy.js";
import { tunnelClosedError } from "./proxy-errors.js";
import { plainHttpNote, readRefusalReason } from "./refusal-reason.js";

// The client's opening handshake: the request as the WHATWG Fetch standard builds it for a WebSocket
// ("establish a WebSocket connection"), sent over node:http/https, and the response checked per RFC 6455
// §4.1 before the socket is handed to the connection layer. Redirects are never followed (Fetch: redirect
// mode "error" for WebSockets).

/** Negotiates one extension (permessage-deflate) on the client side. */
export interface ClientExtensionNegotiator {
  /** The Sec-WebSocket-Extensions offer. */
  offer(): string;
  /** Builds the extension from the server's accepted parameters; throws an Error when they are invalid. */
  accept(response: ExtensionOffer): PerMessageExtension;
  readonly name: string;
}

/**
 * The Node-only options for the local end of the TCP connection, as net.connect takes them: to the server, or
 * through a proxy to the proxy (proxy.ts). Only those given are set.
 */
export interface LocalConnectOptions {
  localAddress?: string;
  family?: number;
  lookup?: LookupFunction;
}

export interface ClientHandshakeOptions {
  protocols: string[];
  headers?: Record<string, string>;
  origin?: string;
  handshakeTimeoutMs: number;
  /**
   * When the handshake's time started before this request (HTTP/2's fall-back to HTTP/1.1, http2-connect.ts):
   * the end of its handshakeTimeoutMs, which this request keeps instead of starting its own.
   */
  deadline?: number;
  maxHeaderBytes?: number;
  tls?: { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean; servername?: string };
  extension?: ClientExtensionNegotiator | null;
  /** A connected (TLS) socket to send the request on, instead of a new connection (http2-connect.ts). */
  socket?: Duplex;
  /** The proxy to tunnel through (see proxy.ts), or null for a direct connection. */
  proxy?: ResolvedProxy | null;
  /** The local end of a direct connection (through a proxy, `proxy.local` has them). */
  local?: LocalConnectOptions;
}

export interface ClientHandshakeResult {
  /** The upgraded socket, or the HTTP/2 stream of an extended CONNECT (RFC 8441). */
  socket: Transport;
  head: Buffer;
  protocol: string;
  extensions: string;
  extension: PerMessageExtension | null;
}

export interface ClientHandshake {
  abort(): void;
}

/** Headers the user may not set: the handshake owns them (Fetch "forbidden" plus the WebSocket ones). */
const RESERVED_HEADERS = new Set([
  "connection",
  "upgrade",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "sec-websocket-accept",
  "content-length",
  "transfer-encoding",
  "host",
]);

/**
 * The `headers` option's name/value pairs. As undici's WebSocket (Fetch's HeadersInit): a record, a `Headers`
 * or any iterable of [name, value] pairs (an array of them, a Map); a pair that is not two items is a TypeError
 * (an array taken as a record sent a header named "0").
 */
function headerPairs(headers: object, path: string): [string, unknown][] {
  const iterate = (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  const forEach = (headers as { forEach?: unknown }).forEach;
  if (typeof iterate !== "function" && typeof forEach === "function") {
    // A Headers look-alike with forEach only.
    const pairs: [string, unknown][] = [];
    forEach.call(headers, (value: unknown, name: unknown) => pairs.push([String(name), value]));
    return pairs;
  }
  if (typeof iterate !== "function") return Object.entries(headers);
  const pairs: [string, unknown][] = [];
  for (const pair of headers as Iterable<unknown>) {
    if (
      typeof pair !== "object" ||
      pair === null ||
      typeof (pair as Iterable<unknown>)[Symbol.iterator] !== "function"
    )
      throw new TypeError(`${path}: each item must be a [name, value] pair`);
    const items = [...(pair as Iterable<unknown>)];
    if (items.length !== 2) throw new TypeError(`${path}: each item must be a [name, value] pair`);
    pairs.push([String(items[0]), items[1]]);
  }
  return pairs;
}

/**
 * Checks the Node-only `headers` option: valid names and values (no CR/LF injection), none reserved; `path`
 * names it in messages.
 */
export function validateExtraHeaders(headers: unknown, path = "options.headers"): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (typeof headers !== "object") throw new TypeError(`${path} must be an object`);
  const out: Record<string, string> = {};
  /** Lowercased name → the name as first given: a repeated field's values are joined (Fetch's append). */
  const given = new Map<string, string>();
  for (const [name, raw] of headerPairs(headers, path)) {
    const value = String(raw).trim();
    if (!isValidHeaderName(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    if (value !== "" && !isValidHeaderValue(value)) {
      throw new TypeError(`Invalid value for header ${name}: ${JSON.stringify(value)}`);
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`Header ${name} is set by the WebSocket handshake and cannot be overridden`);
    }
    const first = given.get(name.toLowerCase());
    if (first === undefined) {
      given.set(name.toLowerCase(), name);
      out[name] = value;
    } else out[first] = `${out[first]}, ${value}`;
  }
  return out;
}

export function startClientHandshake(
  url: URL,
  options: ClientHandshakeOptions,
  onSuccess: (result: ClientHandshakeResult) => void,
  onFailure: (error: HandshakeError) => void,
): ClientHandshake {
  const secure = url.protocol === "wss:";
  const key = generateKey();
  // Fetch "establish a WebSocket connection", steps 4–10, and the no-store cache mode's headers.
  const headers: Record<string, string> = {
    ...options.headers,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": key,
    "Sec-WebSocket-Version": WEBSOCKET_VERSION,
  };
  // Fetch "HTTP-network-or-cache fetch", cache mode "no-store": Pragma and Cache-Control (no-cache) are
  // appended only when the request has none. Node lowercases names, so a default set under another case
  // would silently replace the user's value.
  const userHeaderNames = new Set(Object.keys(options.headers ?? {}).map((name) => name.toLowerCase()));
  if (!userHeaderNames.has("cache-control")) headers["Cache-Control"] = "no-cache";
  if (!userHeaderNames.has("pragma")) headers.Pragma = "no-cache";
  if (options.origin !== undefined) {
    // The origin option wins over an Origin in headers, whatever its case: one Origin is sent.
    for (const name of Object.keys(headers)) if (name.toLowerCase() === "origin") delete headers[name];
    headers.Origin = options.origin;
  }
  if (options.protocols.length > 0) headers["Sec-WebSocket-Protocol"] = options.protocols.join(", ");
  const negotiator = options.extension ?? null;
  if (negotiator !== null) headers["Sec-WebSocket-Extensions"] = negotiator.offer();

  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const requestOptions: https.RequestOptions = {
    host: hostname,
    port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
    // RFC 6455 §4.1 item 4: Host carries the port only when it is not the scheme's default. node:http leaves
    // it out only for its agent's defaultPort, and a createConnection of ours runs without an agent.
    defaultPort: secure ? 443 : 80,
    path: `${url.pathname}${url.search}`,
    method: "GET",
    headers,
    agent: false,
    maxHeaderSize: options.maxHeaderBytes,
    // node:http hands them to net.connect (ws:, createConnection below) or tls.connect (wss:, its agent).
    ...options.local,
  };
  const ready = options.socket;
  // node:http calls createConnection only without an agent (agent: false makes one of its own, which would
  // open a second connection and leave `ready` open).
  if (ready !== undefined) {
    requestOptions.agent = undefined;
    requestOptions.createConnection = () => ready as Socket;
  } else if (!secure) {
    // Plain TCP: larger reads (large-read-socket.ts). A proxy's tunnel and the bad-port check replace this.
    requestOptions.agent = undefined;
    requestOptions.createConnection = (connectOptions) =>
      connectWithLargeReads(connectOptions as NetConnectOpts);
  }
  // Credentials in the URL become `Authorization: Basic …` unless the request already has an Authorization
  // header (WPT websockets/basic-auth.any.js); Node's `auth` does exactly that. Sent with the first request,
  // as ws does: Fetch ("HTTP-network-or-cache fetch", isAuthenticationFetch) and Chromium send them only in
  // a retry after a 401 challenge, a second connection. The URL keeps them percent-encoded; they are sent
  // decoded, as url.urlToHttpOptions does.
  if (url.username !== "" || url.password !== "") {
    requestOptions.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  }
  if (secure) {
    Object.assign(requestOptions, options.tls);
    // SNI is only sent for names (RFC 6066 §3), never for IP literals.
    if (options.tls?.servername === undefined && isIP(hostname) === 0) {
      requestOptions.servername = hostname;
    }
  }

  let settled = false;
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    return true;
  };
  let tunnel: ProxyTunnel | null = null;
  const fail = (error: HandshakeError) => {
    if (!settle()) return;
    tunnel?.abort();
    request.destroy();
    onFailure(error);
  };
  const invalid = (reason: string) => fail(new HandshakeError("SJ_ERR_INVALID_HANDSHAKE", reason));

  const proxy = options.proxy ?? null;
  if (proxy !== null) {
    // Through a proxy the handshake runs over a tunnel that node:http waits for (createConnection's callback
    // form). For wss: TLS runs end to end to the target inside it, and the certificate is checked against the
    // target's name (`host`), never the proxy's. A tunnel that fails fails the handshake with its own error.
    requestOptions.agent = undefined;
    requestOptions.createConnection = (_options, created: (error: Error | null, socket: Socket) => void) => {
      tunnel = openTunnel(
        proxy,
        hostname,
        Number(requestOptions.port),
        (socket) => {
          tunnel = null;
          if (!secure) return created(null, socket);
          const tlsOptions = options.tls as tls.ConnectionOptions;
          created(
            null,
            tls.connect({ ...tlsOptions, servername: requestOptions.servername, host: hostname, socket }),
          );
        },
        fail,
      );
      return undefined;
    };
  }
  // Fetch "fetch" step 6 (port blocking, §2.9): a bad port is a network error, and nothing is connected.
  const port = Number(requestOptions.port);
  if (isBadPort(port)) {
    requestOptions.agent = undefined;
    requestOptions.createConnection = () => {
      process.nextTick(() =>
        fail(
          new HandshakeError(
            "SJ_ERR_BAD_PORT",
            `port ${port} is blocked, as in browsers (Fetch "bad port": it belongs to another protocol)`,
          ),
        ),
      );
      return undefined;
    };
  }
  const request = (secure ? https : http).request(requestOptions);
  const timer = setTimeout(
    () =>
      fail(
        new HandshakeError(
          "SJ_ERR_HANDSHAKE_TIMEOUT",
          `no answer to the opening handshake within ${options.handshakeTimeoutMs} ms`,
        ),
      ),
    options.deadline === undefined ? options.handshakeTimeoutMs : Math.max(0, options.deadline - Date.now()),
  );
  timer.unref();

  request.on("response", (response) => {
    const status = response.statusCode ?? 0;
    // node:http hands a 101 to 'upgrade' only with both Upgrade and Connection: upgrade; without them it is a
    // final response here. RFC 6455 §4.1 (the client's checks 2 and 3) makes that an invalid 101, not a refusal.
    if (status === 101) {
      const checked = validateUpgradeResponse(
        { statusCode: status, headers: response.headers },
        {
          key,
          offeredProtocols: options.protocols,
          offeredExtensions: [],
        },
      );
      invalid(checked.ok ? "the server's 101 response did not switch protocols" : checked.reason);
      return;
    }
    // Anything but 101, including a 3xx redirect, fails the connection, with the reason the body gives.
    const text = `${status} ${response.statusMessage ?? ""}`.trimEnd();
    readRefusalReason(response.headers, response, (reason) => {
      const message = `the server answered HTTP ${text}${plainHttpNote(status)}${reason === "" ? "" : `: ${reason}`}`;
      fail(new HandshakeError("SJ_ERR_HANDSHAKE_REFUSED", message, { status }));
    });
  });
  request.on("error", (error: NodeJS.ErrnoException) =>
    fail(
      proxy !== null && closedWithoutAnswer(error)
        ? tunnelClosedError(proxy, error)
        : networkError(error, hostname, secure, options.maxHeaderBytes),
    ),
  );
  request.on("upgrade", (response, socket: Socket, head: Buffer) => {
    if (settled) {
      socket.destroy();
      return;
    }
    const checked = validateUpgradeResponse(
      { statusCode: response.statusCode ?? 0, headers: response.headers },
      {
        key,
        offeredProtocols: options.protocols,
        offeredExtensions: negotiator === null ? [] : [negotiator.name],
      },
    );
    if (!checked.ok) {
      socket.destroy();
      invalid(checked.reason);
      return;
    }
    let extension: PerMessageExtension | null = null;
    if (checked.extensions.length > 0 && negotiator !== null) {
      try {
        extension = negotiator.accept(checked.extensions[0]);
      } catch (error) {
        socket.destroy();
        invalid((error as Error).message);
        return;
      }
    }
    if (!settle()) {
      extension?.dispose();
      socket.destroy();
      return;
    }
    const extensionsHeader = response.headers["sec-websocket-extensions"];
    onSuccess({
      socket,
      head,
      protocol: checked.protocol,
      extensions: Array.isArray(extensionsHeader) ? extensionsHeader.join(", ") : (extensionsHeader ?? ""),
      extension,
    });
  });
  request.end();

  return {
    abort: () =>
      fail(
        new HandshakeError("SJ_ERR_ABORTED", "WebSocket was closed before the connection was established"),
      ),
  };
}
