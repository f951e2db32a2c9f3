import type { Socket } from "node:net";
import type { HandshakeError } from "../protocol/errors.js";
import type { LocalConnectOptions } from "./connect.js";
import { connectThroughHttpProxy } from "./http-connect.js";
import { proxyFromEnvironment } from "./proxy-env.js";
import { connectThroughSocks5 } from "./socks5.js";

// The Node-only `proxy` option: which proxy a connection goes through, and the tunnel to the target that the
// opening handshake then runs over (TLS end to end for wss:, so the proxy sees only encrypted bytes).
// Credentials are kept out of every message: a proxy is named by its `label` (scheme://host:port).

/** The `proxy` option in its long form: credentials and TLS settings apart from the URL. */
export interface ProxySettings {
  /** http://, https:// (TLS to the proxy, then CONNECT), socks5:// or socks5h:// (both resolve at the proxy). */
  url: string | URL;
  /** Basic (HTTP) or RFC 1929 (SOCKS5) credentials; they win over those in the URL. */
  username?: string;
  password?: string;
  /** For an https: proxy's certificate; default: the WebSocket's `ca` / `rejectUnauthorized`. */
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
}

/** The client's `proxy` option: a proxy URL (http:, https:, socks5:, socks5h:) or its settings. */
export type ProxyOption = string | URL | ProxySettings;

/** A proxy ready to dial: scheme, address, decoded credentials. */
export interface ResolvedProxy {
  scheme: "http" | "https" | "socks5";
  /** Without IPv6 brackets. */
  host: string;
  port: number;
  username: string;
  password: string;
  /** scheme://host:port: how messages name the proxy (never with its credentials). */
  label: string;
  tls: { ca?: ProxySettings["ca"]; rejectUnauthorized?: boolean };
  /** The local end of the connection to the proxy (the WebSocket's localAddress, family, lookup). */
  local?: LocalConnectOptions;
}

const SCHEMES: Record<string, { scheme: ResolvedProxy["scheme"]; port: number }> = {
  "http:": { scheme: "http", port: 80 },
  "https:": { scheme: "https", port: 443 },
  "socks5:": { scheme: "socks5", port: 1080 },
  "socks5h:": { scheme: "socks5", port: 1080 },
};

/**
 * The proxy for a connection to `target`: the `proxy` option when given, else (with `fromEnvironment`) the
 * environment's, else none; connected to with `local`. Throws a TypeError for a proxy that cannot be used;
 * `where` names its source.
 */
export function proxyFor(
  target: URL,
  option: ProxyOption | null | undefined,
  fromEnvironment: boolean | undefined,
  tls: ResolvedProxy["tls"],
  local: LocalConnectOptions = {},
): ResolvedProxy | null {
  if (option !== undefined && option !== null)
    return { ...resolveProxy(option, "options.proxy", tls), local };
  if (fromEnvironment !== true) return null;
  const found = proxyFromEnvironment(target, process.env);
  if (found === null) return null;
  return { ...resolveProxy(found.value, `the ${found.variable} environment variable`, tls), local };
}

/** Checks and normalizes a proxy; the TypeError names `where` but never echoes the URL (it may hold a password). */
export function resolveProxy(option: ProxyOption, where: string, tls: ResolvedProxy["tls"]): ResolvedProxy {
  const settings: ProxySettings =
    typeof option === "string" || option instanceof URL ? { url: option } : (option as ProxySettings);
  if (typeof settings !== "object" || settings === null || settings.url === undefined) {
    throw new TypeError(`${where} must be a URL string, a URL, or an object with a url`);
  }
  let url: URL;
  try {
    url = new URL(String(settings.url));
  } catch {
    throw new TypeError(`${where} is not a valid URL`);
  }
  const known = SCHEMES[url.protocol];
  if (known === undefined) {
    throw new TypeError(
      `${where}: unsupported proxy scheme ${JSON.stringify(url.protocol)} (use http:, https:, socks5: or socks5h:)`,
    );
  }
  if (url.hostname === "") throw new TypeError(`${where} has no host`);
  // A flag, as the WebSocket's own rejectUnauthorized (client-options.ts): Node's TLS reads "false" as true.
  if (settings.rejectUnauthorized !== undefined && typeof settings.rejectUnauthorized !== "boolean") {
    throw new TypeError(`${where}.rejectUnauthorized must be a boolean`);
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === "" ? known.port : Number(url.port);
  const username = settings.username ?? safeDecode(url.username, where);
  const password = settings.password ?? safeDecode(url.password, where);
  const label = `${url.protocol}//${url.host}`;
  if (known.scheme === "socks5" && (username !== "" || password !== "")) {
    // RFC 1929 §2: UNAME and PASSWD are 1 to 255 octets each.
    for (const [name, value] of [
      ["username", username],
      ["password", password],
    ]) {
      const length = Buffer.byteLength(value);
      if (length < 1 || length > 255) {
        throw new TypeError(`${where}: the SOCKS5 ${name} must be 1 to 255 bytes (RFC 1929), not ${length}`);
      }
    }
  }
  // RFC 7617 §2: a user-id containing a colon cannot be sent in Basic credentials.
  if (known.scheme !== "socks5" && username.includes(":")) {
    throw new TypeError(`${where}: a proxy username cannot contain ":" (RFC 7617 §2)`);
  }
  return {
    scheme: known.scheme,
    host,
    port,
    username,
    password,
    label,
    tls: {
      ca: settings.ca ?? tls.ca,
      rejectUnauthorized: settings.rejectUnauthorized ?? tls.rejectUnauthorized,
    },
  };
}

function safeDecode(text: string, where: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TypeError(`${where}: the credentials in the URL are not valid percent-encoding`);
  }
}

/** A tunnel being opened; abort() destroys whatever it has opened so far. */
export interface ProxyTunnel {
  abort(): void;
}

/**
 * Opens a byte stream to host:port through the proxy. Exactly one of the callbacks is called, unless the
 * tunnel is aborted first; `onOpen` gets a socket that carries the target's bytes and nothing else.
 */
export function openTunnel(
  proxy: ResolvedProxy,
  host: string,
  port: number,
  onOpen: (socket: Socket) => void,
  onFailure: (error: HandshakeError) => void,
): ProxyTunnel {
  return proxy.scheme === "socks5"
    ? connectThroughSocks5(proxy, host, port, onOpen, onFailure)
    : connectThroughHttpProxy(proxy, host, port, onOpen, onFailure);
}
