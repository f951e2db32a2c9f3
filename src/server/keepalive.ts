import type { Connection } from "../connection/connection.js";
import { ConnectionLostError } from "../protocol/errors.js";

// Dead-peer detection and idle timeouts for all of a server's connections with one timer each, instead of
// timers per connection. A connection that has sent nothing since the previous ping (not even the pong) is
// terminated; an idle one (no message for a whole idle period) is closed with 1001. It sweeps the server's own
// table of open connections (no second set with an entry per connection, issue 17).

export class Keepalive {
  private readonly connections: ReadonlyMap<Connection, unknown>;
  private pingTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly pingIntervalMs: number;
  private readonly idleTimeoutMs: number;
  private readonly onIdle: (connection: Connection) => void;

  constructor(
    connections: ReadonlyMap<Connection, unknown>,
    pingIntervalMs: number,
    idleTimeoutMs: number,
    onIdle: (connection: Connection) => void,
  ) {
    this.connections = connections;
    this.pingIntervalMs = pingIntervalMs;
    this.idleTimeoutMs = idleTimeoutMs;
    this.onIdle = onIdle;
  }

  /** A connection was added to the table: the sweeps run while it is not empty. */
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

  /** A connection was removed from the table. */
  removed(): void {
    if (this.connections.size === 0) this.stop();
  }

  stop(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.pingTimer = null;
    this.idleTimer = null;
  }

  private sweepPings(): void {
    for (const connection of this.connections.keys()) {
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
    for (const connection of this.connections.keys()) {
      if (!connection.messageSeen) this.onIdle(connection);
      connection.messageSeen = false;
    }
  }
}
