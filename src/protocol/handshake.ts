/**
 * RFC 6455 §4 opening-handshake helpers: key generation and accept computation, the server's validation of
 * the client's request (§4.2.1) and the client's validation of the server's response (§4.1, plus the WHATWG
 * "establish a WebSocket connection" rules). Pure functions over plain data: no sockets, no timers.
 */
import { createHash, randomBytes } from "node:crypto";
import { HANDSHAKE_GUID } from "./constants.js";
import { countFields, type HeaderMap, headerValues, listHeader, singleHeader } from "./header-fields.js";
import {
  asciiEqualsIgnoreCase,
  type ExtensionOffer,
  parseExtensionOffers,
  parseProtocolList,
  parseTokenList,
  parseUpgradeList,
} from "./header-grammar.js";

export type { HeaderMap } from "./header-fields.js";

export type UpgradeRequest = {
  method: string;
  /** `IncomingMessage.httpVersion` ("1.1"). Checked when given (§4.2.1 item 1: HTTP/1.1 or higher). */
  httpVersion?: string;
  headers: HeaderMap;
  /**
   * `IncomingMessage.rawHeaders`, when given: Node keeps only the first of repeated Host fields in `headers`,
   * so a second one is seen only here.
   */
  rawHeaders?: readonly string[];
};

export type ValidateUpgradeRequestOptions = {
  /** §4.2.1 item 2 requires a Host header. Default true. */
  requireHost?: boolean;
};

export type UpgradeRequestResult =
  | { ok: true; key: string; protocols: string[]; extensions: ExtensionOffer[] }
  | { ok: false; status: number; reason: string; headers?: Record<string, string> };

export type UpgradeResponse = { statusCode: number; headers: HeaderMap };

export type ExpectedUpgrade = {
  /** The Sec-WebSocket-Key the client sent. */
  key: string;
  /** The subprotocols the client sent in Sec-WebSocket-Protocol (empty: header not sent). */
  offeredProtocols: string[];
  /** The extension names the client offered in Sec-WebSocket-Extensions. */
  offeredExtensions: string[];
  /**
   * WHATWG fails the connection when protocols were offered and the response selects none; RFC 6455 alone
   * allows it (the server "MAY" omit the header). true accepts such a response with protocol "". Default false.
   */
  allowMissingProtocol?: boolean;
};

export type UpgradeResponseResult =
  | { ok: true; protocol: string; extensions: ExtensionOffer[] }
  | { ok: false; reason: string };

/** The only protocol version this library speaks (RFC 6455 §4.1 item 9, §11.6). */
export const WEBSOCKET_VERSION = "13";

/** RFC 6455 §4.1 item 7: a nonce of 16 random bytes, base64-encoded. */
export function generateKey(): string {
  return randomBytes(16).toString("base64");
}

/** RFC 6455 §4.2.2 item 5 (4th bullet) / §1.3: base64(SHA-1(key + GUID)). */
export function computeAccept(key: string): string {
  return createHash("sha1")
    .update(key + HANDSHAKE_GUID, "latin1")
    .digest("base64");
}

function isBase64Char(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2b || // +
    c === 0x2f // /
  );
}

/**
 * RFC 6455 §4.2.1 item 5 / §11.3.1: a base64 value that decodes to exactly 16 bytes, i.e. exactly
 * `[A-Za-z0-9+/]{22}==`. The 4 pad bits in the 22nd char are not required to be zero (lenient decoding,
 * RFC 4648 §3.5), so any 22nd alphabet char is accepted.
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24) return false;
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  return key.charCodeAt(22) === 0x3d && key.charCodeAt(23) === 0x3d;
}

function containsIgnoreCase(list: readonly string[], wanted: string): boolean {
  for (const item of list) if (asciiEqualsIgnoreCase(item, wanted)) return true;
  return false;
}

/** RFC 6455 §11.3.5: version = DIGIT | (NZDIGIT DIGIT) | ("1" DIGIT DIGIT) | ("2" DIGIT DIGIT), i.e. 0–255. */
function isVersionSyntax(v: string): boolean {
  const n = v.length;
  if (n === 0 || n > 3) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  if (n > 1 && v.charCodeAt(0) === 0x30) return false; // no leading zero
  return Number(v) <= 255;
}

