/**
 * HTTP header grammar helpers for the WebSocket opening handshake (RFC 9110 §5, RFC 6455 §4 and §9.1).
 *
 * Every function here is a single left-to-right scan over char codes: no regular expressions, no
 * backtracking, no nested rescans, so the cost is O(n) in the input length whatever the input looks like
 * (ws's CVE-2021-32640 was a backtracking regex on Sec-WebSocket-Protocol).
 *
 * Header values are treated as Node delivers them: latin1 strings, one char per byte. A char code above
 * 0xFF cannot come off the wire and is rejected everywhere.
 */

/** One `Sec-WebSocket-Extensions` element: `name; p1=v1; p2` → `{ name, params: [["p1","v1"],["p2",true]] }`. */
export type ExtensionOffer = {
  name: string;
  /** In wire order; duplicates are kept so that the caller (the extension) can reject them. */
  params: Array<[name: string, value: string | true]>;
};

const HTAB = 0x09;
const SP = 0x20;
const DQUOTE = 0x22;
const COMMA = 0x2c;
const SLASH = 0x2f;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;
const DEL = 0x7f;

/**
 * RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
 * / "~" / DIGIT / ALPHA. Indexed by char code (0..127); 1 means tchar.
 */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1; // DIGIT
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1; // ALPHA upper
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1; // ALPHA lower

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** RFC 9110 §5.6.3: OWS = *( SP / HTAB ). */
function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

/** RFC 9110 §5.6.2: token = 1*tchar. */
export function isToken(s: string): boolean {
  const n = s.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}

/** RFC 9110 §5.1: field-name = token. */
export function isValidHeaderName(s: string): boolean {
  return isToken(s);
}

/**
 * RFC 9110 §5.5: field-value = *field-content; field-content = field-vchar [ 1*( SP / HTAB / field-vchar )
 * field-vchar ]; field-vchar = VCHAR / obs-text.
 *
 * Rejects CR, LF and NUL (the §5.5 "invalid and dangerous" chars: header injection) and every other CTL
 * except HTAB, and DEL. obs-text (0x80–0xFF) is accepted. The empty value is valid.
 *
 * Leading or trailing SP/HTAB is rejected: by the grammar a field value has none (§5.5: "a field value does
 * not include leading or trailing whitespace"). A caller holding user input should strip it first with
 * {@link trimOws} — the same normalization Fetch applies before validating a header value.
 */
export function isValidHeaderValue(s: string): boolean {
  const n = s.length;
  if (n === 0) return true;
  if (isOws(s.charCodeAt(0)) || isOws(s.charCodeAt(n - 1))) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === HTAB) continue;
    if (c < SP || c === DEL || c > 0xff) return false; // includes NUL, LF, CR
  }
  return true;
}

/** Strips leading and trailing OWS (SP / HTAB, RFC 9110 §5.6.3). */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Scans a comma-separated list per the RFC 9110 §5.6.1 #rule: `[ element ] *( OWS "," OWS [ element ] )`.
 * Empty elements (`a,,b`, `, a`) are accepted, as recipients MUST (§5.6.1.2), and dropped.
 * `element` returns the end index of a valid element starting at `start` (stopping at `end`), or -1.
 * Each element is kept as the exact substring, case preserved.
 */
function scanList(
  value: string,
  element: (s: string, start: number, end: number) => number,
): string[] | null {
  const out: string[] = [];
  const n = value.length;
  let i = 0;
  for (;;) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (i === n) return out;
    if (value.charCodeAt(i) !== COMMA) {
      const stop = element(value, i, n);
      if (stop <= i) return null;
      out.push(value.slice(i, stop));
      i = stop;
      while (i < n && isOws(value.charCodeAt(i))) i++;
      if (i === n) return out;
      if (value.charCodeAt(i) !== COMMA) return null;
    }
    i++; // the comma
  }
}

