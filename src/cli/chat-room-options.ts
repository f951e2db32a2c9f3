import type { SharedMemberCount } from "./chat-address.js";
import type { PresenceNotice, PresenceSummary } from "./chat-notices.js";
import type { ChatPresence } from "./chat-presence.js";

// What a ChatRoom (chat-room.ts) is made with, what it sends, and its defaults and close codes.

/** What the room needs of the server: topics. WebSocketServer has these methods. */
export interface ChatHub {
  publish(topic: string, data: string): number;
  /** Sockets of this process subscribed to the topic. */
  subscriberCount(topic: string): number;
  /** Resolves once the scale-out adapter has answered every (un)subscribe and publish made so far. */
  adapterSettled(): Promise<void>;
}

export interface ChatRoomOptions {
  /** The server whose topics carry the room's broadcasts. */
  hub: ChatHub;
  /** Who is in the room. Default: this process (LocalPresence). */
  presence?: ChatPresence;
  /** The topic every member is subscribed to. Default "chat". */
  topic?: string;
  /** Longest message text, in characters (UTF-16 code units). */
  maxTextLength?: number;
  /** Longest user name, in characters; longer names are cut. */
  maxNameLength?: number;
  /** Members (and joins in progress) from one remote address; more are refused. Default 20. */
  maxMembersPerAddress?: number;
  /**
   * Who also counts members per address, beyond this process (serve --workers --redis: the primary, for
   * the workers). A presence that counts them itself (the primary's, without --redis) needs none.
   */
  sharedCount?: SharedMemberCount;
  /** Lines per second each member may say, in bursts of twice that; 0 = no limit. Default 10. */
  linesPerSecond?: number;
  /** Join and leave notices sent one by one per window; past that, one summary a window. Default 10. */
  noticesPerWindow?: number;
  /** The window of noticesPerWindow. Default 1000 ms. */
  noticeWindowMs?: number;
  /**
   * Longest wait for the scale-out adapter to confirm this process's subscription to the room (the first
   * member here waits for it before its welcome) before the member is welcomed anyway. Default 5 s.
   */
  adapterWaitMs?: number;
  /**
   * What a joining socket may send before its welcome (kept, handled after its join notice): at most this
   * many messages, and this many bytes (UTF-8) in all. Past either, the join is refused with 4008. Defaults
   * 20 and 64 KiB.
   */
  maxEarlyMessages?: number;
  maxEarlyBytes?: number;
  /** How long a resumed socket's rejoin (its first message) is waited for. Default 2 s. */
  rejoinWaitMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

export type ChatEvent =
  | { type: "welcome"; user: string; users: number }
  | PresenceNotice
  | PresenceSummary
  | { type: "message"; user: string; text: string; time: number }
  | { type: "error"; error: string };

export const CHAT_DEFAULTS = {
  maxTextLength: 1000,
  maxNameLength: 32,
  topic: "chat",
  maxMembersPerAddress: 20,
  linesPerSecond: 10,
  noticesPerWindow: 10,
  noticeWindowMs: 1000,
  adapterWaitMs: 5000,
  maxEarlyMessages: 20,
  maxEarlyBytes: 64 * 1024,
  rejoinWaitMs: 2000,
} as const;

/** Close codes of a refused join (see the top of this file). */
export const CHAT_CLOSE = {
  tooManyFromAddress: 4008,
  tooMuchBeforeWelcome: 4008,
  tryAgainLater: 4013,
} as const;
