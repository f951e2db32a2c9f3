// Header fields of an HTTP request or response head as Node hands them over: the parsed map
// (`IncomingMessage.headers`) and the flat `rawHeaders`. Lookups by ASCII case-insensitive name, the single
// and list forms RFC 9110 §5.3 defines, and the caps on a head's size (RFC 6585 §5). Pure functions.
import { asciiEqualsIgnoreCase, trimOws } from "./header-grammar.js";

/** A header map as Node gives it (`IncomingMessage.headers`): lowercase names, some duplicates as arrays. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * All values of a header, looked up by ASCII case-insensitive name over own keys only (so "constructor" or
 * "__proto__" never resolve to Object.prototype), arrays flattened and OWS-trimmed. Empty when absent.
 */
export function headerValues(headers: HeaderMap, lowerName: string): string[] {
  const out: string[] = [];
  for (const key of Object.keys(headers)) {
    if (key.length !== lowerName.length || !asciiEqualsIgnoreCase(key, lowerName)) continue;
    const v = headers[key];
    if (v === undefined || v === null) continue;
    // Node's parser gives strings; a request made by hand for handleUpgrade may hold numbers.
    if (typeof v === "string") out.push(trimOws(v));
    else if (Array.isArray(v)) {
      for (const item of v) if (item !== undefined && item !== null) out.push(trimOws(String(item)));
    } else out.push(trimOws(String(v)));
  }
  return out;
}

/**
 * A list-valued header: several fields are "logically the same as a single field that contains all values"
 * (RFC 9110 §5.3; RFC 6455 §11.3.2, §11.3.4), so they are joined with ", " like Node does. undefined when
 * absent.
 */
export function listHeader(headers: HeaderMap, lowerName: string): string | undefined {
  const values = headerValues(headers, lowerName);
  return values.length === 0 ? undefined : values.join(", ");
}

/** How many field lines of `rawHeaders` (name, value, name, value…) have this name. */
export function countFields(rawHeaders: readonly string[], lowerName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && asciiEqualsIgnoreCase(name, lowerName)) count++;
  }
  return count;
}

export type Single = { kind: "absent" } | { kind: "duplicate" } | { kind: "value"; value: string };

/**
 * A header that must appear once. Node joins repeated unknown headers with ", " into one string, so a comma
 * in a value that cannot legitimately contain one (a key, a version, an accept hash) means a duplicate.
 */
export function singleHeader(headers: HeaderMap, lowerName: string): Single {
  const values = headerValues(headers, lowerName);
  if (values.length === 0) return { kind: "absent" };
  if (values.length > 1 || values[0]!.includes(",")) return { kind: "duplicate" };
  return { kind: "value", value: values[0]! };
}

/** A header map as Node's flat `rawHeaders` (`[name, value, name, value, …]`), arrays as repeated fields. */
export function rawHeadersOf(headers: HeaderMap | undefined): string[] {
  const raw: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value])
      if (item !== undefined && item !== null) raw.push(name, String(item));
  }
  return raw;
}

/**
 * Caps the request head before any parsing: `rawHeaders` is Node's flat `[name, value, name, value, …]`.
 * A field is counted as it is on the wire, `name: value\r\n` (name + value + 4 bytes); Node decodes headers
 * as latin1, so string length equals byte length. Too many or too large → 431 Request Header Fields Too
 * Large (RFC 6585 §5).
 */
export function checkHeaderLimits(
  rawHeaders: readonly string[],
  limits: { maxHeaderCount: number; maxHeaderBytes: number },
): { ok: true } | { ok: false; status: 431; reason: string } {
  const count = Math.ceil(rawHeaders.length / 2);
  if (count > limits.maxHeaderCount) {
    return { ok: false, status: 431, reason: `Too many header fields (limit ${limits.maxHeaderCount})` };
  }
  let bytes = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    bytes += rawHeaders[i]!.length + (rawHeaders[i + 1]?.length ?? 0) + 4;
    if (bytes > limits.maxHeaderBytes) {
      return {
        ok: false,
        status: 431,
        reason: `Header fields too large (limit ${limits.maxHeaderBytes} bytes)`,
      };
    }
  }
  return { ok: true };
}
