import type { Connection } from "../connection/connection.js";
import { DIRECT_PREFIX, ENVELOPES } from "./resume-wire.js";

/**
 * Direct sends on a resume connection carry the 0x00 prefix (docs/resume.md). The connection's send() and
 * sendText() are wrapped on this connection only, so that plain connections pay nothing; sendControl() is the
 * unwrapped sendText, for control messages. Topic messages do not come here (they are framed once, enveloped
 * already), but one queued behind a Blob does: its bytes are recognised and left alone.
 *
 * Until release() (the session is set up), direct sends wait here: the app can reach the connection through
 * server.clients before its hello is handled, and nothing may reach the client before its session. They
 * count in bufferedAmount meanwhile (WHATWG send(): every send that does not throw increases it), and past
 * maxBufferedBytes beyond the largest of them the connection fails as a slow consumer (Connection.
 * checkHeldBytes). A connection that closes first drops them (their bytes stay counted, as those of any send
 * the connection could not transmit).
 */
export class DirectSends {
  private readonly connection: Connection;
  private readonly sendText: Connection["sendText"];
  /** Sends waiting for the session (their bytes in Connection.heldAppBytes); null once it is set up. */
  private held: (() => void)[] | null = [];
  private largestHeld = 0;

  constructor(connection: Connection) {
    this.connection = connection;
    const send = connection.send;
    const sendText = connection.sendText;
    this.sendText = sendText;
    const sends = this;
    connection.send = function (payload, isText, transform, borrowed) {
      if (ENVELOPES.has(payload)) return send.call(this, payload, isText, transform, borrowed);
      const bytes = Buffer.allocUnsafe(payload.length + 1);
      bytes[0] = DIRECT_PREFIX[0];
      payload.copy(bytes, 1);
      if (sends.held === null) return send.call(this, bytes, isText, transform, false);
      if (this.protocol.closing || this.finished) return false;
      return sends.hold(payload.length, () => send.call(this, bytes, isText, transform, false));
    };
    connection.sendText = function (text, transform) {
      if (sends.held === null) {
        const bytes = sendText.call(this, `\u0000${text}`, transform);
        return bytes < 0 ? bytes : bytes - 1;
      }
      if (this.protocol.closing || this.finished) return -1;
      const size = Buffer.byteLength(text);
      return sends.hold(size, () => sendText.call(this, `\u0000${text}`, transform)) ? size : -1;
    };
  }

  /** Sends a control message (0x02 + JSON: the text as it is), at once. */
  sendControl(text: string): void {
    this.sendText.call(this.connection, text, undefined);
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
