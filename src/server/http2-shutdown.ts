import type { Http2Session } from "node:http2";
import type { Socket } from "node:net";
import type { AnyHttp2Server } from "./http2-upgrade.js";

// The shutdown of an HTTP/2 server this library owns (a standalone WebSocketServer with `http2: true`): each
// session is ended with GOAWAY (RFC 9113 §6.8), and a peer that then keeps its connection open is cut once
// the shutdown timeout is over. node:http2's graceful session.close() waits for the peer for ever, and the
// server's close() with it: a client that did not read a 405 or 426 body, or sent a plain CONNECT and went
// silent, held WebSocketServer.close() for good (review 143; HTTP/1.1 connections are cut by
// closeAllConnections()).

export class Http2Shutdown {
  private readonly sessions = new Set<Http2Session>();
  /** The TCP connections under the sessions (a closed session no longer gives its socket). */
  private readonly connections = new Set<Socket>();

  constructor(server: AnyHttp2Server) {
    server.on("session", (session: Http2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
    });
    server.on("connection", (socket: Socket) => {
      this.connections.add(socket);
      socket.once("close", () => this.connections.delete(socket));
    });
  }

  /** GOAWAY on every session: no new stream is served; the streams still open finish first. */
  goaway(): void {
    for (const session of this.sessions) session.close();
  }

  /** Waits for `closed` (the server's close) up to `timeoutMs`, then destroys the connections left. */
  async cutAfter(closed: Promise<void>, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const cut = await Promise.race([closed.then(() => false), late]);
    clearTimeout(timer);
    if (cut) for (const socket of this.connections) socket.destroy();
    await closed;
  }
}
