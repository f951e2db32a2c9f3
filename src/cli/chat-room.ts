import type { WebSocket } from "../index.js";

// The chat room of `sockjet serve` on /chat. The wire format is JSON both ways (a line that is not JSON is
// taken as the text of a message, so `sockjet connect` users can just type):
//
//   client → server   {"type":"message","text":"hi"}
//   server → client   {"type":"welcome","user":"guest-1","users":2}          to the one who joined
//                     {"type":"join","user":"guest-2","users":2,"time":…}   to everyone, the joiner too
//                     {"type":"leave","user":"guest-2","users":1,"time":…}
//                     {"type":"message","user":"guest-1","text":"hi","time":…}
//                     {"type":"error","error":"…"}                           to the sender only
//
// Everything that reaches every member goes through a ChatBus. The default bus is this process; a scale-out
// bus (Redis pub/sub, `--redis URL`) carries the same strings between processes with no change here.

/** Carries the room's broadcasts. `publish` must reach every subscriber, including this process's own. */
export interface ChatBus {
  publish(payload: string): void;
  subscribe(deliver: (payload: string) => void): void;
  close(): Promise<void>;
}

/** The in-process bus: a publish is delivered at once to this process's subscribers. */
export class LocalChatBus implements ChatBus {
  private readonly subscribers: ((payload: string) => void)[] = [];
  publish(payload: string): void {
    for (const deliver of this.subscribers) deliver(payload);
  }
  subscribe(deliver: (payload: string) => void): void {
    this.subscribers.push(deliver);
  }
  async close(): Promise<void> {}
}

export interface ChatRoomOptions {
  /** Longest message text, in characters (UTF-16 code units). */
  maxTextLength?: number;
  /** Longest user name, in characters; longer names are cut. */
  maxNameLength?: number;
  bus?: ChatBus;
  /** The clock, for tests. */
  now?: () => number;
}

export type ChatEvent =
  | { type: "welcome"; user: string; users: number }
  | { type: "join" | "leave"; user: string; users: number; time: number }
  | { type: "message"; user: string; text: string; time: number }
  | { type: "error"; error: string };

export const CHAT_DEFAULTS = { maxTextLength: 1000, maxNameLength: 32 } as const;

export class ChatRoom {
  private readonly members = new Map<WebSocket, string>();
  private readonly bus: ChatBus;
  private readonly maxTextLength: number;
  private readonly maxNameLength: number;
  private readonly now: () => number;
  private guests = 0;

  constructor(options: ChatRoomOptions = {}) {
    this.maxTextLength = options.maxTextLength ?? CHAT_DEFAULTS.maxTextLength;
    this.maxNameLength = options.maxNameLength ?? CHAT_DEFAULTS.maxNameLength;
    this.bus = options.bus ?? new LocalChatBus();
    this.now = options.now ?? Date.now;
    this.bus.subscribe((payload) => {
      for (const socket of this.members.keys()) socket.send(payload);
    });
  }

  /** Members in this process. */
  get size(): number {
    return this.members.size;
  }

  /** Adds an open socket. `requestedName` (from `?name=`) is cleaned up; none or empty → guest-N. */
  join(socket: WebSocket, requestedName?: string | null): string {
    const name = this.uniqueName(this.cleanName(requestedName ?? "") || `guest-${++this.guests}`);
    this.members.set(socket, name);
    socket.addEventListener("message", (event) => this.onMessage(socket, event.data));
    socket.addEventListener("close", () => this.leave(socket));
    send(socket, { type: "welcome", user: name, users: this.members.size });
    this.broadcast({ type: "join", user: name, users: this.members.size, time: this.now() });
    return name;
  }

  private leave(socket: WebSocket): void {
    const name = this.members.get(socket);
    if (name === undefined) return;
    this.members.delete(socket);
    this.broadcast({ type: "leave", user: name, users: this.members.size, time: this.now() });
  }

  private onMessage(socket: WebSocket, data: unknown): void {
    const user = this.members.get(socket);
    if (user === undefined) return;
    if (typeof data !== "string") {
      send(socket, { type: "error", error: "binary messages are not supported in the chat; send text" });
      return;
    }
    const text = messageText(data);
    if (text === null) {
      send(socket, { type: "error", error: 'expected {"type":"message","text":"…"} or a line of text' });
      return;
    }
    if (text.trim() === "") return;
    if (text.length > this.maxTextLength) {
      send(socket, {
        type: "error",
        error: `message too long: ${text.length} characters, at most ${this.maxTextLength}`,
      });
      return;
    }
    this.broadcast({ type: "message", user, text, time: this.now() });
  }

  private broadcast(event: ChatEvent): void {
    // Serialized once; every member gets the same string.
    this.bus.publish(JSON.stringify(event));
  }

  private cleanName(raw: string): string {
    // Letters, digits, space and a little punctuation; the page renders names with textContent anyway.
    const cleaned = raw
      .normalize("NFC")
      .replace(/[^\p{L}\p{N} _.@-]/gu, "")
      .replace(/\s+/g, " ")
      .trim();
    return Array.from(cleaned).slice(0, this.maxNameLength).join("");
  }

  private uniqueName(name: string): string {
    const taken = new Set(this.members.values());
    if (!taken.has(name)) return name;
    for (let n = 2; ; n++) if (!taken.has(`${name}-${n}`)) return `${name}-${n}`;
  }
}

function send(socket: WebSocket, event: ChatEvent): void {
  socket.send(JSON.stringify(event));
}

/** The text of a client message: JSON {type:"message",text} or {text}, or any line that is not JSON. */
function messageText(data: string): string | null {
  const trimmed = data.trimStart();
  if (!trimmed.startsWith("{")) return data;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return data;
  }
  if (parsed === null || typeof parsed !== "object") return null;
  const { type, text } = parsed as { type?: unknown; text?: unknown };
  if ((type !== undefined && type !== "message") || typeof text !== "string") return null;
  return text;
}