/** `IncomingMessage.httpVersion` ("1.1", "1.0", "2.0") is HTTP/1.1 or higher. */
function isHttp11OrHigher(version: string): boolean {
  const dot = version.indexOf(".");
  if (dot <= 0 || dot === version.length - 1) return false;
  const major = version.slice(0, dot);
  const minor = version.slice(dot + 1);
  for (const part of [major, minor]) {
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return false;
    }
  }
  const maj = Number(major);
  return maj > 1 || (maj === 1 && Number(minor) >= 1);
}

function reject(status: number, reason: string, headers?: Record<string, string>): UpgradeRequestResult {
  return headers === undefined ? { ok: false, status, reason } : { ok: false, status, reason, headers };
}

const VERSION_HEADERS = { "Sec-WebSocket-Version": WEBSOCKET_VERSION } as const;

/**
 * The server's check of a client's opening handshake, RFC 6455 §4.2.1. On failure, `status`, `reason` and
 * `headers` are the HTTP response to send (§4.2.1: "return an HTTP response with an appropriate error code
 * (such as 400 Bad Request)").
 *
 * Checks run in this order: method, HTTP version, no body (Transfer-Encoding, Content-Length), Host, Upgrade, Connection, Sec-WebSocket-Version,
 * Sec-WebSocket-Key, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions. The version is checked before the key
 * so that a client speaking another draft (which may not send a §4.1 key) is told which version to use.
 * Origin (§4.2.1 item 7) is the server layer's policy and is not checked here.
 */
export function validateUpgradeRequest(
  req: UpgradeRequest,
  opts: ValidateUpgradeRequestOptions = {},
): UpgradeRequestResult {
  const headers = req.headers ?? {};

  // §4.2.1 item 1: "An HTTP/1.1 or higher GET request". Another method gets 405, which RFC 9110 §15.5.6
  // defines for a method the resource does not support and which MUST carry an Allow header.
  if (req.method !== "GET") return reject(405, "Method must be GET", { Allow: "GET" });
  if (req.httpVersion !== undefined && !isHttp11OrHigher(req.httpVersion)) {
    return reject(400, "HTTP version must be 1.1 or higher");
  }

  // §4.1 item 2 / §4.2.1 item 1: the opening handshake is a GET, and a GET has no body here; a body framed
  // by Content-Length or Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1) would be read as WebSocket frames
  // after the 101 (smuggled in an HTTP request a proxy let through).
  if (headerValues(headers, "transfer-encoding").length > 0) {
    return reject(400, "An upgrade request has no body: Transfer-Encoding not allowed");
  }
  if (headerValues(headers, "content-length").some((length) => length !== "0")) {
    return reject(400, "An upgrade request has no body: Content-Length must be 0");
  }

  // §4.2.1 item 2: "A |Host| header field containing the server's authority."
  if (opts.requireHost !== false) {
    const host = singleHeader(headers, "host");
    if (host.kind !== "value" || host.value === "") return reject(400, "Missing or invalid Host header");
    // RFC 9112 §3.2: a request with more than one Host field line gets 400.
    if (req.rawHeaders !== undefined && countFields(req.rawHeaders, "host") > 1)
      return reject(400, "More than one Host header");
  }

  // §4.2.1 item 3: Upgrade contains "websocket", ASCII case-insensitive. Upgrade is a list (RFC 9110 §7.8).
  const upgrade = listHeader(headers, "upgrade");
  const upgradeList = upgrade === undefined ? null : parseUpgradeList(upgrade);
  if (upgradeList === null || !containsIgnoreCase(upgradeList, "websocket")) {
    return reject(400, "Missing or invalid Upgrade header: must contain websocket");
  }

  // §4.2.1 item 4: Connection contains the token "Upgrade", ASCII case-insensitive.
  const connection = listHeader(headers, "connection");
  const connectionList = connection === undefined ? null : parseTokenList(connection);
  if (connectionList === null || !containsIgnoreCase(connectionList, "upgrade")) {
    return reject(400, "Missing or invalid Connection header: must contain Upgrade");
  }

  const versionRefusal = checkVersion(headers);
  if (versionRefusal !== null) return versionRefusal;

  // §4.2.1 item 5 / §11.3.1: Sec-WebSocket-Key, once, base64 of 16 bytes.
  const key = singleHeader(headers, "sec-websocket-key");
  if (key.kind === "absent") return reject(400, "Missing Sec-WebSocket-Key header");
  if (key.kind === "duplicate") return reject(400, "Sec-WebSocket-Key must appear once");
  if (!isValidKey(key.value)) return reject(400, "Invalid Sec-WebSocket-Key header");

  const offers = parseOffers(headers);
  if ("ok" in offers) return offers;

  return { ok: true, key: key.value, ...offers };
}

