import { BlockList, isIP } from "node:net";

// The proxy environment variables, read as undici's EnvHttpProxyAgent reads them (so that fetch() and a
// WebSocket in one process agree), plus ALL_PROXY as curl reads it:
// - ws: uses http_proxy, wss: uses https_proxy and falls back to http_proxy; both fall back to all_proxy.
//   The lower-case form wins over the upper-case one; an empty value means none.
// - no_proxy (or NO_PROXY): entries separated by commas or white space; "*" alone turns proxying off; an entry
//   matches its host and every subdomain ("example.com", ".example.com" and "*.example.com" alike); "host:port"
//   matches that port only; IPv6 entries with a port are bracketed ("[::1]:8080").
// - An IP address with a prefix ("10.0.0.0/8", "fd00::/8") matches a target that is an IP literal of the same
//   family in that range, as curl >= 7.86 does; an invalid prefix matches nothing. A bare IP address matches
//   the same address however it is written ("0:0:0:0:0:0:0:1" is "::1"). Names are never resolved (nor by curl).

export interface EnvironmentProxy {
  /** The URL as found (it may hold credentials: never print it). */
  value: string;
  /** Which variable it came from, for messages. */
  variable: string;
}

type Environment = Record<string, string | undefined>;

/** The proxy the environment gives for `target`, or null when none applies. */
export function proxyFromEnvironment(target: URL, env: Environment): EnvironmentProxy | null {
  const names =
    target.protocol === "wss:" ? ["https_proxy", "http_proxy", "all_proxy"] : ["http_proxy", "all_proxy"];
  let found: EnvironmentProxy | null = null;
  for (const name of names) {
    found = variable(env, name);
    if (found !== null) break;
  }
  if (found === null) return null;
  const host = normalizeHost(target.hostname);
  const port = Number(target.port) || (target.protocol === "wss:" ? 443 : 80);
  return isExcluded(host, port, variable(env, "no_proxy")?.value ?? "") ? null : found;
}

/** The lower-case variable, else the upper-case one; an empty value counts as unset. */
function variable(env: Environment, lowerName: string): EnvironmentProxy | null {
  for (const name of [lowerName, lowerName.toUpperCase()]) {
    const value = env[name];
    if (value !== undefined && value !== "") return { value, variable: name };
  }
  return null;
}

/** Lower case, no IPv6 brackets, no trailing dot (RFC 1034: "example.com." is "example.com"). */
function normalizeHost(host: string): string {
  let out = host.toLowerCase();
  if (out.startsWith("[") && out.endsWith("]")) out = out.slice(1, -1);
  if (out.length > 1 && out.endsWith(".")) out = out.slice(0, -1);
  return out;
}

/** Whether no_proxy exempts host:port. */
export function isExcluded(host: string, port: number, noProxy: string): boolean {
  const value = noProxy.trim();
  if (value === "*") return true;
  for (const raw of value.split(/[,\s]+/)) {
    if (raw === "") continue;
    const entry = parseEntry(raw);
    if (entry.port !== 0 && entry.port !== port) continue;
    if (entry.host === "") continue;
    if (host === entry.host || host.endsWith(`.${entry.host}`)) return true;
    if (inRange(host, entry.host)) return true;
  }
  return false;
}

function parseEntry(raw: string): { host: string; port: number } {
  let host = raw;
  let port = 0;
  const bracketedWithPort = /^\[(.+)\]:(\d+)$/.exec(raw);
  if (bracketedWithPort !== null) {
    host = bracketedWithPort[1];
    port = Number(bracketedWithPort[2]);
  } else {
    host = raw.replace(/^\[(.+)\]$/, "$1");
    // A bare IPv6 address has several colons: only "name:port" (one colon) carries a port.
    const withPort = /^([^:]+):(\d+)$/.exec(host);
    if (withPort !== null) {
      host = withPort[1];
      port = Number(withPort[2]);
    }
  }
  host = host.replace(/^\*?\./, "");
  return { host: normalizeHost(host), port };
}

/**
 * Whether `host`, an IP literal, is in the range `entry` gives: "address/prefix" or a bare address (all its
 * bits). Only within one family: an IPv4 range does not match "::ffff:10.0.0.1" (nor does it in curl).
 */
function inRange(host: string, entry: string): boolean {
  const family = isIP(host);
  if (family === 0) return false;
  const slash = entry.indexOf("/");
  const address = slash === -1 ? entry : entry.slice(0, slash);
  if (isIP(address) !== family) return false;
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(bits) : entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return false;
  const type = family === 4 ? "ipv4" : "ipv6";
  const range = new BlockList();
  range.addSubnet(address, Number(prefixText), type);
  return range.check(host, type);
}
