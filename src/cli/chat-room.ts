import type { WebSocket } from "../index.js";
import { RESUME_PROTOCOL } from "../server/resume-wire.js";
import {
  type ChatAddressLevel,
  chatAddressLevels,
  MembersPerAddress,
  type SharedMemberCount,
} from "./chat-address.js";
import { ChatLineRate } from "./chat-line-rate.js";
import { cleanName, cleanText } from "./chat-names.js";
import { NoticeThrottle } from "./chat-notices.js";
import { type ChatPresence, LocalPresence } from "./chat-presence.js";
import {
  CHAT_CLOSE,
  CHAT_DEFAULTS,
  type ChatEvent,
  type ChatHub,
  type ChatRoomOptions,
} from "./chat-room-options.js";

export type { ChatPresence } from "./chat-presence.js";

// The chat room of `sockjet serve` on /chat. The wire format is JSON both ways (a line that is not JSON is
// taken as the text of a message, so `sockjet connect` users can just type):
//
//   client → server   {"type":"message","text":"hi"}
//                     {"type":"rejoin","user":"guest-1"}   first message of a resumed connection (below)
//   server → client   {"type":"welcome","user":"guest-1","users":2}          to the one who joined
//                     {"type":"join","user":"guest-2","users":2,"time":…}   to everyone, the joiner too
//                     {"type":"leave","user":"guest-2","users":1,"time":…}
//                     {"type":"presence","joined":40,"left":2,"users":80,"time":…}   many joins at once
//                     {"type":"message","user":"guest-1","text":"hi","time":…}
//                     {"type":"error","error":"…"}                           to the sender only
//
// Join and leave notices beyond 10 a second are summed up in one "presence" notice a second
// (chat-notices.ts). A join the room refuses gets an "error" and the close code 4008 (too many members from
// one address: policy, as 1008) or 4013 (presence cannot answer now: try again later, as 1013); RFC 6455
// §7.4.2 leaves 4000–4999 to applications, and the WHATWG close() allows no other.
// What a name and a text may be: chat-names.ts.
//
// Resumed connections (docs/resume.md: `sockjet serve` turns resume on for the room): the server gives a
// resumed socket its subscription back and replays the lines it missed; the room then welcomes it again. To
// keep its name, the client's first message on a resumed connection is a rejoin with the name it had; the
// room waits for it at most rejoinWaitMs. It is a request like ?name= (anyone may ask for any free name):
// the member gets its name back unless someone took it meanwhile.
//
// Everything that reaches every member is one `server.publish(topic, json)`: every member's socket is subscribed
// to the room's topic ("chat"), so a broadcast is framed once and written to every member here, and with a
// scale-out adapter (`sockjet serve --redis URL`) it reaches the members in every other process too, once each.
// Who is in the room (unique names, the user count) is a ChatPresence: this process by default; with
// `--redis`, a registry in Redis shared by every process (chat-redis.ts), so the count is the whole room's.

export class ChatRoom {
  /** Members in this process that have been welcomed and announced. */
  private readonly members = new Map<WebSocket, string>();
  /** Sockets waiting for their name (presence may be a round trip to Redis), with what they sent meanwhile. */
  private readonly joining = new Map<WebSocket, EarlyMessages>();
  private readonly hub: ChatHub;
  private readonly presence: ChatPresence;
  readonly topic: string;
  private readonly maxTextLength: number;
  private readonly maxNameLength: number;
  private readonly maxMembersPerAddress: number;
  private readonly sharedCount: SharedMemberCount | undefined;
  private readonly lineRate: ChatLineRate;
  private readonly adapterWaitMs: number;
  private readonly maxEarlyMessages: number;
  private readonly maxEarlyBytes: number;
  private readonly rejoinWaitMs: number;
  private readonly now: () => number;
  private readonly notices: NoticeThrottle;
  /** Members and joins in progress per remote address (and IPv6 /48). */
  private readonly perAddress = new MembersPerAddress();
  private closed = false;
  /** This process's subscription to the room, while it is being confirmed (see join()). */
  private opening: Promise<void> | null = null;

  constructor(options: ChatRoomOptions) {
    this.hub = options.hub;
    this.presence = options.presence ?? new LocalPresence();
    this.topic = options.topic ?? CHAT_DEFAULTS.topic;
    this.maxTextLength = options.maxTextLength ?? CHAT_DEFAULTS.maxTextLength;
    this.maxNameLength = options.maxNameLength ?? CHAT_DEFAULTS.maxNameLength;
    this.maxMembersPerAddress = options.maxMembersPerAddress ?? CHAT_DEFAULTS.maxMembersPerAddress;
    this.sharedCount = options.sharedCount;
    this.lineRate = new ChatLineRate(options.linesPerSecond ?? CHAT_DEFAULTS.linesPerSecond);
    this.adapterWaitMs = options.adapterWaitMs ?? CHAT_DEFAULTS.adapterWaitMs;
    this.maxEarlyMessages = options.maxEarlyMessages ?? CHAT_DEFAULTS.maxEarlyMessages;
    this.maxEarlyBytes = options.maxEarlyBytes ?? CHAT_DEFAULTS.maxEarlyBytes;
    this.rejoinWaitMs = options.rejoinWaitMs ?? CHAT_DEFAULTS.rejoinWaitMs;
    this.now = options.now ?? Date.now;
    this.notices = new NoticeThrottle({
      perWindow: options.noticesPerWindow ?? CHAT_DEFAULTS.noticesPerWindow,
      windowMs: options.noticeWindowMs ?? CHAT_DEFAULTS.noticeWindowMs,
      publish: (notice) => this.broadcast(notice),
      now: this.now,
    });
  }

