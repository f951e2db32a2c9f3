import { ConnectionLostError } from "../protocol/errors.js";
import { connectionOf, type WebSocket } from "../web/websocket.js";

// Dead-peer detection and idle timeouts for all of a server's connections with one timer each, instead of
// timers per connection. A connection that has sent nothing since the previous ping (not even the pong) is
// terminated; an idle one (no message for a whole idle period) is closed with 1001. It sweeps the server's own
// set of open sockets (its `clients`; no second table with an entry per connection, issue 17).

export class Keepalive {
  private readonly clients: ReadonlySet<WebSocket>;
  private pingTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly pingIntervalMs: number;
  private readonly idleTimeoutMs: number;
  private readonly onIdle: (webSocket: WebSocket) => void;

  constructor(
    clients: ReadonlySet<WebSocket>,
    pingIntervalMs: number,
    idleTimeoutMs: number,
    onIdle: (webSocket: WebSocket) => void,
  ) {
    this.clients = clients;
    this.pingIntervalMs = pingIntervalMs;
    this.idleTimeoutMs = idleTimeoutMs;
    this.onIdle = onIdle;
  }

  /** A socket was added to the set: the sweeps run while it is not empty. */
  added(): void {
    if (this.pingIntervalMs > 0 && this.pingTimer === null) {
      this.pingTimer = setInterval(() => this.sweepPings(), this.pingIntervalMs);
      this.pingTimer.unref();
    }
    if (this.idleTimeoutMs > 0 && this.idleTimer === null) {
      this.idleTimer = setInterval(() => this.sweepIdle(), this.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  /** A socket was removed from the set. */
  removed(): void {
    if (this.clients.size === 0) this.stop();
  }

  stop(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.pingTimer = null;
    this.idleTimer = null;
  }

  private sweepPings(): void {
    for (const webSocket of this.clients) {
      const connection = connectionOf(webSocket);
      if (connection === null) continue;
      // A connection whose input the rate limiter holds is silent because we do not read it.
      if (!connection.alive && !connection.inputHeld) {
        connection.terminate(
          new ConnectionLostError(null, {
            code: "SJ_ERR_KEEPALIVE_TIMEOUT",
            message: `no pong within pingIntervalMs (${this.pingIntervalMs} ms): terminated by the keepalive`,
          }),
        );
        continue;
      }
      connection.alive = false;
      connection.ping();
    }
  }

  private sweepIdle(): void {
    for (const webSocket of this.clients) {
      const connection = connectionOf(webSocket);
      if (connection === null) continue;
      if (!connection.messageSeen) this.onIdle(webSocket);
      connection.messageSeen = false;
    }
  }
}