/**
 * §4.2.1 item 6: Sec-WebSocket-Version must be 13. §4.2.2 item 4 and §4.4: a version the server does not
 * speak gets an error such as 426 Upgrade Required plus the Sec-WebSocket-Version the server speaks. A
 * repeated header or a value outside the §11.3.5 grammar (which allows one version) is malformed: 400.
 * Null when the version is right. (HTTP/1.1 upgrade and RFC 8441 §5 alike; validateExtendedConnect makes the
 * 426 a 400.)
 */
function checkVersion(headers: HeaderMap): UpgradeRequestResult | null {
  const version = singleHeader(headers, "sec-websocket-version");
  if (version.kind === "duplicate") {
    return reject(400, "Sec-WebSocket-Version must appear once", { ...VERSION_HEADERS });
  }
  if (version.kind === "value" && !isVersionSyntax(version.value)) {
    return reject(400, "Invalid Sec-WebSocket-Version header", { ...VERSION_HEADERS });
  }
  if (version.kind === "absent" || version.value !== WEBSOCKET_VERSION) {
    return reject(426, "Unsupported WebSocket version: Sec-WebSocket-Version must be 13", {
      ...VERSION_HEADERS,
    });
  }
  return null;
}

/**
 * The client's offers: §4.2.1 item 8 / §11.3.4, an optional Sec-WebSocket-Protocol = 1#token, unique (§4.1
 * item 10); §4.2.1 item 9 / §9.1, an optional Sec-WebSocket-Extensions = 1#extension. A refusal when either
 * is malformed.
 */
function parseOffers(
  headers: HeaderMap,
): { protocols: string[]; extensions: ExtensionOffer[] } | UpgradeRequestResult {
  let protocols: string[] = [];
  const protocolHeader = listHeader(headers, "sec-websocket-protocol");
  if (protocolHeader !== undefined) {
    const parsed = parseProtocolList(protocolHeader);
    if (parsed === null) return reject(400, "Invalid Sec-WebSocket-Protocol header");
    protocols = parsed;
  }
  let extensions: ExtensionOffer[] = [];
  const extensionHeader = listHeader(headers, "sec-websocket-extensions");
  if (extensionHeader !== undefined) {
    const parsed = parseExtensionOffers(extensionHeader);
    if (parsed === null) return reject(400, "Invalid Sec-WebSocket-Extensions header");
    extensions = parsed;
  }
  return { protocols, extensions };
}

function fail(reason: string): UpgradeResponseResult {
  return { ok: false, reason };
}

/**
 * A header value of the server's, for a message: quoted, at most 100 characters, with every character outside
 * printable ASCII escaped (JSON.stringify leaves C1 controls such as U+009B CSI, which drive terminals that
 * print the message: review 152).
 */
const quote = (text = ""): string =>
  JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text).replace(
    /[^\x20-\x7e…]/g,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );

