import type { Worker } from "node:cluster";
import net from "node:net";
import { listen } from "./listen.js";

// How `sockjet serve --workers N` hands its connections to the workers. The primary accepts (paused: it
// reads nothing) and passes each connection to a worker over the IPC channel, round-robin, keeping its own
// copy. A worker that dies before it has the connection does not lose it: the primary hands it to another.
//
// Three messages per connection, so that no connection is ever served by two workers:
//   primary → worker  "connection" (with the socket)   the worker keeps it, reads nothing of it yet
//   worker → primary  "taken"                          from here on the primary never deals it again
//   primary → worker  "serve"                          the worker serves it; the primary drops its copy
// A worker that dies before its "taken" is read is sent nothing more, and what it had not taken goes to
// another worker: it never served any of it. (The primary may see the worker's exit before the last
// messages on its channel, so "taken" alone could not tell.) One that dies between "taken" and "serve"
// takes that connection with it: its client sees it close, never hang.
//
// Why not node:cluster's own round-robin: it keeps a connection it handed over until the worker answers,
// and when that worker was killed a moment before (SIGKILL, an OOM kill, a crash) the answer never comes:
// the connection stays open in the primary with nobody reading it, and its client waits in CONNECTING for
// ever. A dead worker's clients reconnect at once, which is exactly when the primary may not know yet that
// the worker is gone; measured with plain TCP, one connection in four opened right after a SIGKILL hung.

const TAG = "sockjet-handover";
/** Connections the primary keeps while no worker is ready (all restarting); past it new ones are closed. */
const MAX_WAITING = 4096;

type HandoverMessage =
  | { [TAG]: "ready" }
  | { [TAG]: "connection"; id: number }
  | { [TAG]: "taken"; id: number }
  | { [TAG]: "serve"; id: number };

function handoverMessage(message: unknown): HandoverMessage | null {
  return typeof message === "object" && message !== null && TAG in message
    ? (message as HandoverMessage)
    : null;
}

/** The primary's side: one listening socket, its connections dealt to the workers that are ready. */
export class ConnectionDealer {
  private readonly server: net.Server;
  /** Workers that said they take connections, in dealing order. */
  private readonly ready: Worker[] = [];
  private next = 0;
  /** Connections a worker was handed and has not said it took. */
  private readonly handedOut = new Map<number, { socket: net.Socket; worker: Worker }>();
  /** Connections waiting for a worker. */
  private readonly waiting: net.Socket[] = [];
  private lastId = 0;
  private closed = false;

  constructor(private readonly onReady: (worker: Worker) => void) {
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.deal(socket));
  }

  /** Listens (errors as serve's own: listen.ts); resolves with the address bound. */
  async listen(port: number, host: string): Promise<net.AddressInfo> {
    await listen(this.server, port, host);
    return this.server.address() as net.AddressInfo;
  }

  /** A new worker: it gets connections once it says it is ready. */
  add(worker: Worker): void {
    worker.on("message", (raw: unknown) => {
      const message = handoverMessage(raw);
      if (message === null) return;
      if (message[TAG] === "ready") {
        if (this.ready.includes(worker)) return;
        this.ready.push(worker);
        this.onReady(worker);
        this.drainWaiting();
      } else if (message[TAG] === "taken") {
        const entry = this.handedOut.get(message.id);
        if (entry === undefined || entry.worker !== worker) return;
        this.handedOut.delete(message.id);
        // The worker has its own copy: closing ours does not close the connection.
        const serve: HandoverMessage = { [TAG]: "serve", id: message.id };
        worker.send(serve, undefined, {}, () => entry.socket.destroy());
      }
    });
  }

  /**
   * A worker is gone (it exited, its channel closed, or a send to it failed): no more connections for it,
   * and what it was handed and did not take, which it cannot have served, goes to another worker.
   */
  gone(worker: Worker): void {
    const at = this.ready.indexOf(worker);
    if (at !== -1) this.ready.splice(at, 1);
    for (const [id, entry] of this.handedOut) {
      if (entry.worker !== worker) continue;
      this.handedOut.delete(id);
      this.deal(entry.socket);
    }
  }

  /** Stops accepting; the connections not taken by a worker yet are closed. */
  close(): void {
    this.closed = true;
    this.server.close();
    for (const socket of this.waiting.splice(0)) socket.destroy();
    for (const { socket } of this.handedOut.values()) socket.destroy();
    this.handedOut.clear();
  }

  private deal(socket: net.Socket): void {
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    const worker = this.pick();
    if (worker === null) {
      if (this.waiting.length >= MAX_WAITING) socket.destroy();
      else this.waiting.push(socket);
      return;
    }
    const id = ++this.lastId;
    this.handedOut.set(id, { socket, worker });
    const message: HandoverMessage = { [TAG]: "connection", id };
    // keepOpen: our copy stays open until the worker has taken the connection (above).
    worker.send(message, socket, { keepOpen: true }, (error) => {
      // Not sent: the channel closed under us, the worker is going.
      if (error !== null && error !== undefined) this.gone(worker);
    });
  }

  private pick(): Worker | null {
    while (this.ready.length > 0) {
      this.next %= this.ready.length;
      const worker = this.ready[this.next++];
      if (worker.isConnected()) return worker;
      this.gone(worker);
    }
    return null;
  }

  private drainWaiting(): void {
    for (const socket of this.waiting.splice(0)) this.deal(socket);
  }
}

/**
 * The worker's side: `server` (not listening itself) gets the connections the primary hands over, and the
 * primary hears that this worker is ready for them.
 */
export function takeConnections(server: net.Server): void {
  /** Taken, not served yet: the socket Node made of each handle keeps what arrives meanwhile. */
  const kept = new Map<number, net.Socket>();
  process.on("message", (raw: unknown, handle: unknown) => {
    const message = handoverMessage(raw);
    if (message === null) return;
    if (message[TAG] === "connection") {
      if (handle instanceof net.Socket) kept.set(message.id, handle);
      process.send?.({ [TAG]: "taken", id: message.id } satisfies HandoverMessage);
    } else if (message[TAG] === "serve") {
      const socket = kept.get(message.id);
      kept.delete(message.id);
      // The server's parser, or TLS, takes what the socket kept first.
      if (socket !== undefined && !socket.destroyed) server.emit("connection", socket);
    }
  });
  // node:http starts its request timeouts (headersTimeout, requestTimeout: the slowloris guard) when its
  // server emits 'listening'; this one never listens itself.
  server.emit("listening");
  process.send?.({ [TAG]: "ready" } satisfies HandoverMessage);
}
