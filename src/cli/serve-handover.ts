import type { Worker } from "node:cluster";
import net from "node:net";
import { listen } from "./listen.js";

// How `sockjet serve --workers N` hands its connections to the workers. The primary accepts (paused: it
// reads nothing) and passes each connection to a worker over the IPC channel, round-robin, keeping its own
// copy (keepOpen) until the worker says it has taken it ("taken", sent as it starts serving it).
//
// A worker that dies with connections it was handed and had not said it took: the primary closes its copies,
// so their clients see the connection end at once (and reconnect), never hang. They are not dealt again: the
// worker may have read, even answered, some of them before it died (its "taken" can still sit unsent in its
// own queue, or unread in the channel when the primary sees the exit), and a second worker would then read
// a stream the first one had started. Only a connection whose send failed outright goes to another worker.
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
  | { [TAG]: "taken"; id: number };

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
        entry.socket.destroy();
      }
    });
  }

  /**
   * A worker is gone (it exited, its channel closed, or a send to it failed): no more connections for it,
   * and our copies of what it was handed and did not say it took are closed (see the top).
   */
  gone(worker: Worker): void {
    const at = this.ready.indexOf(worker);
    if (at !== -1) this.ready.splice(at, 1);
    for (const [id, entry] of this.handedOut) {
      if (entry.worker !== worker) continue;
      this.handedOut.delete(id);
      entry.socket.destroy();
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
      if (error === null || error === undefined) return;
      // Not sent (the channel closed under us): the worker never had this one, which goes to another.
      if (this.handedOut.get(id)?.socket === socket) {
        this.handedOut.delete(id);
        this.gone(worker);
        this.deal(socket);
      }
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
  process.on("message", (raw: unknown, handle: unknown) => {
    const message = handoverMessage(raw);
    if (message === null || message[TAG] !== "connection") return;
    // Served at once: the server's listeners (its 'error' one too) are on the socket before it reads.
    if (handle instanceof net.Socket) server.emit("connection", handle);
    process.send?.({ [TAG]: "taken", id: message.id } satisfies HandoverMessage);
  });
  // node:http starts its request timeouts (headersTimeout, requestTimeout: the slowloris guard) when its
  // server emits 'listening'; this one never listens itself.
  server.emit("listening");
  process.send?.({ [TAG]: "ready" } satisfies HandoverMessage);
}
