import { RedisTimeoutError } from "./adapter-options.js";
import { TimeoutError } from "./node-redis.js";

// A Redis call bounded in time, for RedisAdapter and RedisStreamStore (and the check of the adapter's
// commandTimeoutMs option). It fails with a RedisTimeoutError when Redis does not answer within the caller's
// commandTimeoutMs; the command itself may still complete later, so its memory is counted elsewhere
// (waiting-publishes.ts).
//
// node-redis 6 also has a command timeout of its own (5 s unless its client options say otherwise) for
// commands it has not written to the socket yet: a frozen Redis whose socket buffers are full has many, and
// so has a process too busy to write. It rejects them with a TimeoutError that has no message. Such a command
// was never sent and cannot run late; the error says so, and what it was.

/** `call`, or a RedisTimeoutError after `ms` (`onTimeout` runs then). */
export async function boundedCall<T>(
  call: Promise<T>,
  what: string,
  ms: number,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      unsentNamed(call, what),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout?.();
          reject(new RedisTimeoutError(what, ms));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `call`, with node-redis's own timeout turned into a RedisTimeoutError that says what was not sent. */
async function unsentNamed<T>(call: Promise<T>, what: string): Promise<T> {
  const started = performance.now();
  try {
    return await call;
  } catch (error) {
    if (error instanceof TimeoutError && error.message === "") {
      const ms = Math.round(performance.now() - started);
      throw new RedisTimeoutError(what, ms, {
        message:
          `${what[0].toUpperCase()}${what.slice(1)} was not sent to Redis within ${ms} ms (node-redis's ` +
          "command timeout: its connection's buffer was full, Redis not reading, or this process was too busy)",
        cause: error,
      });
    }
    throw error;
  }
}

/** The commandTimeoutMs option: a number of milliseconds above 0 (TypeError, RangeError otherwise). */
export function commandTimeout(value: unknown): number {
  if (value === undefined) return 5000;
  if (typeof value !== "number")
    throw new TypeError(`commandTimeoutMs must be a number of milliseconds, not a ${typeof value}`);
  if (!(value > 0 && Number.isFinite(value)))
    throw new RangeError(`commandTimeoutMs must be above 0 and finite, not ${value}`);
  return value;
}
