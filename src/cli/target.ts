import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { validateExtraHeaders } from "../client/connect.js";
import { plainHttpNote } from "../client/refusal-reason.js";
import { HandshakeError, type WebSocketOptions } from "../index.js";
import { UsageError } from "./args.js";
import { escapeControls, quoted } from "./terminal.js";

// What `connect` and `bench` share about the server they talk to: reading the URL from the command line,
// and explaining in one line why a connection could not be made.

/**
 * A URL as the CLI shows it: userinfo (`user:secret@`) replaced by `***@`, so a password in the URL never
 * reaches a terminal, a log or a CI transcript. Takes a parsed URL or the raw text of one that did not parse.
 */
export function displayUrl(url: URL | string): string {
  if (typeof url !== "string") {
    // A scheme the URL parser does not know keeps `user:pw@host` in its path (`alice:pw@host:8080` is
    // scheme `alice:`, no host): the text rule below redacts it. A URL with a host and no userinfo is shown
    // as it is, an "@" in its path or query included.
    if (url.username === "" && url.password === "") return url.host === "" ? displayUrl(url.href) : url.href;
    const shown = new URL(url.href);
    shown.username = "***";
    shown.password = "";
    return shown.href;
  }
  // Unparsed text: everything after "scheme:/" or "scheme://" (or from the start, for a URL typed without a
  // scheme) up to the text's last "@". A password typed unencoded may hold / ? or # (`ws://u:se#cret@host/`
  // failed to parse for it): cutting the authority at the first of those showed it. Text that did not parse
  // may lose a path's "@…" too; a password is never shown.
  return url.replace(/^(\s*[A-Za-z][A-Za-z0-9+.-]*:[/\\]+)?[\s\S]*@/, "$1***@");
}

/** The URL the user gave, redacted and quoted for a message. */
function quotedUrl(url: URL | string): string {
  return quoted(displayUrl(url));
}

/** Parses a ws://, wss://, http:// or https:// URL; anything else is a usage error. */
export function parseTarget(raw: string | undefined): URL {
  if (raw === undefined) throw new UsageError("missing URL (like ws://localhost:8080/)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // A port past 65535 is the likeliest typo of a URL that has a scheme and a host.
    const port = /^[a-z]+:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(raw)?.[1];
    const why =
      port !== undefined && Number(port) > 65535
        ? `: port ${port} is out of range (1–65535)`
        : (schemelessHint(raw) ?? " (expected something like ws://localhost:8080/)");
    throw new UsageError(`invalid URL ${quotedUrl(raw)}${why}`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    // "localhost:8080" parses as scheme "localhost:" with path "8080": a URL typed without its scheme.
    throw new UsageError(
      `invalid URL ${quotedUrl(url)}: the scheme must be ws, wss, http or https${schemelessHint(raw) ?? ""}`,
    );
  }
  if (url.hash !== "" || raw.includes("#"))
    throw new UsageError(`invalid URL ${quotedUrl(raw)}: a WebSocket URL has no #fragment`);
  if (url.hostname === "") throw new UsageError(`invalid URL ${quotedUrl(raw)}: no host`);
  return url;
}

/**
 * " (did you mean ws://HOST[:PORT]/…?)" for a URL typed without its scheme: `localhost:8080` (which parses
 * as scheme "localhost:"), `127.0.0.1:8080`, `[::1]:8080` and a bare `localhost` (which do not parse); null
 * for anything else. Never for text with userinfo: the hint would repeat a password.
 */
function schemelessHint(raw: string): string | null {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d+)?([/?].*)?$/s.exec(raw);
  if (match === null || !/[A-Za-z0-9\]]/.test(raw)) return null;
  const typed = match[1] === undefined ? `${raw}/` : match[1].startsWith("?") ? raw.replace("?", "/?") : raw;
  return ` (did you mean ${escapeControls(`ws://${typed}`)}?)`;
}

/** The flags `connect` and `bench` share, turned into the client's Node-only options. */
export interface ClientFlags {
  header: Array<[string, string]>;
  insecure: boolean;
  deflate: boolean;
  origin?: string;
}

/** The one positional argument (the URL) and the client options of `connect` and `bench`. */
export function clientTarget(
  positionals: readonly string[],
  flags: ClientFlags,
): { url: URL; options: WebSocketOptions } {
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const options: WebSocketOptions = {
    headers: Object.fromEntries(flags.header),
    rejectUnauthorized: !flags.insecure,
    perMessageDeflate: flags.deflate,
  };
  if (flags.origin !== undefined) options.origin = flags.origin;
  if (positionals.length === 0) {
    const taken = urlTakenAsFlagValue(flags);
    if (taken !== undefined)
      throw new UsageError(
        `missing URL: ${quotedUrl(taken.value)} was taken as the value of --${taken.flag}` +
          ` (put the URL last, after each flag's value: --${taken.flag} VALUE ${displayUrl(taken.value)})`,
      );
  }
  return { url: parseTarget(positionals[0]), options };
}

