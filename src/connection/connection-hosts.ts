import type { Connection } from "./connection.js";
import type { HeartbeatHost } from "./heartbeat.js";
import type { RateLimitHost } from "./rate-limit.js";

// The views a connection gives its rate limiter and heartbeat: small objects, not closures per connection.

/** The rate limiter's view of its connection (an object, not two closures per connection). */
export class RateLimitHold implements RateLimitHost {
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  holdInput(): void {
    this.connection.socket.pause();
  }

  releaseInput(): void {
    this.connection.onRateLimitRelease();
  }
}

/** The heartbeat's view of its connection. */
export class HeartbeatOf implements HeartbeatHost {
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  ping(): boolean {
    return !this.connection.finished && this.connection.ping();
  }

  get inputPaused(): boolean {
    return this.connection.inputPaused;
  }

  lost(timeoutMs: number): void {
    // Once our Close is out, the closing handshake's own timer decides (closeTimeoutMs).
    if (!this.connection.protocol.closing) this.connection.onHeartbeatLost(timeoutMs);
  }
}
