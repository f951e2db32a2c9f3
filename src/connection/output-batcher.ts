import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { BORROWED_WRITE_MIN } from "../protocol/frame-writer.js";
import { writeChunks } from "./batch-write.js";
import { idleDescriptor, writeWhatFits } from "./direct-write.js";
import {
  anyOtherBatcher,
  burstEnded,
  burstStarted,
  scheduleFlush,
  waitingForIoPhaseEnd,
} from "./flush-schedule.js";
import {
  leaseFrameBuffer,
  POOLED_FRAME_MAX,
  POOLED_FRAME_MIN,
  releaseFrameBuffer,
} from "./frame-buffer-pool.js";
import {
  currentSlab,
  inCurrentSlab,
  replaceSlab,
  restartSlab,
  SLAB_FRAME_MAX,
  SLAB_SIZE,
  slabBytesWritten,
  slabPinned,
  slabUsed,
  slabUsedTo,
} from "./frame-slab.js";
import { loopWaitedRecently } from "./loop-waits.js";
import { SAMPLED_MIN, SentCredit } from "./sent-estimate.js";

// Frames produced while handling one read (a burst of echoes, say) leave in one system call, like a raw
// TCP echo that writes once per read: ws writes once per message, which is most of its gap to raw TCP on
// small messages. A client writes the first frame of a burst at once, and the rest two by two while its
// process has spare time (loop-waits.ts), so that the peer is not left waiting. Frames sent outside a burst
// are flushed later (below: at the end of the microtask queue, or of the I/O phase when another connection's
// read sent them), so a loop of send() calls is also one write. Small frames are built in place in the shared
// frame slab (frame-slab.ts); how a batch of several chunks is written: batch-write.ts.

function releaseTaken(batcher: OutputBatcher, app: number): void {
  batcher.takenWritten(app);
}

/** Whether `batcher` holds bytes of the current slab not handed to its socket yet. */
function holdsSlabBytes(batcher: OutputBatcher): boolean {
  return batcher.holdsOpenSlabRun() || holdsSealedSlabBytes(batcher);
}

/** Whether `batcher`'s batch has chunks cut out of the current slab (runs it is done growing). */
function holdsSealedSlabBytes(batcher: OutputBatcher): boolean {
  return batcher.someChunk(inCurrentSlab);
}

/** Told when writes that carried answers to the peer (pongs) have left. */
export interface AnswerListener {
  onAnswersWritten(): void;
}

/** The bits of OutputBatcher.flags. */
const Flag = {
  eagerFirstWrite: 1,
  wroteInBurst: 1 << 1,
  scheduled: 1 << 2,
  closed: 1 << 3,
  pooling: 1 << 4,
  inPairs: 1 << 5,
  pairOpen: 1 << 6,
  flushDue: 1 << 7,
} as const;

export class OutputBatcher {
  private readonly socket: Duplex;
  private readonly answerListener: AnswerListener | null;
  /** The yes/no state, one bit each (Flag), behind the accessors below: not 8 bytes each per connection (issue 17). */
  private flags = 0;
  /** The batch: one chunk alone (the common case needs no array), or all of them once there are more. */
  private single: Buffer | null = null;
  private chunks: Buffer[] | null = null;
  /** This batch's latest run of bytes in a slab, not cut out as a chunk yet (it may still grow). */
  private region: Buffer | null = null;
  private regionStart = 0;
  private regionEnd = 0;
  /** Where the space handed out by reserve() starts. */
  reservedAt = 0;
  private bytes = 0;
  private depth = 0;
  /**
   * Application bytes accepted by send() and not yet taken by the kernel (WHATWG bufferedAmount). Bytes that
   * never reached the kernel stay counted: once the socket is gone the number only grows.
   */
  pendingAppBytes = 0;
  private unflushedAppBytes = 0;
  /**
   * Application bytes the kernel took in writeBorrowed(), still in pendingAppBytes: the next flush releases
   * them as if they were its write's (on its callback's tick), so bufferedAmount drops when it did when they
   * were copied and written with that flush.
   */
  private takenAppBytes = 0;
  /** Application bytes of the writes in flight that have certainly left, as last sampled (sent-estimate.ts). */
  private sent: SentCredit | null = null;
  /** Bytes of frames that could not be written: the socket was already ended or destroyed. */
  droppedBytes = 0;
  /** Bytes of answers to the peer (pongs) queued and not yet taken by the kernel. */
  pendingAnswerBytes = 0;
  private unflushedAnswerBytes = 0;
  /** Pooled buffers holding frames of this batch: given back when the write carrying them calls back. */
  private leased: Buffer[] | null = null;

