import { TimeoutError } from "redis";
import { RedisTimeoutError } from "./adapter-options.js";

// node-redis 6 has a command timeout of its own (5 s unless its client options say otherwise) for commands it
// has not written to the socket yet: a frozen Redis whose socket buffers are full has many, and so has a
// process too busy to write. It rejects them with a TimeoutError that has no message; the callers here say
// what timed out instead. Such a command was never sent: it cannot run late.

/** `call`, with node-redis's own timeout turned into a RedisTimeoutError that says what was not sent. */
export async function nodeRedisTimeoutNamed<T>(call: Promise<T>, what: string): Promise<T> {
  const started = performance.now();
  try {
    return await call;
  } catch (error) {
    if (error instanceof TimeoutError && error.message === "") {
      const ms = Math.round(performance.now() - started);
      throw new RedisTimeoutError(what, ms, {
        message:
          `${what[0].toUpperCase()}${what.slice(1)} was not sent to Redis within ${ms} ms (node-redis's command timeout: its connection's ` +
          "buffer was full, Redis not reading, or this process was too busy)",
        cause: error,
      });
    }
    throw error;
  }
}
