import type { Connection, ConnectionHooks } from "../connection/connection.js";
import { sendInOrder, type WebSocket } from "../web/websocket.js";
import { DIRECT_PREFIX } from "./resume-wire.js";

/**
 * Direct sends on a resume connection carry the 0x00 prefix (docs/resume.md). They come here through the
 * connection's hooks (Connection.hooks: plain connections pay one null check); sendControl() and sendHead()
 * go around them, for control messages. Topic messages do not come here (they are framed once, enveloped already; one
 * queued behind a Blob goes around the hooks too, WebSocket's #drainQueue). The connection's pongs come here
 * too, for `onPong`.
 *
 * Until release() (the session is set up), direct sends wait here: the app can reach the connection through
 * server.clients before its hello is handled, and nothing may reach the client before its session. They
 * count in bufferedAmount meanwhile (WHATWG send(): every send that does not throw increases it), and past
 * maxBufferedBytes beyond the largest of them the connection fails as a slow consumer (Connection.
 * checkHeldBytes). A connection that closes first drops them (their bytes stay counted, as those of any send
 * the connection could not transmit).
 */
export class DirectSends implements ConnectionHooks {
  private readonly socket: WebSocket;
  private readonly connection: Connection;
  /** Sends waiting for the session (their bytes in Connection.heldAppBytes); null once it is set up. */
  private held: (() => void)[] | null = [];
  private largestHeld = 0;
  readonly onPong: (payload: Buffer) => void;

  constructor(socket: WebSocket, connection: Connection, onPong: (payload: Buffer) => void) {
    this.socket = socket;
    this.connection = connection;
    this.onPong = onPong;
    connection.hooks = this;
  }

  /** The payload is copied behind its prefix at once, so a borrowed one may change afterwards. */
  send(payload: Buffer, isText: boolean, transform: boolean | undefined): boolean {
    const connection = this.connection;
    const bytes = Buffer.allocUnsafe(payload.length + 1);
    bytes[0] = DIRECT_PREFIX[0];
    payload.copy(bytes, 1);
    if (this.held === null) return connection.sendNow(bytes, isText, transform, false);
    if (connection.protocol.closing || connection.finished) return false;
    return this.hold(payload.length, () => connection.sendNow(bytes, isText, transform, false));
  }

  sendText(text: string, transform: boolean | undefined): number {
    const connection = this.connection;
    if (this.held === null) {
      const bytes = connection.sendTextNow(`\u0000${text}`, transform);
      return bytes < 0 ? bytes : bytes - 1;
    }
    if (connection.protocol.closing || connection.finished) return -1;
    const size = Buffer.byteLength(text);
    return this.hold(size, () => connection.sendTextNow(`\u0000${text}`, transform)) ? size : -1;
  }

  /**
   * Sends a control message (0x02 + JSON: the text as it is) in send order: behind the topic messages that
   * wait behind a Blob (an `unsubscribed` or `resumed` must not overtake them).
   */
  sendControl(text: string): void {
    sendInOrder(this.socket, text);
  }

  /**
   * Sends the head of a session (`reset`, `session`) at once, ahead of anything queued: nothing queued then
   * is a topic message (none is delivered before the session), and the app's sends must come after it.
   */
  sendHead(text: string): void {
    this.connection.sendTextNow(text, undefined);
  }

  /** The session is set up: what the app sent meanwhile goes out, in order, and later sends at once. */
  release(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.connection.heldAppBytes = 0;
    this.largestHeld = 0;
    for (const sendHeld of held) sendHeld();
  }

  /** The connection closed before its session: what was held is never sent (its bytes stay counted). */
  discard(): void {
    if (this.held !== null) this.held = [];
  }

  /** Holds one send; false when it would take the connection past its limit (which then fails). */
  private hold(size: number, sendLater: () => void): boolean {
    this.largestHeld = Math.max(this.largestHeld, size);
    if (!this.connection.checkHeldBytes(this.connection.heldAppBytes + size, this.largestHeld)) {
      this.discard();
      return false;
    }
    this.held!.push(sendLater);
    this.connection.heldAppBytes += size;
    return true;
  }
}
