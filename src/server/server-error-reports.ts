import type { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";

// How a WebSocketServer reports what fails outside any one connection: as its events when someone listens,
// else as one process warning per kind, so a bug is seen but never takes the server down (an 'error' with
// no listener would throw).

export class ServerErrorReports {
  private warnedHandshakeError = false;
  private warnedPublishError = false;
  /** close() is over: errors after it are warnings (see error()). */
  closed = false;

  constructor(private readonly server: EventEmitter) {}

  /** A handshake hook failed (the client got a 500): 'handshakeError', else one process warning. */
  handshakeError(error: unknown, request: IncomingMessage): void {
    const reported = error instanceof Error ? error : new Error(String(error));
    if (this.server.listenerCount("handshakeError") > 0) {
      this.server.emit("handshakeError", reported, request);
      return;
    }
    if (this.warnedHandshakeError) return;
    this.warnedHandshakeError = true;
    process.emitWarning(
      `A WebSocketServer handshake hook failed and the client got a 500: ${reported.message} ` +
        "(listen for 'handshakeError' to see every such error)",
      { code: "SJ_HANDSHAKE_HOOK_FAILED" },
    );
  }

  /**
   * The adapter or the resume store failed: the server's 'error'. Once the server has closed, as a process
   * warning instead: work that outlived close() (a resume still waiting for a stalled store past
   * shutdownTimeoutMs) fails against a closed store, nothing is left for the app to do, and an 'error' with
   * no listener left would throw.
   */
  error(error: Error): void {
    if (!this.closed) {
      this.server.emit("error", error);
      return;
    }
    process.emitWarning(`After the WebSocketServer closed: ${error.message}`, {
      code: (error as { code?: string }).code ?? "SJ_ERR_AFTER_CLOSE",
    });
  }

  /**
   * A publish could not be delivered (a Blob that cannot be read): 'publishError', else one process
   * warning. Only that message is lost: it is no reason to take the server down.
   */
  publishError(error: Error, topic: string): void {
    if (this.server.listenerCount("publishError") > 0) {
      this.server.emit("publishError", error, topic);
      return;
    }
    if (this.warnedPublishError) return;
    this.warnedPublishError = true;
    process.emitWarning(
      `${error.message} (listen for the WebSocketServer's 'publishError' to see every such error)`,
      { code: "SJ_PUBLISH_FAILED" },
    );
  }
}