  /** Members in this process. */
  get size(): number {
    return this.members.size;
  }

  /**
   * Adds an open socket. `requestedName` (from `?name=`) is cleaned up; none or empty → guest-N. Resolves
   * with the name it got once the member is welcomed and announced, or null if the socket closed first.
   * The welcome is the member's first message, once this process's subscription to the room is confirmed
   * (the first line said after it reaches the member, wherever it is said; a line said while the first
   * member here waits for that may come before). What it sends before its welcome is handled after its join notice,
   * up to maxEarlyMessages / maxEarlyBytes: past that the join is refused (4008), for a join may wait long
   * (a frozen Redis) and the socket's input cannot be paused from here.
   */
  async join(socket: WebSocket, requestedName?: string | null): Promise<string | null> {
    const levels = chatAddressLevels(socket.remoteAddress);
    const full = this.perAddress.add(levels, this.maxMembersPerAddress);
    if (full !== null) {
      this.refuseFull(socket, full);
      return null;
    }
    socket.addEventListener("close", () => this.perAddress.remove(levels));

    const early: EarlyMessages = { messages: [], bytes: 0, refused: false, arrived: null };
    this.joining.set(socket, early);
    socket.addEventListener("message", (event) => {
      const waiting = this.joining.get(socket);
      if (waiting === undefined) {
        this.onMessage(socket, event.data);
        return;
      }
      if (waiting.refused) return;
      waiting.bytes += byteSize(event.data);
      if (waiting.messages.length >= this.maxEarlyMessages || waiting.bytes > this.maxEarlyBytes) {
        waiting.refused = true;
        waiting.messages.length = 0;
        this.refuse(
          socket,
          CHAT_CLOSE.tooMuchBeforeWelcome,
          `too much sent before the welcome (at most ${this.maxEarlyMessages} messages, ${this.maxEarlyBytes} bytes)`,
        );
        return;
      }
      waiting.messages.push(event.data);
      waiting.arrived?.();
    });
    socket.addEventListener("close", () => this.leave(socket));
    // Then across the processes that share the count (one round trip), released as the socket closes.
    if (this.sharedCount !== undefined) {
      const shared = this.sharedCount.add(levels, this.maxMembersPerAddress);
      socket.addEventListener("close", shared.release);
      const fullThere = await shared.full;
      if (fullThere !== null) {
        this.joining.delete(socket);
        this.refuseFull(socket, fullThere);
        return null;
      }
    }

    let requested = requestedName ?? "";
    if ((socket as { resumed?: boolean }).resumed === true) {
      const rejoin = await this.rejoinName(socket, early);
      if (rejoin !== null) requested = rejoin;
    }
    const joined = await this.presence.join(cleanName(requested, this.maxNameLength), {
      levels,
      perAddress: this.maxMembersPerAddress,
    });
    if ("refused" in joined || "full" in joined) {
      this.joining.delete(socket);
      if ("full" in joined) this.refuseFull(socket, joined.full);
      else this.refuse(socket, CHAT_CLOSE.tryAgainLater, joined.refused);
      return null;
    }
    const { name, users } = joined;
    if (this.closed || socket.readyState !== socket.OPEN) {
      this.joining.delete(socket);
      if (!this.closed) await this.presence.leave(name);
      return null;
    }
    // The first member here makes this process subscribe to the topic (in Redis, with an adapter): its
    // welcome, and that of whoever joins meanwhile, waits for that, or a line said at once elsewhere could
    // reach Redis first and be lost to the joiner. Later members do not wait. Bounded: a Redis that does
    // not answer must not hold the join forever (issue 21 item 12).
    const opens = this.hub.subscriberCount(this.topic) === 0;
    socket.subscribe(this.topic);
    if (opens) {
      const opening = withinMs(this.hub.adapterSettled(), this.adapterWaitMs);
      this.opening = opening;
      opening.then(() => {
        if (this.opening === opening) this.opening = null;
      });
    }
    if (this.opening !== null) await this.opening;
    this.joining.delete(socket);
    if (this.closed || socket.readyState !== socket.OPEN) {
      if (!this.closed) await this.presence.leave(name);
      return null;
    }
    send(socket, { type: "welcome", user: name, users });
    this.members.set(socket, name);
    this.notices.notice({ type: "join", user: name, users, time: this.now() });
    for (const data of early.messages) this.onMessage(socket, data);
    return name;
  }

