import { isIP } from "node:net";
import os from "node:os";
import type { WebSocketServerOptions } from "../index.js";
import { compileOrigins, isLoopbackHost, type OriginCheck, originHost } from "../server/origin-policy.js";

// Who may open a WebSocket on `sockjet serve` (issue 22 item 2). Any web page the user visits could otherwise
// join the chat and use the echo endpoint of a serve running on their machine (cross-site WebSocket
// hijacking), and a DNS-rebinding page, whose name resolves to this machine, passes an Origin check because
// its Origin and Host are both its own name. So by default: pages of the serve's own origin only, and only a
// Host that names this machine — whatever address serve listens on (with `--host 0.0.0.0` the rebinding
// page reaches it through any interface, loopback too: attack review, rebinding). `--allow-origin` widens
// both; `--allow-origin '*'` turns them off.
//
// A Host names this machine when it is a loopback name or address, an IP literal of one of its interfaces
// (os.networkInterfaces(), asked at each handshake: addresses come and go), the name serve was told to
// listen on (`--host myhost.example`), os.hostname() or its mDNS form `NAME.local`. An IP literal no
// interface has (a NAT's public address, a container's host) needs `--allow-origin http://ADDRESS:PORT`.

/** Parses one --allow-origin value: "*" or an origin such as https://app.example.com. */
export function allowOriginFlag(raw: string): string {
  if (raw === "*") return raw;
  if (originHost(raw) === null) throw new Error("expected an origin like https://app.example.com, or *");
  const url = new URL(raw);
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "")
    throw new Error("an origin is scheme://host[:port], without a path");
  return raw;
}

/** What the guard asks of the machine; the real one by default, for tests a stand-in. */
export interface MachineNames {
  hostname(): string;
  /** The addresses of its interfaces, as os.networkInterfaces() gives them. */
  addresses(): string[];
}

const THIS_MACHINE: MachineNames = {
  hostname: () => os.hostname(),
  addresses: () =>
    Object.values(os.networkInterfaces()).flatMap((entries) => (entries ?? []).map((entry) => entry.address)),
};

/**
/**
 * Whether a request's Host names this machine (see above) or an --allow-origin origin's host (a reverse proxy
 * forwarding Host: its name). `listenHost` is the `--host` flag (a name there is one of this machine's
 * names). Used for the WebSockets and the demo page alike.
 */
export function hostGuard(
  allowOrigin: readonly string[],
  listenHost: string,
  machine: MachineNames = THIS_MACHINE,
): (host: string | undefined) => boolean {
  if (allowOrigin.includes("*")) return () => true;
  const allowedHostnames = new Set(allowOrigin.map((origin) => new URL(origin).hostname));
  const listenName = hostnameOf(listenHost);
  if (listenName !== null && isIP(bare(listenName)) === 0) allowedHostnames.add(listenName);
  return (host) => {
    if (isLoopbackHost(host)) return true;
    const hostname = hostnameOf(host);
    return hostname !== null && namesThisMachine(hostname, allowedHostnames, machine);
  };
}

export const HOST_REFUSED =
  "Host not allowed: this server serves localhost and this machine's own names and addresses only (see --allow-origin)";

/** The `origins` and `verify` options of serve's endpoints. */
export function serveGuard(
  allowOrigin: readonly string[],
  listenHost: string,
  machine: MachineNames = THIS_MACHINE,
): Pick<WebSocketServerOptions, "origins" | "verify"> {
  if (allowOrigin.includes("*")) return { origins: "*" };
  const hostAllowed = hostGuard(allowOrigin, listenHost, machine);
  // The library's own origins check, run here so that its refusal can name the flag that widens it.
  const originAllowed = compileOrigins(["same-origin", ...allowOrigin]) as OriginCheck;
  return {
    verify: ({ request }) => {
      if (!originAllowed(request)) return { status: 403, message: originRefusal(request.headers.origin) };
      return hostAllowed(request.headers.host) || { status: 403, message: HOST_REFUSED };
    },
  };
}

/** The 403 of a WebSocket from a page of another origin, with the way to allow it. */
function originRefusal(origin: string | undefined): string {
  // The Origin is the client's text: named only when it is plainly an origin.
  const named = origin !== undefined && /^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(origin);
  return `Origin not allowed: serve takes pages of its own origin only; start it with --allow-origin ${named ? origin : "ORIGIN"} to allow ${named ? "that one" : "another"}`;
}

/** Whether a Host's hostname (as the URL parser normalized it) is one of this machine's or an allowed one. */
function namesThisMachine(hostname: string, allowed: ReadonlySet<string>, machine: MachineNames): boolean {
  if (allowed.has(hostname)) return true;
  const address = canonicalAddress(hostname);
  if (address !== null) {
    return machine
      .addresses()
      .some((own) => canonicalAddress(isIP(own) === 6 ? `[${own}]` : own) === address);
  }
  const own = machine.hostname().toLowerCase();
  return own !== "" && (hostname === own || hostname === `${own}.local`);
}

/** The hostname of a Host header (lowercased, addresses normalized), or null if it is not a bare host. */
function hostnameOf(host: string | undefined): string | null {
  if (host === undefined || host === "" || /[\s/\\@?#]/.test(host)) return null;
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return null;
  }
}

/**
 * An address hostname as one string per address: the URL parser's serialization (0x7f.1 is 127.0.0.1, IPv6
 * compressed), an IPv4-mapped IPv6 address as its IPv4 address. null for a name.
 */
function canonicalAddress(hostname: string): string | null {
  const serialized = hostnameOf(hostname);
  if (serialized === null || isIP(bare(serialized)) === 0) return null;
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(serialized);
  if (mapped === null) return serialized;
  const [high, low] = [Number.parseInt(mapped[1], 16), Number.parseInt(mapped[2], 16)];
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** An IPv6 hostname without its brackets. */
function bare(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}
