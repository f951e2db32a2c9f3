// The scale-out adapter: carries topic publishes between the processes (and hosts) that serve the same
// topics, so subscribers of a topic get every publish whichever process made it. The server calls it on
// every publish and when a topic gets its first local subscriber or loses its last one; the adapter hands
// back what the other processes published. `sockjet/redis` is the one we ship (src/redis/).

/** A published message as it travels between processes: the payload, not the frame. */
export interface AdapterMessage {
  topic: string;
  /** The application bytes (UTF-8 for text). */
  payload: Buffer;
  isText: boolean;
}

/** Carries topic publishes to and from other processes (the server's `adapter` option; see sockjet/redis). */
export interface PubSubAdapter {
  /**
   * Sends a message published in this process to the other processes. Resolves once the broker has taken
   * it; rejects when it cannot (the broker is unreachable): the server reports that as an 'error' and counts
   * it. Calls made in order must reach every other process in that order.
   */
  publish(message: AdapterMessage): Promise<void>;
  /** From now on, hand over what other processes publish to `topic`. Idempotent. */
  subscribe(topic: string): Promise<void>;
  /** Stop handing over `topic`. Idempotent. */
  unsubscribe(topic: string): Promise<void>;
  /**
   * Where to hand over messages published by other processes. The adapter never hands back a publish of its
   * own process: that one was delivered locally already.
   */
  onMessage(handler: (message: AdapterMessage) => void): void;
  /** Trouble not tied to one call, such as a lost broker connection. */
  onError?(handler: (error: Error) => void): void;
  /** Releases the adapter's connections. */
  close(): Promise<void>;
}

/** The `code` of a PubSubError: which adapter call failed. */
export type PubSubErrorCode =
  | "SJ_ERR_ADAPTER_PUBLISH"
  | "SJ_ERR_ADAPTER_SUBSCRIBE"
  | "SJ_ERR_ADAPTER_UNSUBSCRIBE"
  | "SJ_ERR_ADAPTER"
  /** The resume store failed to save a session's record or to read a replay (docs/resume.md). */
  | "SJ_ERR_RESUME_STORE"
  /** The server's resume.identify threw, or returned something other than a string (docs/resume.md). */
  | "SJ_ERR_RESUME_IDENTIFY";

/** What the server emits as 'error' when the adapter fails; `cause` is the adapter's own error. */
export class PubSubError extends Error {
  readonly code: PubSubErrorCode;
  /** The topic of the failed publish or (un)subscribe, if any. */
  readonly topic: string | undefined;

  constructor(code: PubSubErrorCode, message: string, topic: string | undefined, cause: unknown) {
    super(message, { cause });
    this.name = "PubSubError";
    this.code = code;
    this.topic = topic;
  }
}

/** options.adapter: absent, or an object with the PubSubAdapter methods (a URL string is a common mistake). */
export function checkAdapter(adapter: PubSubAdapter | null | undefined): PubSubAdapter | null {
  if (adapter === undefined || adapter === null) return null;
  const methods = ["publish", "subscribe", "unsubscribe", "onMessage", "close"] as const;
  const missing = methods.filter(
    (name) => typeof (adapter as unknown as Record<string, unknown>)?.[name] !== "function",
  );
  if (missing.length > 0)
    throw new TypeError(
      `options.adapter must be a PubSubAdapter (new RedisAdapter(...) from sockjet/redis, new ClusterAdapter()); this one has no ${missing.join(", ")}`,
    );
  return adapter;
}
