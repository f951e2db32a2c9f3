import { randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { HandshakeError, type WebSocketOptions } from "../index.js";
import { UsageError } from "./args.js";

// What `connect` and `bench` share about the server they talk to: reading the URL from the command line,
// and explaining in one line why a connection could not be made.

/** Parses a ws://, wss://, http:// or https:// URL; anything else is a usage error. */
export function parseTarget(raw: string | undefined): URL {
  if (raw === undefined) throw new UsageError("missing URL (like ws://localhost:8080/)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`invalid URL ${JSON.stringify(raw)} (expected something like ws://localhost:8080/)`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new UsageError(`invalid URL ${JSON.stringify(raw)}: the scheme must be ws, wss, http or https`);
  if (url.hash !== "" || raw.includes("#"))
    throw new UsageError(`invalid URL ${JSON.stringify(raw)}: a WebSocket URL has no #fragment`);
  if (url.hostname === "") throw new UsageError(`invalid URL ${JSON.stringify(raw)}: no host`);
  return url;
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
  return { url: parseTarget(positionals[0]), options };
}

/** Parses a `Name: value` header flag. */
export function headerLine(raw: string): [string, string] {
  const colon = raw.indexOf(":");
  if (colon <= 0) throw new Error('expected "Name: value"');
  return [raw.slice(0, colon).trim(), raw.slice(colon + 1).trim()];
}

export interface ProbeOptions {
  protocols?: string[];
  headers?: Record<string, string>;
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
      ...options.headers,
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
      done(`the server answered HTTP ${response.statusCode} ${response.statusMessage ?? ""}`.trimEnd());
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
    request.on("error", (error: NodeJS.ErrnoException) => done(describeNetworkError(error)));
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
  switch (error.code) {
    case "SJ_ERR_TLS_FAILED":
      return cause?.code !== undefined && CERTIFICATE_ERRORS.has(cause.code)
        ? `${error.message} (use --insecure to accept it)`
        : error.message;
    case "SJ_ERR_INVALID_HANDSHAKE":
      return `the server's handshake answer was not acceptable: ${error.message}`;
    default:
      return error.message;
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

function describeNetworkError(error: NodeJS.ErrnoException): string {
  const message = error.message.split("\n")[0];
  if (error.code === "ECONNREFUSED") return `connection refused (${message})`;
  if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN") return `host not found (${message})`;
  if (error.code !== undefined && CERTIFICATE_ERRORS.has(error.code))
    return `${message} (use --insecure to accept it)`;
  return message;
}
