import { RedisTimeoutError } from "./adapter-options.js";

// node-redis 6 has a command timeout of its own (5 s unless its client options say otherwise) for commands it
// has not written to the socket yet: a frozen Redis whose socket buffers are full has many. It rejects them
// with a TimeoutError that has no message; the callers here say what timed out instead.

/**
 * `call`, with node-redis's own timeout (5 s by default, for a command not yet written to the socket; its
 * error has no message) turned into a RedisTimeoutError that says what timed out.
 */
export async function nodeRedisTimeoutNamed<T>(call: Promise<T>, what: string): Promise<T> {
  const started = performance.now();
  try {
    return await call;
  } catch (error) {
    if (error instanceof Error && error.constructor.name === "TimeoutError" && error.message === "")
      throw new RedisTimeoutError(what, Math.round(performance.now() - started));
    throw error;
  }
}
