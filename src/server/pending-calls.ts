// The adapter and store calls of the server's pub/sub that have not settled, so that close() can wait for
// them (and tests for adapterSettled()).

export class PendingCalls {
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  /** Runs `call` (its synchronous throw is a rejection too) and counts it until onDone/onError have run. */
  track(call: () => Promise<void>, onDone: () => void, onError: (error: unknown) => void): void {
    let promise: Promise<void>;
    try {
      promise = Promise.resolve(call());
    } catch (error) {
      promise = Promise.reject(error);
    }
    this.count++;
    promise.then(onDone, onError).finally(() => {
      if (--this.count > 0) return;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    });
  }

  /** Resolves once no call is pending. */
  settled(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
