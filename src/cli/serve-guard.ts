import type { WebSocketServerOptions } from "../index.js";
import { isLoopbackHost, originHost } from "../server/origin-policy.js";

export { isLoopbackAddress } from "../server/origin-policy.js";

// Who may open a WebSocket on `sockjet serve` (issue 22 item 2). Any web page the user visits could otherwise
// join the chat and use the echo endpoint of a serve running on their machine (cross-site WebSocket
// hijacking), and a DNS-rebinding page, whose name resolves to 127.0.0.1, passes an Origin check because its
// Origin and Host are both its own name. So by default: pages of the serve's own origin only, and, when bound
// to loopback, only a loopback Host. `--allow-origin` widens both; `--allow-origin '*'` turns them off.

/** Parses one --allow-origin value: "*" or an origin such as https://app.example.com. */
export function allowOriginFlag(raw: string): string {
  if (raw === "*") return raw;
  if (originHost(raw) === null) throw new Error("expected an origin like https://app.example.com, or *");
  const url = new URL(raw);
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "")
    throw new Error("an origin is scheme://host[:port], without a path");
  return raw;
}

/**
 * Whether a request's Host may be served: any Host unless bound to loopback; there, a loopback name or the
 * name of an --allow-origin origin (a reverse proxy forwarding Host: its name). `boundToLoopback` is asked at
 * each request (the address is known once listening). Used for the WebSockets and the demo page alike.
 */
export function hostGuard(
  allowOrigin: readonly string[],
  boundToLoopback: () => boolean,
): (host: string | undefined) => boolean {
  if (allowOrigin.includes("*")) return () => true;
  const allowedHostnames = new Set(allowOrigin.map((origin) => new URL(origin).hostname));
  return (host) => {
    if (!boundToLoopback() || isLoopbackHost(host)) return true;
    let hostname: string | null = null;
    try {
      hostname = new URL(`http://${host}`).hostname;
    } catch {}
    return hostname !== null && allowedHostnames.has(hostname);
  };
}

export const HOST_REFUSED =
  "Host not allowed: this server listens on loopback and serves localhost only (see --allow-origin)";

/** The `origins` and `verify` options of serve's endpoints. */
export function serveGuard(
  allowOrigin: readonly string[],
  boundToLoopback: () => boolean,
): Pick<WebSocketServerOptions, "origins" | "verify"> {
  if (allowOrigin.includes("*")) return { origins: "*" };
  const hostAllowed = hostGuard(allowOrigin, boundToLoopback);
  return {
    origins: ["same-origin", ...allowOrigin],
    verify: ({ request }) => hostAllowed(request.headers.host) || { status: 403, message: HOST_REFUSED },
  };
}
