import type { Socket } from "node:net";

// WHATWG bufferedAmount counts the application bytes "not yet transmitted to the network", leaving out what
// the operating system buffers. The sends of one task leave in one write, which calls back once the kernel has
// taken all of it: counted until then, 16 MiB sent to a slow reader read 16 MiB until the last byte had left,
// then 0, where Chromium's fell steadily (outside review). So while a large write is under way and someone
// reads bufferedAmount, what the kernel has taken is sampled in tasks of their own (setImmediate, then every
// SAMPLE_EVERY_MS while it is still read): the sampled part changes between tasks, never within one.
//
// The credit is a bound, never a guess: without compression every application byte not yet in the kernel is a
// wire byte not yet in the kernel, so the application bytes in flight less the wire bytes not in the kernel
// have certainly left. (A ratio of application to wire bytes, the first version, credited a large message
// with the progress of small frames ahead of it, and rose when a send changed the mix: review.) A sample only
// ever raises the credit; a write's callback takes its bytes out of both. So the count never rises but by a
// send, and never falls below what is really left.

/** Writes in flight that carry at least this many application bytes are sampled. */
export const SAMPLED_MIN = 64 * 1024;

/** How often a write under way is sampled while it drains (a timer, unref'd: it keeps no process alive). */
export const SAMPLE_EVERY_MS = 10;

/**
 * A write that has made no progress for STALLED_AFTER_MS is sampled less and less often, down to once per
 * SAMPLE_SLOWEST_MS (review: a stalled peer read on a timer cost 97 samples a second). A peer that reads in
 * bursts makes progress within it and keeps the 10 ms.
 */
export const SAMPLE_SLOWEST_MS = 1000;
const STALLED_AFTER_MS = 250;

/** Sampling stops once bufferedAmount has not been read for this long (a stalled peer costs nothing then). */
export const SAMPLED_WHILE_READ_MS = 1000;

/** What the credit is taken from: the batcher of a plain TCP socket (OutputBatcher). */
export interface InFlightWrites {
  /** Application bytes handed to the socket whose write has not called back. */
  readonly inFlightAppBytes: number;
  /** The socket is gone: nothing more leaves. */
  readonly gone: boolean;
}

/**
 * The application bytes of a batcher's writes in flight that have certainly left (made on the first read of
 * bufferedAmount with SAMPLED_MIN bytes in flight; most connections never make one).
 */
export class SentCredit {
  private readonly writes: InFlightWrites;
  private readonly socket: Socket;
  private credit = 0;
  private lastReadAt = 0;
  private sampling = false;
  /** The wait before the next sample: doubled while the wire bytes left do not change (a stalled peer). */
  private interval = SAMPLE_EVERY_MS;
  private lastLeft = -1;
  private lastProgressAt = 0;

  constructor(writes: InFlightWrites, socket: Socket) {
    this.writes = writes;
    this.socket = socket;
  }

  /** The credit now, for a read of bufferedAmount; sampling starts (again) if it had stopped. */
  read(inFlight: number): number {
    this.lastReadAt = performance.now();
    if (!this.sampling) {
      this.sampling = true;
      setImmediate(sample, this);
    }
    return Math.min(this.credit, Math.max(0, inFlight));
  }

  /** The credit as it stands, without starting a sample. */
  peek(inFlight: number): number {
    return Math.min(this.credit, Math.max(0, inFlight));
  }

  /** A write called back: its `app` bytes leave the count, and the credit, exactly. */
  written(app: number): void {
    this.credit = Math.max(0, this.credit - app);
  }

  /** @internal Raises the credit; again after `interval` while it matters and the count is read. */
  sample(): void {
    const writes = this.writes;
    const inFlight = writes.inFlightAppBytes;
    // Once the socket is gone the count only grows (nothing more leaves): the credit stays as it was.
    if (
      writes.gone ||
      inFlight < SAMPLED_MIN ||
      performance.now() - this.lastReadAt > SAMPLED_WHILE_READ_MS
    ) {
      this.sampling = false;
      return;
    }
    const notInKernel = wireBytesNotInKernel(this.socket);
    if (notInKernel >= 0) this.credit = Math.max(this.credit, Math.min(inFlight, inFlight - notInKernel));
    const now = performance.now();
    if (notInKernel !== this.lastLeft) {
      this.lastLeft = notInKernel;
      this.lastProgressAt = now;
      this.interval = SAMPLE_EVERY_MS;
    } else if (now - this.lastProgressAt >= STALLED_AFTER_MS) {
      this.interval = Math.min(this.interval * 2, SAMPLE_SLOWEST_MS);
    }
    setTimeout(sample, this.interval, this).unref();
  }
}

function sample(credit: SentCredit): void {
  credit.sample();
}

/** What Node keeps of a plain TCP socket's write under way (net.Socket over libuv, since Node 12). */
interface WriteInternals {
  _handle?: { writeQueueSize?: unknown } | null;
  _writableState?: { writelen?: unknown } | null;
}

/**
 * Wire bytes written to `socket` that the kernel has not taken: those Node holds behind the write under way
 * (writableLength less its writelen) and those of it libuv still queues (writeQueueSize). -1 when Node does
 * not say.
 */
export function wireBytesNotInKernel(socket: Socket): number {
  const internals = socket as unknown as WriteInternals;
  const queued = internals._handle?.writeQueueSize;
  const writing = internals._writableState?.writelen;
  if (typeof queued !== "number" || typeof writing !== "number") return -1;
  return Math.max(0, socket.writableLength - writing) + queued;
}
