import { isToken } from "../protocol/header-grammar.js";
import { toDOMString, toSequence, toUSVString } from "./webidl.js";

// The checks of `new WebSocket(url, protocols)` (WHATWG WebSockets §"The WebSocket interface", constructor
// steps 1–10), before anything touches the network. Every failure is a "SyntaxError" DOMException.

export function parseConstructorArguments(
  url: unknown,
  protocols: unknown,
  baseURL: string | URL | undefined,
): { record: URL; protocols: string[] } {
  const urlString = toUSVString(url);
  const protocolList = toProtocolList(protocols);

  // "new WebSocket(url, protocols)" steps 1–7.
  // 1–3. Parse url against the base URL; failure → SyntaxError.
  let record: URL;
  try {
    record = new URL(urlString, baseURL ?? undefined);
  } catch {
    // Node-only: a base that is itself no URL is named, not the URL resolved against it.
    const badBase = baseURL !== undefined && baseURL !== null && !URL.canParse(String(baseURL));
    throw new DOMException(
      badBase
        ? `The URL '${urlString}' is invalid: its base, the baseURL option '${String(baseURL)}', is not an absolute URL.`
        : `The URL '${urlString}' is invalid.`,
      "SyntaxError",
    );
  }
  // 4–5. http → ws, https → wss.
  if (record.protocol === "http:") record.protocol = "ws:";
  else if (record.protocol === "https:") record.protocol = "wss:";
  // 6. Other schemes → SyntaxError.
  if (record.protocol !== "ws:" && record.protocol !== "wss:") {
    throw new DOMException(
      `The URL's scheme must be 'ws' or 'wss'; '${record.protocol}' is not allowed.`,
      "SyntaxError",
    );
  }
  // 7. A fragment → SyntaxError.
  if (record.hash !== "" || urlString.includes("#")) {
    throw new DOMException(`The URL contains a fragment identifier ('${record.hash}').`, "SyntaxError");
  }
  // 9–10. Duplicates or values that are not tokens (RFC 6455 §4.1 Sec-WebSocket-Protocol) → SyntaxError.
  // Duplicates are found ASCII case-insensitively, as browsers do (WPT
  // websockets/Create-protocols-repeated-case-insensitive: ["echo", "eCho"] throws).
  const seen = new Set<string>();
  for (const p of protocolList) {
    if (!isToken(p)) {
      // An options object given as the second argument (ws's place for them) reads as "[object Object]".
      const hint =
        typeof protocols === "object" &&
        protocols !== null &&
        !Array.isArray(protocols) &&
        p.startsWith("[object ")
          ? optionsGoThird("WebSocket")
          : "";
      throw new DOMException(`The subprotocol '${p}' is invalid.${hint}`, "SyntaxError");
    }
    const folded = p.toLowerCase();
    if (seen.has(folded)) throw new DOMException(`The subprotocol '${p}' is duplicated.`, "SyntaxError");
    seen.add(folded);
  }
  return { record, protocols: protocolList };
}

/** The hint for options given as the second argument (ws's place for them), which read as "[object Object]". */
export function optionsGoThird(constructorName: string): string {
  return ` (options go in the third argument: new ${constructorName}(url, protocols, options))`;
}

/**
 * The page a WebSocket is created in, where the global object has a `location` (Deno's `--location`, test
 * harnesses, embedders): the standard resolves relative URLs against the settings object's API base URL
 * ("new WebSocket(url, protocols)" step 2) and sends the settings object's origin as `Origin` (Fetch
 * §3.1 "origin header"). Plain Node has no page: null.
 */
export function pageLocation(): { href: string; origin: string } | null {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  if (location === undefined || location === null || location.href === undefined) return null;
  try {
    const url = new URL(String(location.href));
    return { href: url.href, origin: url.origin };
  } catch {
    return null;
  }
}

/**
 * The Origin to send: the `origin` option, else an Origin in `headers` (sent as given), else the page's
 * origin where there is a page (WPT websockets/opening-handshake/003-sets-origin), else none.
 */
export function originToSend(
  option: string | undefined,
  headers: Record<string, string>,
  page: { origin: string } | null,
): string | undefined {
  if (option !== undefined) return option;
  if (page === null || Object.keys(headers).some((name) => name.toLowerCase() === "origin")) return undefined;
  return page.origin;
}

/**
 * WebIDL §3.2.24 (ES → union) for `optional (DOMString or sequence<DOMString>) protocols = []`: an object
 * with an @@iterator is a sequence; any other value, including an object without one, is a DOMString.
 */
/** WebIDL's conversion of the protocols argument, (DOMString or sequence<DOMString>), default []. */
export function toProtocolList(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  if ((typeof protocols === "object" && protocols !== null) || typeof protocols === "function") {
    // GetMethod(V, @@iterator): undefined or null means "not a sequence"; anything else must be callable.
    const method = (protocols as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (method !== undefined && method !== null) return toSequence(protocols, toDOMString, "protocols");
  }
  return [toDOMString(protocols)];
}
