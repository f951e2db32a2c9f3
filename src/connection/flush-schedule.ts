// When batched frames are handed to their sockets (src/connection/output-batcher.ts).
//
// Batchers with frames sent outside their own read burst: one callback flushes them all (no closure per
// batcher). Sent while another connection handles a read (a publish from a client, a chat line), they wait
// for the end of the event loop's I/O phase (setImmediate): every read of that phase adds to one write per
// receiving connection, however the sender's bytes were cut into TCP reads. Flushed after each read, a
// publishing client's window of 64 × 1 KiB made as many writes per subscriber as it took reads, a number set
// by the pace of the two ends (issue 19: the resume ÷ plain spread of that shape). Otherwise (a timer, a
// loop of send() calls) they wait for the end of the microtask queue.

/** What the schedule needs of a batcher. */
export interface Flushable {
  /** In the waiting list, to be flushed by the schedule's callback. */
  scheduled: boolean;
  flush(): void;
}

const waiting: Flushable[] = [];
/** Batchers inside a read burst (their frames are flushed when it ends): a stack, as bursts nest. */
const bursting: Flushable[] = [];

/** The waiting list is flushed at the end of the I/O phase, not of the microtask queue. */
let waitingForImmediate = false;

/** `batcher` (not scheduled yet) waits for the next flush of the waiting list. */
export function scheduleFlush(batcher: Flushable): void {
  batcher.scheduled = true;
  if (waiting.push(batcher) === 1) scheduleFlushWaiting();
}

/** Whether the waiting list is flushed at the end of the I/O phase (not of the microtask queue). */
export function waitingForIoPhaseEnd(): boolean {
  return waitingForImmediate;
}

/** `batcher` starts its outermost read burst. */
export function burstStarted(batcher: Flushable): void {
  bursting.push(batcher);
}

/** `batcher`'s outermost read burst ended. */
export function burstEnded(batcher: Flushable): void {
  // Bursts nest, so this is the last one (pop: splice would make an array per burst).
  if (bursting[bursting.length - 1] === batcher) bursting.pop();
  else {
    const at = bursting.lastIndexOf(batcher);
    if (at !== -1) bursting.splice(at, 1);
  }
}

/**
 * Whether `test` holds for a batcher other than `except`, waiting or in a burst. Newest first: in a loop of
 * sends to many sockets the last batchers are the likely ones, so the answer comes at once.
 */
export function anyOtherBatcher<T extends Flushable>(except: T, test: (batcher: T) => boolean): boolean {
  for (let i = waiting.length - 1; i >= 0; i--)
    if (waiting[i] !== except && test(waiting[i] as T)) return true;
  for (let i = bursting.length - 1; i >= 0; i--)
    if (bursting[i] !== except && test(bursting[i] as T)) return true;
  return false;
}

function scheduleFlushWaiting(): void {
  waitingForImmediate = bursting.length > 0;
  if (waitingForImmediate) setImmediate(flushWaiting);
  else queueMicrotask(flushWaiting);
}

function flushWaiting(): void {
  // A flush may schedule more (a write callback that sends): they join the end of the list.
  let i = 0;
  try {
    for (; i < waiting.length; i++) {
      const batcher = waiting[i];
      batcher.scheduled = false;
      batcher.flush();
    }
    waiting.length = 0;
  } catch (error) {
    // Should a flush throw, the batchers after it are still flushed, in a callback of their own.
    const rest = waiting.slice(i + 1);
    waiting.length = 0;
    if (rest.length > 0) {
      waiting.push(...rest);
      scheduleFlushWaiting();
    }
    throw error;
  }
}
