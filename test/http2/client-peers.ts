import http2 from "node:http2";
import net from "node:net";
import { handleHttp2Stream } from "../../src/server/http2-upgrade.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { defer, HOST, portOf, shutDown } from "../server/helpers.js";

// The peers our client's HTTP/2 tests connect to (all on 127.0.0.1, port 0, stopped after the test): an h2c
// server that may refuse streams, a TCP relay that holds connections, and a TCP server that never answers.

type TestContext = Parameters<typeof defer>[0];

/**
 * A node:http2 h2c server whose streams go to a WebSocketServer (noServer, echoing) unless `refuse` took them;
 * `onSession` sees each session (its number from 1).
 */
export async function refusingServer(
  t: TestContext,
  onSession: (session: http2.ServerHttp2Session, nth: number) => void,
  refuse: (
    stream: http2.ServerHttp2Stream,
    path: string,
    headers: http2.IncomingHttpHeaders,
  ) => boolean = () => false,
): Promise<{ base: string; sessions: http2.ServerHttp2Session[]; wss: WebSocketServer }> {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  const sessions: http2.ServerHttp2Session[] = [];
  server.on("session", (session) => {
    sessions.push(session);
    session.on("error", () => {});
    onSession(session, sessions.length);
  });
  server.on("sessionError", () => {});
  const wss = new WebSocketServer({ noServer: true });
  server.on(
    "stream",
    (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      _flags: number,
      rawHeaders: string[],
    ) => {
      stream.on("error", () => {});
      if (refuse(stream, headers[":path"] ?? "", headers)) return;
      handleHttp2Stream(wss, stream, headers, rawHeaders, (ws, request) =>
        wss.emit("connection", ws, request),
      );
    },
  );
  wss.on("connection", (ws) => {
    ws.onmessage = (event) => ws.send(`echo:${event.data}`);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  defer(t, () => new Promise((resolve) => server.close(resolve)));
  defer(t, () => {
    for (const session of sessions) session.destroy();
  });
  defer(t, () => shutDown(wss));
  return { base: `ws://${HOST}:${portOf(server.address())}`, sessions, wss };
}

/** A TCP relay to `target` that holds each connection `delayMs` before passing it on; returns its port. */
export async function delayingRelay(t: TestContext, target: number, delayMs: number): Promise<number> {
  const relayed = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    relayed.add(client);
    client.on("error", () => {});
    client.pause();
    const timer = setTimeout(() => {
      const upstream = net.connect(target, HOST);
      relayed.add(upstream);
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    }, delayMs);
    client.on("close", () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => relay.listen(0, HOST, resolve));
  defer(t, () => new Promise((resolve) => relay.close(resolve)));
  defer(t, () => {
    for (const socket of relayed) socket.destroy();
  });
  return portOf(relay.address());
}

/** A connection a silent server accepted: when it was accepted and when the client closed it (or null). */
export interface HeldConnection {
  acceptedAt: number;
  closedAt: number | null;
}

/**
 * A TCP server that accepts connections and never writes (an HTTP/2 server that never sends its SETTINGS,
 * or a host that stalls); it reads what it gets. Its connections are destroyed after the test.
 */
export async function silentServer(t: TestContext): Promise<{ port: number; held: HeldConnection[] }> {
  const held: HeldConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const connection: HeldConnection = { acceptedAt: Date.now(), closedAt: null };
    held.push(connection);
    socket.on("error", () => {});
    socket.resume();
    socket.on("close", () => {
      connection.closedAt = Date.now();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  defer(t, () => new Promise((resolve) => server.close(resolve)));
  defer(t, () => {
    for (const socket of sockets) socket.destroy();
  });
  return { port: portOf(server.address()), held };
}

/**
 * A socket's outcome: its events (the error's code and message) up to its open or close, and when that came
 * (ms after `started`).
 */
export function outcomeOf(socket: WebSocket, started: number): Promise<{ events: string[]; at: number }> {
  return new Promise((resolve) => {
    const events: string[] = [];
    socket.onopen = () => {
      events.push("open");
      resolve({ events, at: Date.now() - started });
    };
    socket.onerror = (event) => {
      const error = (event as unknown as { error?: Error & { code?: string } }).error;
      events.push(`error ${error?.code}: ${error?.message}`);
    };
    socket.onclose = () => {
      events.push("close");
      resolve({ events, at: Date.now() - started });
    };
  });
}
