// What RedisAdapter and RedisStreamStore do alike with the Redis connections they made: the heartbeat's drops
// (heartbeat.ts: dropped, connected again, then handed to the owner to report), the errors of the commands a
// drop failed (named, instead of node-redis's bare "Disconnects client"), and connections that complete after
// close() (node-redis's destroy() does not stop a connect() still under way: its reconnects, the heartbeat's).

import type { RedisTimeoutError } from "./adapter-options.js";
import {
  type DeadConnection,
  deadConnectionError,
  droppedCommandError,
  type PingableClient,
  RedisHeartbeat,
} from "./heartbeat.js";
import { DisconnectsClientError } from "./node-redis.js";

/** What is done with a node-redis client of ours. */
export interface OwnClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own signature
  on(event: string, listener: (...args: any[]) => void): unknown;
}

export interface OwnConnectionsOptions {
  /** 0: no heartbeat. */
  pingIntervalMs: number;
  commandTimeoutMs: number;
  /** Whose connections, for the errors: "adapter's", "store's". */
  owner: string;
  closed(): boolean;
  /** After a drop (the client is being connected again): the owner reports `error`. */
  dropped(client: OwnClient, error: RedisTimeoutError, why: DeadConnection): void;
}

export class OwnConnections {
  private readonly heartbeat: RedisHeartbeat;
  private readonly options: OwnConnectionsOptions;
  /** What the heartbeat watches of each client. */
  private readonly watched = new Map<OwnClient, PingableClient>();
  /** The error of each client's drop, during the turn of the drop (named()). */
  private readonly dropping = new Map<OwnClient, RedisTimeoutError>();

  constructor(options: OwnConnectionsOptions) {
    this.options = options;
    this.heartbeat = new RedisHeartbeat(options.pingIntervalMs, options.commandTimeoutMs);
  }

  /**
   * PINGs `client` (with `ping`) every pingIntervalMs; one whose PING or handshake goes unanswered is dropped
   * (what it held fails at once) and connected again. `name` names it in the error ("publishing").
   */
  watch(client: OwnClient, name: string, ping: () => Promise<unknown>): void {
    const pingable: PingableClient = {
      get isReady() {
        return client.isReady;
      },
      ping,
      on: (event, listener) => client.on(event, listener),
    };
    this.watched.set(client, pingable);
    this.heartbeat.watch(pingable, (why) => this.drop(client, name, why));
  }

  /** Closes `client` whenever it connects after close(). */
  closeLate(client: OwnClient): void {
    const close = () => {
      if (this.options.closed()) client.destroy();
    };
    client.on("connect", close);
    client.on("ready", close);
  }

  /**
   * Whether `client`'s heartbeat PING has waited a second (or commandTimeoutMs if shorter): the path may be
   * dead, and a graceful close, which waits for it, is not worth waiting for.
   */
  silent(client: OwnClient): boolean {
    const waited = this.heartbeat.unansweredMs(this.watched.get(client));
    return waited >= Math.min(1000, this.options.commandTimeoutMs);
  }

  /** `error` as thrown by a call of `what` on `client`: a command that a drop failed gets an error that says so. */
  named(error: unknown, what: string, client: OwnClient): unknown {
    const drop = this.dropping.get(client);
    if (drop !== undefined && error instanceof DisconnectsClientError)
      return droppedCommandError(what, drop, error);
    return error;
  }

  stop(): void {
    this.heartbeat.stop();
  }

  private drop(client: OwnClient, name: string, why: DeadConnection): void {
    if (this.options.closed()) return;
    const error = deadConnectionError(`${this.options.owner} ${name}`, why);
    this.dropping.set(client, error);
    setImmediate(() => {
      if (this.dropping.get(client) === error) this.dropping.delete(client);
    });
    client.destroy();
    // A turn later: connect() in the turn of destroy() reopens the client before the connect loop that
    // destroy() ended has seen it end, and that loop then goes on beside the new one (a second socket, replies
    // handed to the wrong commands).
    setImmediate(() => {
      if (!this.options.closed() && !client.isOpen) client.connect().catch(() => {}); // errors: 'error' events
    });
    this.options.dropped(client, error, why);
  }
}
