// The order of a store's script calls when Redis does not know a script. A call goes out as EVALSHA; a Redis
// that has not cached the script (just started, restarted, SCRIPT FLUSH, a replica promoted, a cluster node
// that never saw SCRIPT LOAD) answers NOSCRIPT, and the call goes again as EVAL. Calls made meanwhile that
// found the script loaded (by an earlier EVAL) would then run before the retries of calls made ahead of
// them: a burst of appends would be stored, and replayed, out of publish order. So from the first NOSCRIPT
// until every call sent before it is answered (retries included), new calls wait; then they go in the order
// they were made. Calls to one topic go over one connection (one node on a cluster), where Redis runs them
// in the order sent, so their retries go in order too.

/** Whether Redis answered that it does not know the script (EVALSHA). */
function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

/** Runs script calls in the order they were made, across EVALSHA's NOSCRIPT fallback to EVAL. */
export class ScriptOrder {
  /** Calls sent and not yet answered (their EVAL retry included). */
  readonly #pending = new Set<Promise<unknown>>();
  /** Set from a NOSCRIPT until the calls pending then have been answered: new calls wait for it. */
  #recovering: Promise<void> | null = null;

  /** `bySha()` (EVALSHA), and `byScript()` (EVAL) should Redis answer NOSCRIPT. */
  async run<T>(bySha: () => Promise<T>, byScript: () => Promise<T>): Promise<T> {
    while (this.#recovering !== null) await this.#recovering;
    // Sent now, synchronously: calls not held are sent in the order they are made.
    const call = this.#attempt(bySha, byScript);
    this.#pending.add(call);
    try {
      return await call;
    } finally {
      this.#pending.delete(call);
    }
  }

  async #attempt<T>(bySha: () => Promise<T>, byScript: () => Promise<T>): Promise<T> {
    try {
      return await bySha();
    } catch (error) {
      if (!isNoScript(error)) throw error;
      // The calls sent before this answer may include some that will find the script loaded by this
      // call's EVAL: nothing new goes until all of them are answered.
      this.#recovering ??= Promise.allSettled([...this.#pending]).then(() => {
        this.#recovering = null;
      });
      return await byScript();
    }
  }
}
