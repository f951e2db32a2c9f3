// Helpers for the pub/sub tests: a server on 127.0.0.1 port 0, many clients, raw sockets that stop reading,
// and bounded waits (a hang fails with the name of what it waited for).

import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket, type WebSocketOptions } from "../../src/web/websocket.js";

export const HOST = "127.0.0.1";

export function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every few ms until it holds, or fails after `ms` with `label`. */
export async function until(condition: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface Started {
  server: WebSocketServer;
  url: string;
  errors: Error[];
  /** Server sides of accepted connections, by the `id` query parameter the client connected with. */
  accepted: Map<string, WebSocket>;
}

/** A server on an ephemeral port, closed when the test ends. */
export async function startServer(
  t: TestContext,
  options: Omit<WebSocketServerOptions, "port"> = {},
): Promise<Started> {
  const server = new WebSocketServer({ pingIntervalMs: 0, ...options, port: 0, host: HOST });
  const errors: Error[] = [];
  const accepted = new Map<string, WebSocket>();
  server.on("error", (error) => errors.push(error));
  server.on("connection", (socket, request) => {
    const id = new URL(request.url ?? "/", "ws://x").searchParams.get("id");
    if (id !== null) accepted.set(id, socket);
  });
  await within(once(server, "listening"), 5000, "listening");
  t.after(() => server.close());
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return { server, url: `ws://${HOST}:${address.port}`, errors, accepted };
}

/** A client that records its messages (strings, or binary as Buffers), and its server side. */
export interface Client {
  socket: WebSocket;
  messages: (string | Buffer)[];
  server: WebSocket;
}

let nextId = 0;

/** Opens `count` clients at once and finds the server side of each. */
export async function connectClients(
  started: Started,
  count: number,
  options?: WebSocketOptions,
): Promise<Client[]> {
  const pending: { socket: WebSocket; messages: (string | Buffer)[]; id: string }[] = [];
  for (let i = 0; i < count; i++) {
    const id = String(nextId++);
    const socket = new WebSocket(`${started.url}/?id=${id}`, [], options);
    socket.binaryType = "arraybuffer";
    const messages: (string | Buffer)[] = [];
    socket.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data;
      messages.push(typeof data === "string" ? data : Buffer.from(data as ArrayBuffer));
    });
    pending.push({ socket, messages, id });
  }
  await within(Promise.all(pending.map((p) => once(p.socket, "open"))), 15_000, `${count} clients to open`);
  await until(
    () => pending.every((p) => started.accepted.has(p.id)),
    5000,
    "the server to accept every client",
  );
  return pending.map((p) => ({
    socket: p.socket,
    messages: p.messages,
    server: started.accepted.get(p.id)!,
  }));
}

export async function closeAll(clients: Client[]): Promise<void> {
  const open = clients.filter((c) => c.socket.readyState !== WebSocket.CLOSED);
  const closed = open.map((c) => once(c.socket, "close"));
  for (const c of open) c.socket.close();
  await within(Promise.all(closed), 10_000, "clients to close");
}

/**
 * A raw TCP client that completes the opening handshake and then stops reading: the slowest consumer.
 * Resolves once the server has answered 101.
 */
export async function stalledClient(started: Started, id: string): Promise<net.Socket> {
  const { port } = new URL(started.url);
  const socket = net.connect(Number(port), HOST);
  socket.on("error", () => {});
  await within(once(socket, "connect"), 5000, "raw connect");
  socket.write(
    `GET /?id=${id} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let head = "";
  await within(
    new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) {
          socket.off("data", onData);
          socket.pause();
          resolve();
        }
      };
      socket.on("data", onData);
    }),
    5000,
    "101 response",
  );
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
  return socket;
}
