// Publishes that wait behind a Blob being read. publish() accepts what send() accepts, Blobs included, and
// like send() keeps call order = delivery order (WHATWG send(): a Blob's bytes are sent in turn): while a
// Blob is read, every later publish waits in line behind it, and runs as soon as its turn comes.

export class PublishQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** Whether a publish is waiting: a new one must then wait too. */
  get busy(): boolean {
    return this.waiting > 0;
  }

  /** Runs `step` after every step added before it; the promise settles with it. */
  add(step: () => Promise<void> | void): Promise<void> {
    this.waiting++;
    const run = this.tail.then(step).finally(() => {
      this.waiting--;
    });
    // One failed step (an unreadable Blob) does not stop the ones behind it.
    this.tail = run.catch(() => {});
    return run;
  }
}