/**
 * The client's check of the server's opening handshake: RFC 6455 §4.1 "the client MUST validate the
 * server's response as follows" (checks 1–6) and WHATWG "establish a WebSocket connection". On success,
 * `protocol` is the selected subprotocol ("" for none) and `extensions` the extensions in use, with their
 * parameters, for the extension layer to validate.
 */
export function validateUpgradeResponse(
  res: UpgradeResponse,
  expected: ExpectedUpgrade,
): UpgradeResponseResult {
  const headers = res.headers;

  // §4.1 check 1 (WHATWG: "If response's status is not 101, fail the WebSocket connection").
  if (res.statusCode !== 101) return fail(`Unexpected response status ${res.statusCode}`);

  // §4.1 check 2: Upgrade present and "websocket", ASCII case-insensitive. Unlike the request, the response
  // value is the single protocol switched to (§4.2.2 item 5), so a list or repeat fails (as in Chromium).
  // What it has instead is said, as Chromium says it ("'Upgrade' header is missing").
  const upgrade = singleHeader(headers, "upgrade");
  if (upgrade.kind !== "value" || !asciiEqualsIgnoreCase(upgrade.value, "websocket")) {
    const has =
      upgrade.kind === "absent" ? "no Upgrade header" : `Upgrade: ${quote(listHeader(headers, "upgrade"))}`;
    return fail(`the 101 response is missing "Upgrade: websocket" (${has}; RFC 6455 §4.1)`);
  }

  // §4.1 check 3: Connection contains the token "Upgrade", ASCII case-insensitive.
  const connection = listHeader(headers, "connection");
  const connectionList = connection === undefined ? null : parseTokenList(connection);
  if (connectionList === null || !containsIgnoreCase(connectionList, "upgrade")) {
    const has = connection === undefined ? "no Connection header" : `Connection: ${quote(connection)}`;
    return fail(`the 101 response is missing "Connection: Upgrade" (${has}; RFC 6455 §4.1)`);
  }

  // §4.1 check 4: Sec-WebSocket-Accept equals base64(SHA-1(key + GUID)), compared exactly.
  const accept = singleHeader(headers, "sec-websocket-accept");
  if (accept.kind === "absent") return fail("Missing Sec-WebSocket-Accept header");
  if (accept.kind === "duplicate") return fail("Sec-WebSocket-Accept must appear once");
  if (accept.value !== computeAccept(expected.key))
    return fail("Sec-WebSocket-Accept does not match the key");
  return checkSelections(headers, expected);
}

/** §4.1 checks 5 and 6: the extensions and the subprotocol the server selected (over HTTP/1.1 or HTTP/2). */
function checkSelections(headers: HeaderMap, expected: ExpectedUpgrade): UpgradeResponseResult {
  // §4.1 check 5: every extension in use must be one the client offered (names compared exactly). The header
  // may be repeated (RFC 6455 erratum 3433), so repeats are joined. An extension named twice fails: the
  // response lists the extensions in use, and one extension cannot be in use twice (Chromium fails it too).
  let extensions: ExtensionOffer[] = [];
  const extensionHeader = listHeader(headers, "sec-websocket-extensions");
  if (extensionHeader !== undefined) {
    const parsed = parseExtensionOffers(extensionHeader);
    if (parsed === null) return fail("Invalid Sec-WebSocket-Extensions header in response");
    const seen = new Set<string>();
    for (const ext of parsed) {
      if (!expected.offeredExtensions.includes(ext.name)) {
        return fail(`Server selected extension ${ext.name} that the client did not offer`);
      }
      if (seen.has(ext.name)) return fail(`Server selected extension ${ext.name} more than once`);
      seen.add(ext.name);
    }
    extensions = parsed;
  }

  // §4.1 check 6: a subprotocol in the response must be one the client offered; §11.3.4: the server sends one
  // token, once. WHATWG adds: if protocols were offered and the response has none, fail the connection.
  let protocol = "";
  const protocolHeader = singleHeader(headers, "sec-websocket-protocol");
  if (protocolHeader.kind === "duplicate") return fail("Sec-WebSocket-Protocol must appear once in response");
  if (protocolHeader.kind === "value") {
    if (expected.offeredProtocols.length === 0) {
      return fail("Server sent Sec-WebSocket-Protocol but the client offered none");
    }
    if (!expected.offeredProtocols.includes(protocolHeader.value)) {
      return fail(`Server selected subprotocol ${JSON.stringify(protocolHeader.value)} that was not offered`);
    }
    protocol = protocolHeader.value;
  } else if (expected.offeredProtocols.length > 0 && expected.allowMissingProtocol !== true) {
    return fail(
      `server did not select any of the offered subprotocols (offered: ${expected.offeredProtocols.join(", ")})`,
    );
  }

  return { ok: true, protocol, extensions };
}

