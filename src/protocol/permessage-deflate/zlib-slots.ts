// A process-wide cap on zlib operations in flight. Every compress or decompress runs on the libuv thread
// pool (4 threads by default, shared with fs and dns); thousands of connections each starting one would
// queue thousands of jobs there and hold every input and output buffer meanwhile. Jobs beyond the cap wait
// here instead, in FIFO order, holding only their input. Each connection has at most one compress and one
// decompress waiting (Protocol serializes them), so the queue is bounded by twice the connection count.

export const DEFAULT_ZLIB_CONCURRENCY = 10;

type Job = () => void;

class ZlibSlots {
  limit = DEFAULT_ZLIB_CONCURRENCY;
  active = 0;
  private queue: Job[] = [];
  private head = 0;

  /** Runs `job` now if a slot is free, else when one frees up. The job must call release() exactly once. */
  acquire(job: Job): void {
    if (this.active < this.limit) {
      this.active++;
      job();
      return;
    }
    this.queue.push(job);
  }

  release(): void {
    this.active--;
    while (this.active < this.limit && this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Job;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.active++;
      next();
    }
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }
}

export const zlibSlots = new ZlibSlots();

/**
 * Sets how many permessage-deflate zlib operations may run at once in this process (default 10). Keep it
 * at or below the thread pool size (UV_THREADPOOL_SIZE, default 4) plus some slack for latency.
 */
export function setZlibConcurrency(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError("zlib concurrency must be an integer >= 1");
  zlibSlots.limit = limit;
  // A raised limit lets waiting jobs start now.
  zlibSlots.active++;
  zlibSlots.release();
}

/** Operations running and waiting (for tests and metrics). */
export function zlibSlotUsage(): { active: number; waiting: number; limit: number } {
  return { active: zlibSlots.active, waiting: zlibSlots.waiting, limit: zlibSlots.limit };
}