  constructor(socket: Duplex, eagerFirstWrite = false, answerListener: AnswerListener | null = null) {
    this.socket = socket;
    this.answerListener = answerListener;
    if (eagerFirstWrite) this.flags |= Flag.eagerFirstWrite;
    if (socket instanceof Socket && (socket as { encrypted?: boolean }).encrypted !== true)
      this.flags |= Flag.pooling;
  }

  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  /** The first frame of a read burst is written at once (a client's), not at the burst's end. */
  private get eagerFirstWrite(): boolean {
    return this.flag(Flag.eagerFirstWrite);
  }
  private get wroteInBurst(): boolean {
    return this.flag(Flag.wroteInBurst);
  }
  private set wroteInBurst(on: boolean) {
    this.setFlag(Flag.wroteInBurst, on);
  }
  /** This burst's frames after the first leave two by two (loop-waits.ts): the process has spare time. */
  private get inPairs(): boolean {
    return this.flag(Flag.inPairs);
  }
  /** In a burst written in pairs, one frame waits for its partner. */
  private get pairOpen(): boolean {
    return this.flag(Flag.pairOpen);
  }
  private set pairOpen(on: boolean) {
    this.setFlag(Flag.pairOpen, on);
  }
  /** @internal In the waiting list, to be flushed by flush-schedule.ts. */
  get scheduled(): boolean {
    return this.flag(Flag.scheduled);
  }
  set scheduled(on: boolean) {
    this.setFlag(Flag.scheduled, on);
  }
  /** The socket has closed: write callbacks that still arrive change nothing. */
  private get closed(): boolean {
    return this.flag(Flag.closed);
  }
  private set closed(on: boolean) {
    this.setFlag(Flag.closed, on);
  }
  /**
   * Whether large frames are built in pooled buffers (lease()): only on a plain TCP socket, whose write
   * callback comes once libuv is done with the bytes (written, or cancelled with the handle). For a TLS
   * socket, an HTTP/2 stream or another Duplex that is not established, and a Duplex may pass the chunk
   * itself on after calling back: those get buffers of their own.
   */
  private get pooling(): boolean {
    return this.flag(Flag.pooling);
  }

  /**
   * A buffer of `size` bytes for a large frame that will be pushed into this batch, reused from a pool; null
   * where the batcher does not pool (small frames: reserve(); other transports; very large frames).
   */
  lease(size: number): Buffer | null {
    if (!this.pooling || size < POOLED_FRAME_MIN || size > POOLED_FRAME_MAX) return null;
    const buffer = leaseFrameBuffer(size);
    (this.leased ??= []).push(buffer);
    return buffer;
  }

  /**
   * A large frame whose payload the caller may change once send() returns: handed to the kernel now, when
   * the socket has nothing queued and this batch is empty, so that what the kernel takes is not copied
   * (direct-write.ts); the rest is copied and joins the batch. False when that cannot be done (nothing was
   * written, the caller copies the frame). The payload's application bytes are counted by addAppBytes()
   * right after, as for any frame.
   */
  writeBorrowed(header: Buffer, payload: Uint8Array): boolean {
    const size = header.length + payload.length;
    if (!this.pooling || this.bytes !== 0 || payload.length < BORROWED_WRITE_MIN) return false;
    const socket = this.socket as Socket;
    const fd = idleDescriptor(socket);
    if (fd < 0) return false;
    const taken = writeWhatFits(fd, [header, payload]);
    if (typeof taken !== "number") {
      // The error Node's own write would have met (a reset peer, say): the socket fails with it, as then.
      this.droppedBytes += size;
      socket.destroy(taken);
      return true;
    }
    if (taken === 0) return false;
    const payloadTaken = Math.max(0, taken - header.length);
    // Counted by addAppBytes() right after; released by the next flush, not by its write.
    this.takenAppBytes += payloadTaken;
    this.unflushedAppBytes -= payloadTaken;
    if (taken < size) {
      const rest = this.lease(size - taken) ?? Buffer.allocUnsafe(size - taken);
      let at = 0;
      if (taken < header.length) at = header.copy(rest, 0, taken);
      rest.set(payload.subarray(payloadTaken), at);
      this.push(rest);
    } else this.scheduleFlush();
    return true;
  }

  /** @internal Bytes the kernel took in writeBorrowed(), released on a write callback's tick (flush()). */
  takenWritten(app: number): void {
    this.written(app, 0, null, null);
  }

