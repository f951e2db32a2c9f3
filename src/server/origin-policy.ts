import type { IncomingMessage } from "node:http";
import { isIPv4, isIPv6 } from "node:net";

// Which web pages may open a WebSocket to this server. Browsers let any page open a WebSocket to any host and
// send the user's cookies with it; only the server can refuse, by the `Origin` header the browser sets
// (RFC 6455 §4.2.1 item 7, §10.2; "cross-site WebSocket hijacking"). A request without an Origin does not
// come from a browser page: a non-browser client can send any header it likes, so authentication, not the
// Origin, is what keeps those out.

/**
 * "*": any origin (the default, as in ws). "same-origin": a page served from the host and port the request
 * was sent to (an https: page when it came over TLS). A list: each entry "same-origin", "*" or an origin such as "https://app.example.com". A
 * function: its own decision, given the Origin ("" when there is none) and the request.
 */
export type OriginsOption =
  | "*"
  | "same-origin"
  | readonly string[]
  | ((origin: string, request: IncomingMessage) => boolean);

/** Decides whether the request's Origin may connect. */
export type OriginCheck = (request: IncomingMessage) => boolean;

/** The check for `option`, or null when every origin is allowed. Throws a TypeError for a malformed option. */
export function compileOrigins(option: OriginsOption | undefined): OriginCheck | null {
  if (option === undefined || option === "*") return null;
  if (typeof option === "function") {
    return (request) => {
      const origin = request.headers.origin;
      return option(typeof origin === "string" ? origin : "", request) === true;
    };
  }
  const entries = option === "same-origin" ? [option] : option;
  if (!Array.isArray(entries)) {
    throw new TypeError("options.origins must be '*', 'same-origin', a list of origins or a function");
  }
  let allowSameOrigin = false;
  const listed = new Set<string>();
  for (const entry of entries) {
    if (entry === "*") return null;
    if (entry === "same-origin") allowSameOrigin = true;
    else listed.add(normalizeOriginEntry(entry));
  }
  return (request) => {
    const origin = request.headers.origin;
    // No Origin: not a browser page (browsers send it on every WebSocket handshake, WHATWG Fetch).
    if (origin === undefined) return true;
    if (typeof origin !== "string") return false;
    const parsed = parseOrigin(origin);
    if (listed.has(parsed === null ? origin.toLowerCase() : parsed.origin)) return true;
    return (
      allowSameOrigin &&
      parsed !== null &&
      // RFC 6454 §5: an origin is scheme, host and port. Over TLS, a page of this server is an https: one;
      // an http: page at the same host and port is one a network attacker can serve (RFC 6455 §10.2). Over
      // plain TCP either scheme passes: a proxy in front may have ended TLS.
      (parsed.protocol === "https:" || !arrivedOverTls(request)) &&
      isSameOrigin(parsed, request.headers.host)
    );
  };
}

/** The request came to this server over TLS (HTTP/1.1 over a TLSSocket, or HTTP/2 over TLS). */
function arrivedOverTls(request: IncomingMessage): boolean {
  return (request.socket as { encrypted?: boolean } | null)?.encrypted === true;
}

/** An allowed origin as the browser serializes it: scheme://host[:port], lowercase, default port omitted. */
function normalizeOriginEntry(entry: unknown): string {
  const invalid = () =>
    new TypeError(`options.origins: ${JSON.stringify(entry)} is not an origin (scheme://host[:port])`);
  if (typeof entry !== "string") throw invalid();
  // The opaque origin of a sandboxed page or a file: URL, as the browser sends it.
  if (entry === "null") return entry;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw invalid();
  }
  // A scheme with no default host semantics (a browser extension's): compared as written.
  if (url.origin === "null") {
    if (/\s/.test(entry) || url.pathname.length > 1 || url.search !== "" || url.hash !== "") throw invalid();
    return entry.toLowerCase();
  }
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "") throw invalid();
  if (entry.includes("?") || entry.includes("#")) throw invalid();
  return url.origin;
}

/** A URL with a host (http, https, ws, wss), or null. */
function parseOrigin(value: string): URL | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.origin === "null" ? null : url;
}

/**
 * The Origin's host and port equal the request's Host (RFC 9110 §7.2). A Host without a port stands for the
 * default port of the Origin's scheme, so https://example.com matches `Host: example.com` behind a proxy that
 * ends TLS; the ports are compared after the scheme's default is normalized away (…:443 = …).
 */
export function isSameOrigin(origin: URL, hostHeader: string | undefined): boolean {
  const host = parseHostHeader(hostHeader, origin.protocol);
  return host !== null && host.hostname === origin.hostname && host.port === origin.port;
}

/** The Host header as a URL of `scheme` (hostname and port normalized), or null if it is not a bare host. */
function parseHostHeader(hostHeader: string | undefined, scheme = "http:"): URL | null {
  // uri-host [ ":" port ] only: anything that would make the URL parser read a path or userinfo is refused.
  if (hostHeader === undefined || hostHeader === "" || /[\s/\\@?#]/.test(hostHeader)) return null;
  try {
    return new URL(`${scheme}//${hostHeader}`);
  } catch {
    return null;
  }
}

/**
 * A Host that names this machine: localhost, *.localhost (RFC 6761 §6.3), an IPv4 literal in 127.0.0.0/8
 * (RFC 1122 §3.2.1.3), [::1] or an IPv4-mapped [::ffff:127.x.y.z] (RFC 4291 §2.5.3, §2.5.5.2). A DNS
 * rebinding attack makes a browser send the attacker's name as Host, never one of these; a name is matched
 * as a whole, never by prefix: 127.0.0.1.evil.test is a DNS name the attacker controls.
 */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  const host = parseHostHeader(hostHeader);
  if (host === null) return false;
  // The URL parser lowercases and normalizes: 127.1 and 0x7f.0.0.1 become 127.0.0.1, IPv6 is compressed.
  const name = host.hostname;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIPv4(name)) return name.startsWith("127.");
  if (!name.startsWith("[") || !name.endsWith("]")) return false;
  const ipv6 = name.slice(1, -1);
  // The serializer writes ::ffff:127.0.0.1 as ::ffff:7f00:1: the first hextet of the IPv4 part is 7fxx.
  return isIPv6(ipv6) && (ipv6 === "::1" || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(ipv6));
}

/** The host[:port] of an origin entry such as "https://app.example.com", or null. */
export function originHost(entry: string): string | null {
  return parseOrigin(entry)?.host ?? null;
}

/** A listening address on the loopback interface (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export function isLoopbackAddress(address: string): boolean {
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}
