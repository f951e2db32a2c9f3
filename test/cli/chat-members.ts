import { type ResumableMessageEvent, ResumableWebSocket, type ResumeEvent } from "../../src/resume/client.js";
import { WebSocket } from "../../src/web/websocket.js";
import type { Served } from "./helpers.js";

// Chat members for the tests of serve's resumable chat (serve-resume, serve-redis-cluster).

export type ChatEvent = Record<string, unknown>;
/** A chat member on the resume client, behaving as the demo page does (rejoin with its name on a resume). */
export class ResumingMember {
  readonly socket: ResumableWebSocket;
  readonly events: ChatEvent[] = [];
  readonly sessions: boolean[] = [];
  readonly resets: string[] = [];
  me: string | null = null;

  /** `WebSocketClass`: the WebSocket the resume client runs on (sockjet's by default). */
  constructor(url: string, WebSocketClass: unknown = WebSocket) {
    this.socket = new ResumableWebSocket(url, {
      WebSocket: WebSocketClass as never,
      protocols: ["chat"],
      initialDelayMs: 50,
      maxDelayMs: 200,
    });
    this.socket.addEventListener("session", (event) => {
      const resumed = (event as ResumeEvent).resumed;
      this.sessions.push(resumed);
      if (resumed && this.me !== null) this.socket.send(JSON.stringify({ type: "rejoin", user: this.me }));
    });
    this.socket.addEventListener("reset", (event) => this.resets.push((event as ResumeEvent).reason));
    this.socket.addEventListener("message", (event) => {
      const parsed = JSON.parse(String((event as ResumableMessageEvent).data)) as ChatEvent;
      if (parsed.type === "welcome") this.me = String(parsed.user);
      this.events.push(parsed);
    });
  }

  lines(from: string): string[] {
    return this.events
      .filter((event) => event.type === "message" && event.user === from)
      .map((event) => String(event.text));
  }

  welcomes(): string[] {
    return this.events.filter((event) => event.type === "welcome").map((event) => String(event.user));
  }
}

/** A plain chat member (subprotocol "chat", no resume): says LINES lines as fast as it can. */
export async function plainMember(served: Served, name: string): Promise<WebSocket> {
  const socket = new WebSocket(`${served.ws}/chat?name=${name}`, "chat");
  const welcomed = new Promise<void>((resolve, reject) => {
    socket.addEventListener("message", (event) => {
      if (String(event.data).includes('"welcome"')) resolve();
    });
    socket.addEventListener("close", () => reject(new Error(`${name} closed before its welcome`)));
  });
  await welcomed;
  return socket;
}

export function say(socket: WebSocket, count: number): void {
  for (let i = 0; i < count; i++) socket.send(JSON.stringify({ type: "message", text: `line ${i}` }));
}