  private releaseLeased(leased: Buffer[] | null): void {
    if (leased === null) return;
    for (const buffer of leased) releaseFrameBuffer(buffer);
  }

  beginBurst(): void {
    if (this.depth === 0) {
      this.wroteInBurst = false;
      this.pairOpen = false;
      if (this.eagerFirstWrite) this.setFlag(Flag.inPairs, loopWaitedRecently());
      burstStarted(this);
    }
    this.depth++;
  }

  endBurst(): void {
    if (--this.depth === 0) {
      burstEnded(this);
      this.flush();
    }
  }

  push(chunk: Buffer): void {
    this.sealRegion();
    this.append(chunk);
    this.added(chunk.length);
  }

  /** `size` free bytes in the shared slab from `reservedAt`, or null for a frame too large for it. */
  reserve(size: number): Buffer | null {
    if (size > SLAB_FRAME_MAX) return null;
    if (slabUsed() + size > SLAB_SIZE && !this.reuseSlab(size)) replaceSlab();
    this.reservedAt = slabUsed();
    return currentSlab();
  }

  /**
   * The slab is full: starts it over (keeping this batch's open run, moved to the front) if no write and no
   * other batch can still read its bytes. Returns false when a new slab is needed.
   */
  private reuseSlab(size: number): boolean {
    if (slabPinned()) return false;
    // This batch may hold the slab's bytes only in its open run, which is moved; others not at all.
    if (holdsSealedSlabBytes(this)) return false;
    // Newest first (front first, each fill would walk past every older batch: O(N²) for a loop of sends).
    if (anyOtherBatcher(this, holdsSlabBytes)) return false;
    const kept = this.region === currentSlab() ? this.regionEnd - this.regionStart : 0;
    if (kept + size > SLAB_SIZE) return false;
    restartSlab(this.regionStart, kept);
    if (kept > 0) {
      this.regionStart = 0;
      this.regionEnd = kept;
    }
    return true;
  }

  /** The `size` bytes at `reservedAt` hold a frame: it joins the batch (growing its run when adjacent). */
  commit(size: number): void {
    const at = this.reservedAt;
    const slab = currentSlab();
    if (this.region === slab && this.regionEnd === at) {
      this.regionEnd = at + size;
    } else {
      this.sealRegion();
      this.region = slab;
      this.regionStart = at;
      this.regionEnd = at + size;
    }
    slabUsedTo(at + size);
    this.added(size);
  }

  private sealRegion(): void {
    const region = this.region;
    if (region === null) return;
    this.region = null;
    const run = region.subarray(this.regionStart, this.regionEnd);
    // Bytes that will wait in the socket's queue (the peer is not keeping up) are copied out of the slab:
    // a view would keep the whole 64 KiB slab alive for as long as the peer stalls. A socket pins at most the
    // slab of the one write that found its kernel buffer full.
    this.append(this.socket.writableLength > 0 ? Buffer.from(run) : run);
  }

  private append(chunk: Buffer): void {
    if (this.chunks !== null) this.chunks.push(chunk);
    else if (this.single === null) this.single = chunk;
    else {
      this.chunks = [this.single, chunk];
      this.single = null;
    }
  }

  private added(bytes: number): void {
    this.bytes += bytes;
    if (this.depth > 0 && this.eagerFirstWrite) {
      if (!this.wroteInBurst) {
        this.wroteInBurst = true;
        this.flags |= Flag.flushDue;
        return;
      }
      if (this.inPairs) {
        this.pairOpen = !this.pairOpen;
        if (!this.pairOpen) this.flags |= Flag.flushDue;
        return;
      }
    }
    this.scheduleFlush();
  }

  /**
   * Writes the batch now if a client's burst wants it out early (the first frame, a pair: added()). Made once
   * the frame's bytes are counted (addAppBytes, addAnswerBytes, which the connection calls right after the
   * frame): flushed inside the frame's push, the bytes would miss the write that carries them and stay in
   * bufferedAmount until some later write.
   */
  private flushIfDue(): void {
    if ((this.flags & Flag.flushDue) !== 0) this.flush();
  }

  /** A flush at the end of this read burst, or (outside one) of the microtask queue or the I/O phase. */
  private scheduleFlush(): void {
    if (this.depth === 0 && !this.scheduled) scheduleFlush(this);
  }

  /** @internal This batch's open run is in the current slab (see reserve()). */
  holdsOpenSlabRun(): boolean {
    return this.region === currentSlab();
  }

  /** @internal Whether `test` holds for a chunk of this batch (not counting its open run). */
  someChunk(test: (chunk: Buffer) => boolean): boolean {
    if (this.single !== null) return test(this.single);
    return this.chunks?.some(test) ?? false;
  }

