import type { Socket } from "node:net";

// Frames produced while handling one read (a burst of echoes, say) leave in one system call, like a raw
// TCP echo that writes once per read: ws writes once per message, which is most of its gap to raw TCP on
// small messages. Frames sent outside a burst are flushed at the end of the current microtask queue, so a
// loop of send() calls is also one write. Small batches are joined into one buffer; large ones go out as a
// writev (cork/uncork) so payloads are not copied.

const JOIN_LIMIT = 16 * 1024;

export class OutputBatcher {
  private readonly socket: Socket;
  private readonly eagerFirstWrite: boolean;
  private wroteInBurst = false;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private depth = 0;
  private scheduled = false;
  /** Application bytes accepted by send() and not yet taken by the kernel. */
  pendingAppBytes = 0;
  private unflushedAppBytes = 0;
  private readonly flushLater = () => {
    this.scheduled = false;
    this.flush();
  };

  constructor(socket: Socket, eagerFirstWrite = false) {
    this.socket = socket;
    this.eagerFirstWrite = eagerFirstWrite;
  }

  beginBurst(): void {
    if (this.depth === 0) this.wroteInBurst = false;
    this.depth++;
  }

  endBurst(): void {
    if (--this.depth === 0) this.flush();
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.depth > 0 && this.eagerFirstWrite && !this.wroteInBurst) {
      this.wroteInBurst = true;
      this.flush();
    } else if (this.depth === 0 && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushLater);
    }
  }

  /** Bytes pushed in this batch and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.bytes;
  }

  addAppBytes(n: number): void {
    this.pendingAppBytes += n;
    this.unflushedAppBytes += n;
  }

  flush(): void {
    const chunks = this.chunks;
    if (chunks.length === 0) return;
    const app = this.unflushedAppBytes;
    this.chunks = [];
    this.unflushedAppBytes = 0;
    const bytes = this.bytes;
    this.bytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      this.pendingAppBytes -= app;
      return;
    }
    const done = app > 0 ? () => (this.pendingAppBytes -= app) : undefined;
    if (chunks.length === 1) {
      socket.write(chunks[0], done);
    } else if (bytes <= JOIN_LIMIT) {
      socket.write(Buffer.concat(chunks, bytes), done);
    } else {
      socket.cork();
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) socket.write(chunks[i]);
      socket.write(chunks[last], done);
      socket.uncork();
    }
  }

  /** The socket is gone: nothing pending will be sent. */
  discard(): void {
    this.chunks = [];
    this.bytes = 0;
  }
}
