// Helpers for the resume tests: a TCP relay between client and server whose connections a test can cut
// (the client's side only, as a network drop the server does not notice), resume clients that record what
// they get, and raw resume connections that speak the wire format by hand.

import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";
import { type ResumableMessageEvent, ResumableWebSocket, type ResumeEvent } from "../../src/resume/client.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket, type WebSocketOptions } from "../../src/web/websocket.js";
import { HOST, within } from "../pubsub/helpers.js";

export { HOST, startServer, tick, until, within } from "../pubsub/helpers.js";

/** A TCP relay to `target`; cutClients() destroys the client-side sockets and leaves the server's open. */
export interface Relay {
  url: string;
  /** Destroys every client-side socket (the client sees its connection die); server sides stay open. */
  cutClients(): void;
  /** Destroys both sides of every connection (the server notices at once). */
  cutBoth(): void;
  connections(): number;
  /** Stops reading from the server (a client that does not keep up); resumeReading() reads again. */
  pauseReading(): void;
  resumeReading(): void;
  /** New connections stop reading from the server after its first chunk (the 101), until resumeReading(). */
  stallNewConnections(stall: boolean): void;
  /**
   * From now on, what clients send after their first chunk (the HTTP request) waits in the relay until
   * releaseClientData(): a hello slow on its way. What waited for a connection gone meanwhile is dropped.
   */
  holdClientData(): void;
  releaseClientData(): void;
  /** New connections go to this server from now on (a client moving to another process). */
  retarget(url: string): void;
}

/**
 * `localAddress`: the relay connects to the server from it (e.g. "127.0.0.2": the server sees another client
 * address; every 127.x address is this machine's on Linux).
 */
export async function startRelay(
  t: TestContext,
  targetUrl: string,
  { localAddress }: { localAddress?: string } = {},
): Promise<Relay> {
  let target = new URL(targetUrl);
  const pairs = new Set<[net.Socket, net.Socket]>();
  let holding = false;
  let stallNew = false;
  const held: [net.Socket, Buffer][] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: Number(target.port), host: target.hostname, localAddress });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on("error", () => {});
    upstream.on("error", () => {});
    let chunks = 0;
    client.on("data", (chunk) => {
      if (holding && chunks++ > 0) held.push([upstream, chunk]);
      else upstream.write(chunk);
    });
    // Stalled from the start: the server's first bytes (the 101) pass, nothing after them is read.
    if (stallNew) upstream.once("data", () => upstream.pause());
    // A cut client side: what the server still sends goes nowhere (a black hole, as on a dead network).
    upstream.on("data", (chunk) => {
      if (!client.destroyed) client.write(chunk);
    });
    client.on("close", () => pairs.delete(pair));
    upstream.on("close", () => client.destroy());
  });
  server.listen(0, HOST);
  await within(once(server, "listening"), 5000, "relay listening");
  t.after(() => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    server.close();
  });
  const address = server.address() as net.AddressInfo;
  return {
    url: `ws://${HOST}:${address.port}${target.pathname}${target.search}`,
    cutClients() {
      for (const pair of pairs) {
        pair[0].destroy();
        // Kept open but cut off: its socket stays in the server's clients until the test ends.
        pairs.delete(pair);
        pair[1].on("data", () => {});
        t.after(() => pair[1].destroy());
      }
    },
    cutBoth() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    connections: () => pairs.size,
    pauseReading() {
      for (const [, upstream] of pairs) upstream.pause();
    },
    resumeReading() {
      for (const [, upstream] of pairs) upstream.resume();
    },
    stallNewConnections(stall: boolean) {
      stallNew = stall;
    },
    holdClientData() {
      holding = true;
    },
    releaseClientData() {
      holding = false;
      for (const [upstream, chunk] of held.splice(0)) if (!upstream.destroyed) upstream.write(chunk);
    },
    retarget(url: string) {
      target = new URL(url);
    },
  };
}