  /** Bytes pushed in this batch and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /**
   * Whether this batch waits for the end of the I/O phase, gathering other reads' frames: bytes a flush would
   * hand to the kernel now, rather than bytes of one synchronous burst (counted against the limits as such).
   */
  get deferredToImmediate(): boolean {
    return this.scheduled && waitingForIoPhaseEnd() && this.depth === 0;
  }

  /**
   * Application bytes accepted by send() and not transmitted yet (WHATWG bufferedAmount), for a connection
   * without compression: pendingAppBytes less what has certainly left of a large write under way, as
   * sampled in an earlier task (sent-estimate.ts).
   */
  get untransmittedAppBytes(): number {
    const inFlight = this.inFlightAppBytes;
    if (inFlight >= SAMPLED_MIN && (this.flags & (Flag.pooling | Flag.closed)) === Flag.pooling)
      return (
        this.pendingAppBytes - (this.sent ??= new SentCredit(this, this.socket as Socket)).read(inFlight)
      );
    return this.pendingAppBytes - (this.sent?.peek(inFlight) ?? 0);
  }

  /** Application bytes handed to the socket whose write has not called back (SentCredit). */
  get inFlightAppBytes(): number {
    return this.pendingAppBytes - this.unflushedAppBytes;
  }

  /** The socket is gone: nothing more leaves (SentCredit). */
  get gone(): boolean {
    return this.closed || this.socket.destroyed;
  }

  /** The application bytes of the frame just added; then an early write, if one is due. */
  addAppBytes(n: number): void {
    this.pendingAppBytes += n;
    this.unflushedAppBytes += n;
    this.flushIfDue();
  }

  /** `n` bytes of answers (pongs) joined the output: counted until the write that carries them calls back. */
  addAnswerBytes(n: number): void {
    this.pendingAnswerBytes += n;
    this.unflushedAnswerBytes += n;
    this.flushIfDue();
  }

  flush(): void {
    this.flags &= ~Flag.flushDue;
    if (this.takenAppBytes !== 0) {
      // A write the kernel took at once calls back on the next tick (after the microtasks that are due).
      process.nextTick(releaseTaken, this, this.takenAppBytes);
      this.takenAppBytes = 0;
    }
    this.sealRegion();
    const single = this.single;
    const chunks = this.chunks;
    if (single === null && chunks === null) return;
    const app = this.unflushedAppBytes;
    const answers = this.unflushedAnswerBytes;
    const leased = this.leased;
    this.single = null;
    this.chunks = null;
    this.leased = null;
    this.unflushedAppBytes = 0;
    this.unflushedAnswerBytes = 0;
    const bytes = this.bytes;
    this.bytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      // Not silent: the connection reports a close that lost frames as not clean. The application bytes were
      // never transmitted, so they stay in bufferedAmount.
      this.droppedBytes += bytes;
      this.releaseLeased(leased);
      return;
    }
    const done =
      app > 0 || answers > 0 || leased !== null
        ? (error?: Error | null) => this.written(app, answers, leased, error)
        : undefined;
    if (chunks === null) {
      socket.write(single!, done);
      if (inCurrentSlab(single!)) slabBytesWritten(socket, this.pooling);
    } else writeChunks(socket, chunks, bytes, done, this.pooling);
  }

  /**
   * A write callback: its bytes reached the kernel, unless it failed or the socket was destroyed first (Node
   * then calls back without an error for the write in progress, written or not: it is counted as not sent).
   */
  private written(
    app: number,
    answers: number,
    leased: Buffer[] | null,
    error: Error | null | undefined,
  ): void {
    // Written, failed or cancelled with the socket: either way libuv is done with the bytes.
    this.releaseLeased(leased);
    if (error == null && !this.closed && !this.socket.destroyed) {
      this.pendingAppBytes -= app;
      // Sampled bytes of this write are now counted out exactly.
      this.sent?.written(app);
    }
    if (answers > 0) {
      // Sent or lost with the socket: either way no longer held here.
      this.pendingAnswerBytes -= answers;
      this.answerListener?.onAnswersWritten();
    }
  }

  /** The socket is gone: nothing pending will be sent. */
  discard(): void {
    this.closed = true;
    // As for a write whose callback comes after the socket is gone: still counted.
    this.takenAppBytes = 0;
    this.droppedBytes += this.bytes;
    this.region = null;
    this.single = null;
    this.chunks = null;
    this.bytes = 0;
    this.releaseLeased(this.leased);
    this.leased = null;
  }
}