/** A flag whose value is a ws:// or wss:// URL: `--protocol ws://host/` left no URL behind it. */
function urlTakenAsFlagValue(flags: object): { flag: string; value: string } | undefined {
  for (const [flag, value] of Object.entries(flags)) {
    for (const item of Array.isArray(value) ? value : [value])
      if (typeof item === "string" && /^wss?:\/\//i.test(item)) return { flag, value: item };
  }
  return undefined;
}

/** Parses a `Name: value` header flag. */
export function headerLine(raw: string): [string, string] {
  const colon = raw.indexOf(":");
  if (colon <= 0) throw new Error('expected "Name: value"');
  return [raw.slice(0, colon).trim(), raw.slice(colon + 1).trim()];
}

export interface ProbeOptions {
  protocols?: string[];
  /** As the WebSocket's option (already checked by its constructor). */
  headers?: WebSocketOptions["headers"];
  origin?: string;
  rejectUnauthorized?: boolean;
  timeoutMs?: number;
}

/**
 * Says in one line why the opening handshake to `url` failed. The WebSocket API reports a failed
 * connection as a bare `error` event (by design: pages must not learn about the network), so this repeats
 * the attempt as a plain HTTP upgrade request and describes what happens to it.
 */
export function explainFailure(url: URL, options: ProbeOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const secure = url.protocol === "wss:";
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const headers: Record<string, string> = {
      ...validateExtraHeaders(options.headers),
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    };
    if (options.origin !== undefined) headers.Origin = options.origin;
    const offered = options.protocols ?? [];
    if (offered.length > 0) headers["Sec-WebSocket-Protocol"] = offered.join(", ");
    let settled = false;
    const done = (text: string) => {
      if (settled) return;
      settled = true;
      request.destroy();
      resolve(text);
    };
    const request = (secure ? https : http).request({
      host,
      port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: "GET",
      headers,
      agent: false,
      timeout: options.timeoutMs ?? 5000,
      rejectUnauthorized: options.rejectUnauthorized ?? true,
    });
    request.on("response", (response) => {
      response.resume();
      // The reason phrase is the server's text (obs-text allowed, RFC 9112 §4): never raw to a terminal.
      const phrase = escapeControls(response.statusMessage ?? "");
      done(
        `the server answered HTTP ${response.statusCode} ${phrase}`.trimEnd() +
          plainHttpNote(response.statusCode),
      );
    });
    request.on("upgrade", (response, socket) => {
      socket.destroy();
      const selected = response.headers["sec-websocket-protocol"];
      // WHATWG: offered subprotocols and none selected fails the connection (RFC 6455 alone would allow it).
      if (offered.length > 0 && selected === undefined)
        done(`the server selected none of the offered subprotocols (${offered.join(", ")})`);
      else if (selected !== undefined && !offered.includes(selected))
        done(`the server selected subprotocol ${JSON.stringify(selected)}, which was not offered`);
      else done("the server's handshake answer was not acceptable (an extension it selected?)");
    });
    request.on("timeout", () => done("no answer to the opening handshake (timed out)"));
    request.on("error", (error: NodeJS.ErrnoException) => done(describeNetworkError(error, secure)));
    request.end();
  });
}

/**
 * Says in one line why the opening handshake failed, from the cause the library gives in the error event
 * (a HandshakeError); null when there is none (then explainFailure asks the server again).
 */
export function describeHandshakeFailure(error: unknown): string | null {
  if (!(error instanceof HandshakeError)) return null;
  const cause = error.cause as NodeJS.ErrnoException | undefined;
  // The message may carry the server's words (an HTTP reason phrase): every control shown escaped.
  const message = escapeControls(error.message);
  switch (error.code) {
    case "SJ_ERR_TLS_FAILED":
      if (cause !== undefined) {
        const network = describeNetworkError(cause, true);
        if (network !== escapeControls(cause.message.split("\n")[0])) return network;
      }
      return message;
    case "SJ_ERR_INVALID_HANDSHAKE":
      // A message that already says what the server did ("the server did not answer in HTTP/1.1…") as it is.
      return /^the (server|101 response)/.test(message)
        ? message
        : `the server's handshake answer was not acceptable: ${message}`;
    default:
      return message;
  }
}

const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** OpenSSL's words for a TLS client that got plain bytes (an HTTP answer) instead of a ServerHello. */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request/i;

function describeNetworkError(error: NodeJS.ErrnoException, secure: boolean): string {
  const message = escapeControls(error.message.split("\n")[0]);
  if (
    secure &&
    (error.code === "EPROTO" || error.code === "ERR_SSL_WRONG_VERSION_NUMBER") &&
    NOT_TLS.test(message)
  )
    return "the server does not speak TLS on this port (a plain http server? then use ws://, not wss://)";
  if (!secure && error.code === "ECONNRESET")
    return `the server closed the connection without answering the handshake (no WebSocket endpoint at this path, or a TLS server: then use wss://) (${message})`;
  if (error.code === "ECONNREFUSED") return `connection refused (${message})`;
  if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") return `host not found (${message})`;
  if (error.code !== undefined && CERTIFICATE_ERRORS.has(error.code))
    return `${message} (use --insecure to accept it)`;
  return message;
}
