import type { IncomingMessage } from "node:http";
import { MemoryResumeStore } from "./memory-resume-store.js";
import type { ResumeStore } from "./resume-store.js";

// The server's `resume` option (docs/resume.md): validated here, with its defaults, like the other options.

/** The server's `resume` option (docs/resume.md). */
export interface ResumeOptions {
  /** Where positions, messages and session records live. Default: a MemoryResumeStore (this process only). */
  store?: ResumeStore;
  /** How long after its disconnection a session can be resumed. Default 120,000 ms. */
  maxDisconnectionMs?: number;
  /** Messages of each topic kept for a replay (the default store's ring; read per page). Default 1000. */
  maxMessagesPerTopic?: number;
  /**
   * Who the connection belongs to (e.g. the user your `verify` authenticated, read from the request): a
   * session is bound to it, and its token presented on a connection of another identity is refused
   * (`reset` "forged"), so a stolen token is of no use to another user. Default: none (a bearer token).
   */
  identify?: (request: IncomingMessage) => string;
}

/** The defaults of ResumeOptions. */
export const RESUME_DEFAULTS = {
  maxDisconnectionMs: 120_000,
  maxMessagesPerTopic: 1000,
} as const;

export interface ResolvedResume {
  store: ResumeStore;
  maxDisconnectionMs: number;
  maxMessagesPerTopic: number;
  identify: ((request: IncomingMessage) => string) | null;
}

/** null when resume is off (`resume` undefined, null or false). */
export function resolveResumeOptions(value: unknown): ResolvedResume | null {
  if (value === undefined || value === null || value === false) return null;
  const options: ResumeOptions = value === true ? {} : (value as ResumeOptions);
  if (typeof options !== "object") throw new TypeError("options.resume must be an object, true or null");
  checkSocketIoNames(options);
  // The memory store's ring size: a store of one's own is sized by its own options (one bound, one place).
  if (options.store !== undefined && options.maxMessagesPerTopic !== undefined)
    throw new TypeError(
      "options.resume.maxMessagesPerTopic sizes the default MemoryResumeStore only: with options.resume.store, give the bound to the store itself (e.g. new MemoryResumeStore({ maxMessagesPerTopic }))",
    );
  const maxDisconnectionMs = positive(
    options.maxDisconnectionMs,
    RESUME_DEFAULTS.maxDisconnectionMs,
    "maxDisconnectionMs",
  );
  const maxMessagesPerTopic = positive(
    options.maxMessagesPerTopic,
    RESUME_DEFAULTS.maxMessagesPerTopic,
    "maxMessagesPerTopic",
  );
  if (!Number.isSafeInteger(maxMessagesPerTopic))
    throw new TypeError("options.resume.maxMessagesPerTopic must be a positive integer");
  const store = options.store ?? new MemoryResumeStore({ maxMessagesPerTopic });
  for (const method of [
    "append",
    "readAfter",
    "lastPosition",
    "saveSession",
    "takeSession",
    "close",
  ] as const) {
    if (typeof store[method] !== "function")
      throw new TypeError(`options.resume.store must be a ResumeStore (it has no ${method}())`);
  }
  if (
    store.distributes === true &&
    (typeof store.onAppended !== "function" || typeof store.subscribe !== "function")
  )
    throw new TypeError("options.resume.store distributes, so it must have onAppended() and subscribe()");
  if (options.identify !== undefined && typeof options.identify !== "function")
    throw new TypeError("options.resume.identify must be a function (request) => string");
  return { store, maxDisconnectionMs, maxMessagesPerTopic, identify: options.identify ?? null };
}

/** Socket.IO's connectionStateRecovery names, which would otherwise be ignored without a word. */
const SOCKET_IO_NAMES: Record<string, string> = {
  maxDisconnectionDuration: "is Socket.IO's name: sockjet's is maxDisconnectionMs",
  skipMiddlewares: "is Socket.IO's: sockjet has no middleware to skip (verify runs on every handshake)",
};

function checkSocketIoNames(options: object): void {
  for (const [name, hint] of Object.entries(SOCKET_IO_NAMES))
    if (Object.hasOwn(options, name)) throw new TypeError(`options.resume.${name} ${hint}`);
}

function positive(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 1) || !Number.isFinite(value))
    throw new TypeError(`options.resume.${name} must be a finite number ≥ 1`);
  return value;
}