/** Returns the end of the run of tchars starting at `start` (== start when there is none). */
function scanToken(s: string, start: number, end: number): number {
  let i = start;
  while (i < end && isTchar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Parses a comma-separated token list (RFC 9110 §5.6.1 #rule of tokens), such as `Connection: keep-alive,
 * Upgrade` (RFC 9110 §7.6.1). Case is preserved; empty elements are skipped; `""` gives `[]`.
 * Returns null if any element is not a token (e.g. `keep alive`, `a/b`, control chars).
 */
export function parseTokenList(value: string): string[] | null {
  return scanList(value, scanToken);
}

/**
 * Parses an `Upgrade` header (RFC 9110 §7.8): `1#protocol; protocol = protocol-name ["/" protocol-version]`,
 * both tokens. Returns the elements as written (e.g. `["websocket"]`, `["HTTP/2.0", "websocket"]`), empty
 * elements skipped; null if malformed.
 */
export function parseUpgradeList(value: string): string[] | null {
  return scanList(value, (s, start, end) => {
    let i = scanToken(s, start, end);
    if (i === start) return -1;
    if (i < end && s.charCodeAt(i) === SLASH) {
      const versionStart = i + 1;
      i = scanToken(s, versionStart, end);
      if (i === versionStart) return -1;
    }
    return i;
  });
}

/**
 * Parses a client's `Sec-WebSocket-Protocol` (RFC 6455 §11.3.4: `Sec-WebSocket-Protocol-Client = 1#token`;
 * §4.1 item 10: the elements "MUST all be unique strings"). Several header lines must be joined with ", "
 * first (§11.3.4: multiple fields are logically one field).
 *
 * Returns null if an element is not a token, if the list has no element (`1#`), or if a name repeats
 * (compared exactly: subprotocol names are case-sensitive strings, as in the WHATWG constructor).
 */
export function parseProtocolList(value: string): string[] | null {
  const list = scanList(value, scanToken);
  if (list === null || list.length === 0) return null;
  const seen = new Set<string>();
  for (const p of list) {
    if (seen.has(p)) return null;
    seen.add(p);
  }
  return list;
}

/**
 * Parses `Sec-WebSocket-Extensions` per RFC 6455 §9.1:
 *
 *     extension-list = 1#extension
 *     extension = extension-token *( ";" extension-param )
 *     extension-param = token [ "=" (token | quoted-string) ]
 *
 * "When using the quoted-string syntax variant, the value after quoted-string unescaping MUST conform to
 * the 'token' ABNF" (§9.1), so `x="10"` gives `["x", "10"]` and `x=""` or `x="a b"` is invalid.
 * RFC 6455 uses RFC 2616's implied *LWS (§2.1), so OWS is allowed around `,`, `;` and `=`.
 * Empty list elements are skipped (RFC 9110 §5.6.1.2); an empty parameter (`a;;b`, `a;`) is invalid.
 *
 * Returns null on any syntax error or if the list has no extension. Names and values keep their case;
 * duplicate extensions (alternative offers, §9.1) and duplicate parameters are kept for the caller.
 */
export function parseExtensionOffers(value: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  for (;;) {
    // Between elements: OWS and empty elements.
    while (i < n) {
      const c = value.charCodeAt(i);
      if (isOws(c) || c === COMMA) i++;
      else break;
    }
    if (i === n) break;

    let stop = scanToken(value, i, n);
    if (stop === i) return null;
    const offer: ExtensionOffer = { name: value.slice(i, stop), params: [] };
    out.push(offer);
    i = stop;

    // *( OWS ";" OWS param ) then OWS, then "," or end.
    for (;;) {
      while (i < n && isOws(value.charCodeAt(i))) i++;
      if (i === n) break;
      const c = value.charCodeAt(i);
      if (c === COMMA) break;
      if (c !== SEMICOLON) return null;
      i++;
      while (i < n && isOws(value.charCodeAt(i))) i++;
      stop = scanToken(value, i, n);
      if (stop === i) return null;
      const paramName = value.slice(i, stop);
      i = stop;
      while (i < n && isOws(value.charCodeAt(i))) i++;
      if (i === n || value.charCodeAt(i) !== EQUALS) {
        offer.params.push([paramName, true]);
        continue;
      }
      i++; // "="
      while (i < n && isOws(value.charCodeAt(i))) i++;
      if (i < n && value.charCodeAt(i) === DQUOTE) {
        // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4). The unescaped content
        // must be a token (§9.1), so qdtext and the escaped char are both held to tchar; that also rules
        // out the CTLs, SP/HTAB and obs-text the wider quoted-string grammar would let through.
        i++;
        let unescaped = "";
        let runStart = i;
        for (;;) {
          if (i === n) return null; // unterminated
          const q = value.charCodeAt(i);
          if (q === DQUOTE) break;
          if (q === BACKSLASH) {
            if (i + 1 === n || !isTchar(value.charCodeAt(i + 1))) return null;
            unescaped += value.slice(runStart, i);
            runStart = i + 1; // the escaped char starts the next run
            i += 2;
          } else if (isTchar(q)) {
            i++;
          } else {
            return null;
          }
        }
        unescaped += value.slice(runStart, i);
        i++; // closing DQUOTE
        if (unescaped.length === 0) return null; // token is 1*tchar
        offer.params.push([paramName, unescaped]);
      } else {
        stop = scanToken(value, i, n);
        if (stop === i) return null;
        offer.params.push([paramName, value.slice(i, stop)]);
        i = stop;
      }
    }
    if (i === n) break;
    i++; // the comma
  }
  return out.length === 0 ? null : out;
}

/**
 * Serializes offers to a `Sec-WebSocket-Extensions` value: `a; p=1; q, b`. Values are written as bare
 * tokens (§9.1 values are tokens, so quoting never needed). Throws TypeError on a name or value that is
 * not a token, so a header can never be built from invalid input.
 */
export function formatExtensionOffers(offers: readonly ExtensionOffer[]): string {
  let out = "";
  for (let k = 0; k < offers.length; k++) {
    const offer = offers[k]!;
    if (!isToken(offer.name)) throw new TypeError(`Invalid extension name: ${JSON.stringify(offer.name)}`);
    if (k > 0) out += ", ";
    out += offer.name;
    for (const [name, value] of offer.params) {
      if (!isToken(name)) throw new TypeError(`Invalid extension parameter name: ${JSON.stringify(name)}`);
      out += `; ${name}`;
      if (value === true) continue;
      if (!isToken(value)) {
        throw new TypeError(`Invalid value for extension parameter ${name}: ${JSON.stringify(value)}`);
      }
      out += `=${value}`;
    }
  }
  return out;
}

/** ASCII case-insensitive equality (no Unicode case folding), as RFC 6455 §4 "ASCII case-insensitive". */
export function asciiEqualsIgnoreCase(a: string, b: string): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}
