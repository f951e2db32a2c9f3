import type { Connection } from "../connection/connection.js";
import type { ConnectionEvents } from "../connection/connection-options.js";
import { type Hello, parseHello } from "./resume-wire.js";

/**
 * The connection's events until the hello is handled: the first message is the hello (not the app's), and
 * the input is held after it (Connection.pauseForReader) until release(), when the WebSocket's own events
 * are put back and what arrived meanwhile is delivered to the app, in order.
 */
export class HelloGate implements ConnectionEvents {
  private readonly connection: Connection;
  private readonly previous: ConnectionEvents;
  private readonly onHello: (hello: Hello) => void;
  private helloSeen = false;
  /** Messages that came with the hello, before the pause took hold. */
  private early: [Buffer, boolean][] = [];

  constructor(connection: Connection, onHello: (hello: Hello) => void) {
    this.connection = connection;
    this.onHello = onHello;
    this.previous = connection.takeEvents(this);
  }

  release(): void {
    if (this.connection.finished) return;
    this.connection.takeEvents(this.previous);
    for (const [data, isText] of this.early) this.previous.onMessage(data, isText);
    this.early = [];
    this.connection.resumeForReader();
  }

  onMessage(data: Buffer, isText: boolean): void {
    if (this.helloSeen) {
      // The protocol may reuse its buffer: keep a copy.
      this.early.push([Buffer.from(data), isText]);
      return;
    }
    this.helloSeen = true;
    this.connection.pauseForReader();
    this.onHello(parseHello(data, isText));
  }
  onPing(payload: Buffer): void {
    this.previous.onPing(payload);
  }
  onPong(payload: Buffer): void {
    this.previous.onPong(payload);
  }
  onClosing(code: number, reason: string): void {
    this.previous.onClosing(code, reason);
  }
  onClosed(code: number, reason: string, wasClean: boolean, error: Error | null): void {
    this.previous.onClosed(code, reason, wasClean, error);
  }
}