/**
 * The server's check of an RFC 8441 extended CONNECT (WebSockets over an HTTP/2 stream), given the stream's
 * header list (pseudo-headers included). §4: `:method` CONNECT, `:protocol` websocket, and unlike a plain
 * CONNECT `:scheme` and `:path` (and `:authority`); §5: no Upgrade, Connection or Sec-WebSocket-Key (HTTP/2
 * has no connection-specific fields, RFC 9113 §8.2.2) but Sec-WebSocket-Version, -Protocol and -Extensions
 * as in RFC 6455 §4.2.1. The returned `key` is "" (nothing to accept: the answer is `:status 200`).
 */
export function validateExtendedConnect(headers: HeaderMap): UpgradeRequestResult {
  const method = singleHeader(headers, ":method");
  if (method.kind !== "value" || method.value !== "CONNECT") {
    return reject(405, "Method must be CONNECT", { Allow: "CONNECT" });
  }
  const protocol = singleHeader(headers, ":protocol");
  if (protocol.kind !== "value" || !asciiEqualsIgnoreCase(protocol.value, "websocket")) {
    return reject(400, "The :protocol pseudo-header must be websocket");
  }
  const scheme = singleHeader(headers, ":scheme");
  if (scheme.kind !== "value" || (scheme.value !== "https" && scheme.value !== "http")) {
    return reject(400, "The :scheme pseudo-header must be http or https");
  }
  const path = singleHeader(headers, ":path");
  if (path.kind !== "value" || !path.value.startsWith("/")) return reject(400, "Missing or invalid :path");
  const authority = singleHeader(headers, ":authority");
  if (authority.kind !== "value" || authority.value === "") return reject(400, "Missing :authority");

  const versionRefusal = checkVersion(headers);
  // A 426 must name the protocol to switch to in Upgrade (RFC 9110 §15.5.22), a field HTTP/2 forbids (RFC 9113
  // §8.2.2): over HTTP/2 a version we do not speak is a 400, still with the Sec-WebSocket-Version we speak
  // (RFC 6455 §4.4).
  if (versionRefusal !== null && !versionRefusal.ok && versionRefusal.status === 426)
    return { ...versionRefusal, status: 400 };
  if (versionRefusal !== null) return versionRefusal;
  const offers = parseOffers(headers);
  if ("ok" in offers) return offers;
  return { ok: true, key: "", ...offers };
}

/**
 * The client's check of the answer to an RFC 8441 extended CONNECT: §5, `:status` 200 (a 101 is an HTTP/1.1
 * answer, and any other status refuses), no Sec-WebSocket-Accept to check (§5: the key is not used), then the
 * subprotocol and extensions as RFC 6455 §4.1 checks 5 and 6. `expected.key` is ignored.
 */
export function validateExtendedConnectResponse(
  res: UpgradeResponse,
  expected: ExpectedUpgrade,
): UpgradeResponseResult {
  if (res.statusCode !== 200) return fail(`Unexpected response status ${res.statusCode}`);
  return checkSelections(res.headers, expected);
}
