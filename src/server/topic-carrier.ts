import { type PubSubAdapter, PubSubError } from "./adapter.js";
import { messageOf } from "./resume-record-saves.js";
import type { ResumeStore } from "./resume-store.js";

// Who tells the other processes which topics this one listens to (a topic's first local subscriber, its last
// unsubscribe): the adapter, or a distributing resume store in its place; and the server's 'error' when that
// fails. Apart from PubSub (pubsub.ts): once per topic, never per message, and one rule for both carriers.

/** What carries a topic's subscribe and unsubscribe to the other processes. */
export type TopicCarrier = Pick<PubSubAdapter, "subscribe" | "unsubscribe">;

/** The PubSubError code of a failed subscribe or unsubscribe. */
export type TopicCallCode = "SJ_ERR_ADAPTER_SUBSCRIBE" | "SJ_ERR_ADAPTER_UNSUBSCRIBE";

/** The carrier of topic calls now: a distributing store, else the adapter; null if there is neither. */
export function topicCarrier(store: ResumeStore | null, adapter: PubSubAdapter | null): TopicCarrier | null {
  // A distributing store hands over the topics it was told of, in place of the adapter.
  return store?.distributes
    ? {
        subscribe: (t: string) => store.subscribe!(t),
        unsubscribe: (t: string) => store.unsubscribe?.(t) ?? Promise.resolve(),
      }
    : adapter;
}

/** The server's 'error' for a topic's subscribe or unsubscribe that its carrier failed. */
export function topicCallError(code: TopicCallCode, topic: string, error: unknown): PubSubError {
  const verb = code === "SJ_ERR_ADAPTER_SUBSCRIBE" ? "subscribe to" : "unsubscribe from";
  return new PubSubError(
    code,
    `Could not ${verb} '${topic}' on the adapter: ${messageOf(error)}`,
    topic,
    error,
  );
}
