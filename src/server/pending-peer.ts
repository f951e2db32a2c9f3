import type { Duplex } from "node:stream";

// While an async verify hook runs, the upgrade socket is read, so that a peer that sends FIN or goes away is
// noticed: Node hands the socket over with reading stopped, and without reading neither 'end' nor (with
// allowHalfOpen) 'close' would ever come. Bytes that arrive meanwhile (frames sent before the 101, which
// RFC 6455 §4.1 forbids but pipelining clients do) are kept for the connection, up to a bound; past it,
// reading stops again.

const MAX_EARLY_BYTES = 64 * 1024;

export class PendingPeer {
  private readonly socket: Duplex;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private paused = false;
  private readonly onData = (chunk: Buffer) => {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= MAX_EARLY_BYTES) {
      this.paused = true;
      this.socket.pause();
    }
  };
  private readonly onEnd: () => void;

  /** `onLeft` runs when the peer ends its side (FIN) before the handshake is decided. */
  constructor(socket: Duplex, onLeft: () => void) {
    this.socket = socket;
    this.onEnd = onLeft;
    socket.on("data", this.onData);
    socket.once("end", this.onEnd);
  }

  /**
   * Stops watching. A caller that accepts attaches its own reader in the same tick: data events come from
   * I/O callbacks, so none is emitted in between.
   */
  stop(): void {
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    if (this.paused) this.socket.resume();
  }

  /** `head` followed by what arrived while watching. */
  received(head: Buffer): Buffer {
    return this.chunks.length === 0 ? head : Buffer.concat([head, ...this.chunks]);
  }
}