  /**
   * This process stops serving the room (shutdown): its members leave the room at once, and the others
   * (in other processes) get their leave notices. The sockets themselves are closed by the server.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const sockets = [...this.members.keys()];
    const names = [...this.members.values()];
    this.members.clear();
    // They are about to get a 1001; the notices are for the members elsewhere. A resumable session keeps
    // its subscription: its record (saved as it closes) is what a resume restores, elsewhere or here later.
    for (const socket of sockets) if (socket.protocol !== RESUME_PROTOCOL) socket.unsubscribe(this.topic);
    if (names.length > 0) {
      const users = await this.presence.leaveAll(names);
      // One notice per member, counting down as if they had left one after the other (throttled as usual).
      for (const [i, user] of names.entries()) {
        this.notices.notice({ type: "leave", user, users: users + names.length - 1 - i, time: this.now() });
      }
    }
    this.notices.flush();
    await withinMs(this.hub.adapterSettled(), this.adapterWaitMs);
  }

  /** The name a resumed socket rejoins with: its first message, if that is a rejoin (taken out of `early`). */
  private async rejoinName(socket: WebSocket, early: EarlyMessages): Promise<string | null> {
    if (early.messages.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        early.arrived = resolve;
        socket.addEventListener("close", () => resolve());
        timer = setTimeout(resolve, this.rejoinWaitMs);
      });
      clearTimeout(timer);
      early.arrived = null;
    }
    const first = early.messages[0];
    if (typeof first !== "string" || !first.startsWith("{")) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(first);
    } catch {
      return null;
    }
    const { type, user } = (parsed ?? {}) as { type?: unknown; user?: unknown };
    if (type !== "rejoin" || typeof user !== "string") return null;
    early.messages.shift();
    return user;
  }

  private leave(socket: WebSocket): void {
    const name = this.members.get(socket);
    if (name === undefined) return;
    this.members.delete(socket);
    // The server unsubscribes a closed socket from its topics by itself.
    this.presence.leave(name).then((users) => {
      if (!this.closed) this.notices.notice({ type: "leave", user: name, users, time: this.now() });
    });
  }

  /** A member past its address level's limit (counted here, or across the workers by the primary). */
  private refuseFull(socket: WebSocket, full: ChatAddressLevel): void {
    const most = this.maxMembersPerAddress * full.share;
    this.refuse(
      socket,
      CHAT_CLOSE.tooManyFromAddress,
      `too many chat members from ${full.name} (at most ${most})`,
    );
  }

  private refuse(socket: WebSocket, code: number, error: string): void {
    if (socket.readyState !== socket.OPEN) return;
    send(socket, { type: "error", error });
    socket.close(code, error.length > 100 ? "refused" : error);
  }

  private onMessage(socket: WebSocket, data: unknown): void {
    const user = this.members.get(socket);
    if (user === undefined) return;
    if (typeof data !== "string") {
      send(socket, { type: "error", error: "binary messages are not supported in the chat; send text" });
      return;
    }
    const raw = messageText(data);
    if (raw === null) {
      send(socket, { type: "error", error: 'expected {"type":"message","text":"…"} or a line of text' });
      return;
    }
    // The length is checked on what was sent, before any cleaning: cleaning costs work in the text's length,
    // and only shortens it.
    if (raw.length > this.maxTextLength) {
      send(socket, {
        type: "error",
        error: `message too long: ${raw.length} characters, at most ${this.maxTextLength}`,
      });
      return;
    }
    const text = cleanText(raw);
    if (text.trim() === "") return;
    if (!this.lineRate.allow(socket, chatAddressLevels(socket.remoteAddress))) {
      send(socket, {
        type: "error",
        error: `too many lines: at most ${this.lineRate.limit} a second; this one was not sent`,
      });
      return;
    }
    this.broadcast({ type: "message", user, text, time: this.now() });
  }

  private broadcast(event: ChatEvent): void {
    // Serialized and framed once; every member, here and in the other processes, gets the same bytes.
    this.hub.publish(this.topic, JSON.stringify(event));
  }
}

/** What a joining socket sent before its welcome, and its size in bytes. */
interface EarlyMessages {
  messages: unknown[];
  bytes: number;
  /** Sent too much: refused, what comes next is dropped. */
  refused: boolean;
  /** Called at each message while a rejoin is waited for. */
  arrived: (() => void) | null;
}

/** The size of a message's data in bytes (text as UTF-8). */
function byteSize(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof Blob) return data.size;
  return 0;
}

/** Waits for `promise`, at most `ms`. */
async function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
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
  // A rejoin that came late (after the wait) or on a fresh connection: nothing to say.
  if (type === "rejoin") return "";
  if ((type !== undefined && type !== "message") || typeof text !== "string") return null;
  return text;
}