/** A ResumableWebSocket over sockjet's WebSocket that records its messages and session events. */
export interface RecordingClient {
  socket: ResumableWebSocket;
  /** Topic messages as "topic:data" (binary as "topic:<hex>"), direct ones as "data". */
  received: string[];
  events: string[];
  resets: string[];
  sessions: boolean[];
  /** Each disconnect's close code and reason, for failure messages. */
  disconnects: string[];
}

export function resumeClient(
  t: TestContext,
  url: string,
  webSocketOptions?: WebSocketOptions,
  protocols: string[] = [],
): RecordingClient {
  const socket = new ResumableWebSocket(url, {
    WebSocket: WebSocket as never,
    webSocketOptions,
    protocols,
    binaryType: "arraybuffer",
    initialDelayMs: 20,
    maxDelayMs: 100,
  });
  const recording: RecordingClient = {
    socket,
    received: [],
    events: [],
    resets: [],
    sessions: [],
    disconnects: [],
  };
  socket.addEventListener("message", (event) => {
    const message = event as ResumableMessageEvent;
    const data =
      typeof message.data === "string"
        ? message.data
        : Buffer.from(message.data as ArrayBuffer).toString("hex");
    recording.received.push(message.topic === null ? data : `${message.topic}:${data}`);
  });
  for (const type of ["session", "reset", "resumed", "disconnect", "close"] as const) {
    socket.addEventListener(type, (event) => {
      const e = event as ResumeEvent;
      recording.events.push(type);
      if (type === "reset") recording.resets.push(e.reason);
      if (type === "session") recording.sessions.push(e.resumed);
      if (type === "disconnect") recording.disconnects.push(`${e.code} ${e.reason}`);
    });
  }
  t.after(() => socket.close());
  return recording;
}

/** A raw resume connection: sends `hello`, collects the server's messages as they come. */
export async function rawResume(
  url: string,
  hello: unknown,
): Promise<{ socket: WebSocket; messages: (string | Buffer)[]; closed: Promise<CloseEvent> }> {
  const socket = new WebSocket(url, ["sockjet.resume.1"]);
  socket.binaryType = "arraybuffer";
  const messages: (string | Buffer)[] = [];
  socket.onmessage = (event) =>
    messages.push(typeof event.data === "string" ? event.data : Buffer.from(event.data as ArrayBuffer));
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", (e) => resolve(e)));
  await within(once(socket, "open"), 5000, "raw resume open");
  socket.send(typeof hello === "string" ? hello : JSON.stringify(hello));
  return { socket, messages, closed };
}

/** The control messages among raw messages, parsed; without the topic numbers' announcements (`topic`). */
export function controls(messages: (string | Buffer)[]): Record<string, unknown>[] {
  return allControls(messages).filter((control) => control.type !== "topic");
}

/** Every control message among raw messages, parsed. */
export function allControls(messages: (string | Buffer)[]): Record<string, unknown>[] {
  return messages
    .filter((m): m is string => typeof m === "string" && m.charCodeAt(0) === 2)
    .map((m) => JSON.parse(m.slice(1)));
}

/**
 * A server speaking sockjet.resume.1 by hand (to test the client against exact, or wrong, wire messages):
 * `answer` is called with each connection's first message (its hello, parsed) and the socket to reply on.
 */
export async function handWrittenResumeServer(
  t: TestContext,
  answer: (hello: Record<string, unknown>, socket: WebSocket) => void,
): Promise<{ server: WebSocketServer; url: string; hellos: Record<string, unknown>[] }> {
  const server = new WebSocketServer({
    port: 0,
    host: HOST,
    protocols: ["sockjet.resume.1"],
    pingIntervalMs: 0,
  });
  await within(once(server, "listening"), 5000, "listening");
  t.after(() => server.close());
  const hellos: Record<string, unknown>[] = [];
  server.on("connection", (socket) => {
    socket.onmessage = (event) => {
      const hello = JSON.parse(String(event.data));
      hellos.push(hello);
      answer(hello, socket);
    };
  });
  return { server, url: `ws://${HOST}:${(server.address() as net.AddressInfo).port}/`, hellos };
}
