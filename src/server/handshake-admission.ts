import type { IncomingMessage } from "node:http";
import type { UpgradeRequestResult } from "../protocol/handshake.js";
import { checkHeaderLimits, rawHeadersOf } from "../protocol/header-fields.js";
import { ConnectionsPerIp } from "./connections-per-ip.js";
import type { HandshakeWire } from "./handshake-wire.js";
import { compileOrigins, type OriginCheck, type OriginsOption } from "./origin-policy.js";
import type { Settings } from "./server-settings.js";

// The refusals of an upgrade request before verify (handshake-flow.ts asks for them through
// HandshakeServer.admit): header limits, path, RFC 6455 §4.2.1, origins, maxConnections and
// maxConnectionsPerIp. Apart from the server: one ordered rule, with the origin policy and the per-address
// counts that only it uses.

export class HandshakeAdmission {
  private readonly settings: Settings;
  private readonly originCheck: OriginCheck | null;
  private readonly perIp: ConnectionsPerIp | null;
  /** Whether the server serves the request's path (WebSocketServer.handles). */
  private readonly handles: (request: IncomingMessage) => boolean;
  /** The server's connections, open and handshaking, counted against maxConnections. */
  private readonly connections: () => number;

  constructor(
    settings: Settings,
    origins: OriginsOption | undefined,
    handles: (request: IncomingMessage) => boolean,
    connections: () => number,
  ) {
    this.settings = settings;
    this.originCheck = compileOrigins(origins);
    this.perIp = settings.maxConnectionsPerIp > 0 ? new ConnectionsPerIp(settings.maxConnectionsPerIp) : null;
    this.handles = handles;
    this.connections = connections;
  }

  /**
   * A request's refusal before verify, in the order a client is told: too many or too large header fields
   * (RFC 6585 §5: 431), no endpoint at its path (404), then RFC 6455 §4.2.1 (method, version, key, protocol,
   * extensions), the origin, the server's and the address's counts; else its validated handshake. A request
   * made by hand for handleUpgrade (as ws accepts) may have headers but no rawHeaders, and values that are no
   * strings (read as strings); one that cannot be read (a toString that throws) is a 400, never an exception
   * out of handleUpgrade. Throws when the origins hook does (a 500).
   */
  admit(request: IncomingMessage, wire: HandshakeWire): UpgradeRequestResult {
    const checked = this.checkRequest(request, wire);
    if (!checked.ok) {
      // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to; RFC 6455 §4.4: and the version we speak.
      if (checked.status !== 426) return checked;
      return { ...checked, headers: { Upgrade: "websocket", ...checked.headers } };
    }
    // RFC 6455 §4.2.1 item 7, §10.2: the Origin tells which page opened the connection.
    if (this.originCheck !== null && !this.originCheck(request)) {
      return { ok: false, status: 403, reason: "Origin not allowed" };
    }
    if (this.connections() >= this.settings.maxConnections) {
      return { ok: false, status: 503, reason: "Too many connections", headers: { "Retry-After": "5" } };
    }
    // RFC 6585 §4: 429 says *this client* made too many requests; a 503 (RFC 9110 §15.6.4) would say the
    // server is unavailable to everyone, which load balancers take as a sick backend.
    if (this.perIp !== null && !this.perIp.admit(wire.socket)) {
      return {
        ok: false,
        status: 429,
        reason: "Too many connections from this address",
        headers: { "Retry-After": "5" },
      };
    }
    return checked;
  }

  private checkRequest(request: IncomingMessage, wire: HandshakeWire): UpgradeRequestResult {
    try {
      const limits = checkHeaderLimits(request.rawHeaders ?? rawHeadersOf(request.headers), {
        maxHeaderCount: this.settings.maxHeaderCount,
        maxHeaderBytes: this.settings.maxHeaderBytes,
      });
      if (!limits.ok) return limits;
      if (!this.handles(request))
        return { ok: false, status: 404, reason: "No WebSocket endpoint at this path" };
      return wire.validate();
    } catch {
      return { ok: false, status: 400, reason: "Malformed request headers" };
    }
  }
}
