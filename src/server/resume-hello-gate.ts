import type { Connection } from "../connection/connection.js";
import type { ConnectionEvents } from "../connection/connection-options.js";
import { CloseCode } from "../protocol/constants.js";
import { closeWithStatus, type WebSocket } from "../web/websocket.js";
import { type Hello, parseHello } from "./resume-wire.js";

/**
 * Most bytes of app messages kept behind the hello while it is handled, each message counted with
 * EARLY_MESSAGE_OVERHEAD (what keeping it costs in memory, so that empty messages are bounded too). Past
 * them the connection is closed (1008): pausing the input instead would hide the peer's pongs from the
 * keepalive, and a resume waiting on the peer (its replay) could then be held forever. The client helper
 * sends nothing before its session (after a resume, before its replay is over), so this is for other
 * clients.
 */
const EARLY_MAX_BYTES = 1024 * 1024;
const EARLY_MESSAGE_OVERHEAD = 64;

/**
 * The connection's events until the hello is handled: the first message is the hello (not the app's), and
 * the app's messages after it are kept until release(), when the WebSocket's own events are put back and
 * they are delivered to the app, in order. The socket is still read meanwhile (up to EARLY_MAX_BYTES of
 * messages), so that a resume's replay, paced by the client's reading, still sees its Close, pongs and
 * the keepalive's verdict: a client that stops reading mid-replay is not held forever.
 */
export class HelloGate implements ConnectionEvents {
  private readonly socket: WebSocket;
  private readonly connection: Connection;
  private readonly previous: ConnectionEvents;
  private readonly onHello: (hello: Hello) => void;
  private helloSeen = false;
  /** Messages that came behind the hello, and their bytes. */
  private early: [Buffer, boolean][] = [];
  private earlyBytes = 0;

  constructor(socket: WebSocket, connection: Connection, onHello: (hello: Hello) => void) {
    this.socket = socket;
    this.connection = connection;
    this.onHello = onHello;
    this.previous = connection.takeEvents(this);
  }

  release(): void {
    // Closed for what came behind the hello: nothing more reaches the app while the handshake ends.
    if (this.connection.finished || this.earlyBytes > EARLY_MAX_BYTES) return;
    this.connection.takeEvents(this.previous);
    for (const [data, isText] of this.early) this.previous.onMessage(data, isText);
    this.early = [];
    this.earlyBytes = 0;
    this.connection.resumeForReader();
  }

  onMessage(data: Buffer, isText: boolean): void {
    if (this.helloSeen) {
      if (this.earlyBytes > EARLY_MAX_BYTES) return;
      this.earlyBytes += data.length + EARLY_MESSAGE_OVERHEAD;
      if (this.earlyBytes > EARLY_MAX_BYTES) {
        // RFC 6455 §7.4.1: 1008, a message that violates the server's policy.
        this.early = [];
        // Through the WebSocket, so that it is CLOSING at once: the resume under way stops at its
        // readyState checks, and 'connection' never comes.
        closeWithStatus(
          this.socket,
          CloseCode.PolicyViolation,
          "sockjet.resume: over 1 MiB sent behind the hello; send once the session is up",
        );
        return;
      }
      // The protocol may reuse its buffer: keep a copy.
      this.early.push([Buffer.from(data), isText]);
      return;
    }
    this.helloSeen = true;
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
