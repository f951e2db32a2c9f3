// Helpers for the resume tests that run on Redis: a resume client that speaks the wire format by hand
// (docs/resume.md) and keeps its positions, server processes driven over IPC, and a TCP relay whose
// connections a test cuts (a network drop, noticed by both sides or by the client only).

import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, within } from "../pubsub/helpers.js";

export interface TopicMessage {
  topic: string;
  position: string;
  data: string;
}

/** One resume connection after another, as a client would make them, keeping the session's token and positions. */
export class RawResumeClient {
  token: string | null = null;
  readonly positions: Record<string, string> = {};
  /** Every topic message received, over every connection, in order. */
  readonly received: TopicMessage[] = [];
  /** Control messages (parsed) and direct messages ("direct:<text>"), in order. */
  readonly events: Record<string, unknown>[] = [];
  socket: WebSocket | null = null;
  /** The topic numbers announced on the current connection (its `topic` control messages). */
  private topicNames = new Map<number, string>();

  /** Opens a connection to `url`: a hello, or a resume when a token is held. Resolves once it has a session. */
  async connect(url: string, protocols: string[] = []): Promise<Record<string, unknown>> {
    const socket = new WebSocket(url, ["sockjet.resume.1", ...protocols]);
    this.socket = socket;
    this.topicNames = new Map();
    const from = this.events.length;
    socket.addEventListener("message", (event) => this.onMessage(event.data as string));
    await within(once(socket, "open"), 10_000, "the resume connection to open");
    const hello =
      this.token === null
        ? { type: "hello" }
        : { type: "resume", token: this.token, positions: { ...this.positions } };
    socket.send(JSON.stringify(hello));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const session = this.events.slice(from).find((event) => event.type === "session");
      if (session !== undefined) return session;
      if (socket.readyState === WebSocket.CLOSED)
        throw new Error("the resume connection closed before its session");
      if (Date.now() > deadline) throw new Error("no session within 10 s");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The events of one type since `from`. */
  eventsOf(type: string, from = 0): Record<string, unknown>[] {
    return this.events.slice(from).filter((event) => event.type === type);
  }

  private onMessage(data: string): void {
    const kind = data.charCodeAt(0);
    if (kind === 0) {
      this.events.push({ type: "direct", data: data.slice(1) });
    } else if (kind === 2) {
      const control = JSON.parse(data.slice(1)) as Record<string, unknown>;
      if (control.type === "topic") {
        // Not an event of the session: the number its envelopes give a topic on this connection.
        this.topicNames.set(Number(control.id), String(control.topic));
        return;
      }
      if (control.type === "session") this.token = String(control.token);
      if (control.type === "reset")
        for (const topic of Object.keys(this.positions)) delete this.positions[topic];
      this.events.push(control);
    } else if (kind === 1) {
      // 0x01 "<topic number> <position>\n" payload
      const newline = data.indexOf("\n");
      const header = data.slice(1, newline);
      const space = header.indexOf(" ");
      const position = header.slice(space + 1);
      const topic = this.topicNames.get(Number(header.slice(0, space)));
      assert.ok(topic !== undefined, `a topic number announced before its message: ${header}`);
      this.positions[topic] = position;
      this.received.push({ topic, position, data: data.slice(newline + 1) });
    } else {
      this.events.push({ type: "unknown", data });
    }
  }
}

export interface Relay {
  port: number;
  /** Destroys every connection through the relay (both sides notice). */
  cut(): void;
  /**
   * A network drop only the client notices: the client side of every connection is destroyed, the server
   * side stays open and silent (what the server writes is read and dropped).
   */
  dropClientSide(): void;
  /** New connections go to this port from now on (the client's URL stays the same). */
  retarget(port: number): void;
  close(): void;
}

/** A TCP relay to a port on 127.0.0.1, as a network path a test can cut or reroute. */
export async function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; dropped: boolean }>();
  let target = targetPort;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, HOST);
    const pair = { client, upstream, dropped: false };
    pairs.add(pair);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => {
      if (!pair.dropped) upstream.destroy();
    });
    upstream.on("close", () => {
      pairs.delete(pair);
      client.destroy();
    });
  });
  server.listen(0, HOST);
  await within(once(server, "listening"), 5000, "the relay to listen");
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    cut,
    dropClientSide() {
      for (const pair of pairs) {
        if (pair.dropped) continue;
        pair.dropped = true;
        pair.upstream.unpipe(pair.client);
        pair.upstream.resume();
        pair.client.destroy();
      }
    },
    retarget(port: number) {
      target = port;
    },
    close() {
      cut();
      server.close();
    },
  };
}

/** A server process of test/resume/fixtures/redis-resume-node.ts. */
export class ResumeServerProcess {
  readonly child: ChildProcess;
  port = 0;
  readonly events: Record<string, unknown>[] = [];
  output = "";
  private nextRequest = 0;

  private constructor(
    redisUrl: string,
    readonly name: string,
  ) {
    const script = fileURLToPath(new URL("./fixtures/redis-resume-node.ts", import.meta.url));
    this.child = fork(script, [redisUrl, name], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.child.stdout?.on("data", (chunk) => (this.output += chunk));
    this.child.stderr?.on("data", (chunk) => (this.output += chunk));
    this.child.on("message", (message) => this.events.push(message as Record<string, unknown>));
  }

  static async start(redisUrl: string, name: string): Promise<ResumeServerProcess> {
    const node = new ResumeServerProcess(redisUrl, name);
    const listening = await node.waitFor((e) => e.type === "listening", 20_000, "listening");
    node.port = listening.port as number;
    return node;
  }

  async waitFor(
    predicate: (event: Record<string, unknown>) => boolean,
    ms: number,
    label: string,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find(predicate);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited:\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${this.name}: ${label}\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async request(command: Record<string, unknown>, ms = 30_000): Promise<Record<string, unknown>> {
    const id = this.nextRequest++;
    this.child.send({ ...command, id });
    return this.waitFor((e) => e.type === "reply" && e.id === id, ms, `reply to ${String(command.cmd)}`);
  }

  /** SIGKILL: the process dies without closing anything (a crash). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.kill("SIGKILL");
    await within(exited, 10_000, `${this.name} to die`);
  }
}
