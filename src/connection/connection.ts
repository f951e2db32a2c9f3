import { CloseCode } from "../protocol/constants.js";
import { ConnectionLostError, ProtocolError } from "../protocol/errors.js";
import type { PerMessageExtension, SharedPayload } from "../protocol/extension.js";
import { Protocol } from "../protocol/protocol.js";
import type { ProtocolHandler } from "../protocol/protocol-options.js";
import {
  MAX_DECODE_BACKLOG_BYTES,
  MAX_UNSENT_ANSWER_BYTES,
  PONG_HEADER_BYTES,
  SLOW_CONSUMER_GRACE_MS,
} from "./backpressure-limits.js";
import { HeartbeatOf, RateLimitHold } from "./connection-hosts.js";
import {
  type ConnectionEvents,
  type ConnectionOptions,
  DEFAULT_CLOSE_TIMEOUT_MS,
  type Transport,
} from "./connection-options.js";
import { ConnectionState, Flag } from "./connection-state.js";
import { destroyTransport } from "./destroy-transport.js";
import { Heartbeat } from "./heartbeat.js";
import { readThroughSharedBuffer } from "./large-reads.js";
import { type AnswerListener, OutputBatcher } from "./output-batcher.js";
import { RateLimiter } from "./rate-limit.js";
import {
  type ConnectedSocket,
  discard,
  kConnection,
  onSocketClose,
  onSocketData,
  onSocketEnd,
  onSocketError,
} from "./socket-listeners.js";

/** See Connection.hooks. */
export interface ConnectionHooks {
  send(payload: Buffer, isText: boolean, transform: boolean | undefined, borrowed: boolean): boolean;
  sendText(text: string, transform: boolean | undefined): number;
  onPong(payload: Buffer): void;
}

// One transport (a net/tls socket after the upgrade, or an HTTP/2 stream: see Transport) driven by one Protocol. Owns the socket's lifecycle:
// write batching, backpressure, the close handshake's timers (RFC 6455 §7.1.1: the server closes TCP first;
// the client waits for it, then gives up after closeTimeoutMs), and turning it all into a few events.

const EMPTY = Buffer.alloc(0);

/** How long a failed connection's socket goes on reading (and dropping) the peer's bytes after our Close. */
export const LINGER_MS = 2000;

export class Connection extends ConnectionState implements ProtocolHandler, AnswerListener {
  readonly protocol: Protocol;
  readonly socket: Transport;
  private events: ConnectionEvents;
  /** Made on the first read or write (output): a connection that has not done either keeps none. */
  private batcher: OutputBatcher | null = null;
  /**
   * Kept as given and read through the getters below (and by the Protocol): a server passes one options
   * object to all its connections, so the settings cost no field each per connection (issue 17).
   */
  private readonly options: ConnectionOptions;
  /** The largest message queued since the send buffer was last empty (see checkSlowConsumer). */
  private largestMessageWaiting = 0;
  /**
   * Application bytes held for this connection before they reach it (a resume connection's sends until its
   * session, src/server/resume-direct-sends.ts): counted in bufferedAmount. A field of every connection, so
   * that all share one shape (an own accessor on resume connections made their fan-out 2.5× slower).
   */
  heldAppBytes = 0;
  /**
   * What a layer above puts in front of this connection's app sends and pongs (a resumable session: src/server/
   * resume-direct-sends.ts), or null. A field of every connection rather than methods replaced on some, for
   * the same reason as heldAppBytes: own properties on resume connections cost their fan-out several percent.
   */
  hooks: ConnectionHooks | null = null;
  private get closeTimeoutMs(): number {
    return this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }
  /** The most bytes that may wait to be sent (ConnectionOptions.maxBufferedBytes; none: no limit). */
  get maxBufferedBytes(): number {
    return this.options.maxBufferedBytes ?? Number.POSITIVE_INFINITY;
  }
  private get slowConsumer(): "close" | "pause" {
    return this.options.slowConsumer ?? "close";
  }
  private get slowConsumerCloseCode(): number {
    return this.options.slowConsumerCloseCode ?? CloseCode.PolicyViolation;
  }

  private get output(): OutputBatcher {
    return (this.batcher ??= new OutputBatcher(this.socket, this.protocol.role === "client", this));
  }

  /** Made only when a rate limit is set. */
  private readonly rateLimiter: RateLimiter | null;
  /** Made only when a heartbeat is set. */
  private readonly heartbeat: Heartbeat | null;

  /**
   * `options` is kept as it is (see `options`); `extension`, the connection's own, wins over
   * options.extension, so that options can be shared by connections with different extensions.
   */
  constructor(
    socket: Transport,
    options: ConnectionOptions,
    events: ConnectionEvents,
    extension: PerMessageExtension | null = options.extension ?? null,
  ) {
    super();
    this.socket = socket;
    this.events = events;
    this.options = options;
    if (extension === null) this.flags |= Flag.acceptsSharedFrames;
    this.rateLimiter =
      (options.rateLimit ?? null) === null
        ? null
        : new RateLimiter(options.rateLimit!, new RateLimitHold(this));
    // The options themselves, not a copy: shared by the connections of a server (see `options`).
    this.protocol = new Protocol(options, this, this.rateLimiter, extension);
    socket.setNoDelay?.(true);
    socket.setTimeout?.(0);
    // The peer's FIN must not end our side by itself (Node does so unless allowHalfOpen, which a client's
    // socket lacks): our Close echo and any frame still being compressed go out first (onEnd).
    socket.allowHalfOpen = true;
    // Listeners shared by every connection (called with the socket as `this`), not four closures each.
    (socket as ConnectedSocket)[kConnection] = this;
    socket.on("data", onSocketData);
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    readThroughSharedBuffer(socket);
    this.heartbeat =
      (options.heartbeat ?? null) === null ? null : new Heartbeat(new HeartbeatOf(this), options.heartbeat!);
  }

  /** Feeds bytes that arrived with the handshake (after the caller has announced the connection). */
  receiveHead(head: Buffer): void {
    if (head.length > 0) this.onData(head);
  }

  /**
   * Application bytes handed to send() that have not left yet (WHATWG bufferedAmount): those waiting for the
   * extension's encoder, and those written that the kernel has not taken (OutputBatcher.untransmittedAppBytes).
   */
  get bufferedAmount(): number {
    const batcher = this.batcher;
    // With compression a wire byte may carry many application bytes: no sampling (sent-estimate.ts).
    const written =
      batcher === null
        ? 0
        : this.acceptsSharedFrames
          ? batcher.untransmittedAppBytes
          : batcher.pendingAppBytes;
    return written + this.protocol.queuedSendBytes + this.heldAppBytes;
  }

  /** `borrowed`: the caller may change `payload` afterwards, so it is copied where it would be kept. */
  send(payload: Buffer, isText: boolean, transform?: boolean, borrowed = false): boolean {
    const hooks = this.hooks;
    if (hooks !== null) return hooks.send(payload, isText, transform, borrowed);
    return this.sendNow(payload, isText, transform, borrowed);
  }

  /** send() without the hooks: the message goes to the protocol as it is. */
  sendNow(payload: Buffer, isText: boolean, transform?: boolean, borrowed = false): boolean {
    const waitingBefore = this.waitingBytes;
    if (!this.protocol.send(payload, isText, transform, borrowed)) return false;
    // With an extension a message may wait for the encoder: the protocol reports it as it is written
    // (onMessageWritten), so that its bytes ride on the write that carries its frame.
    if (this.acceptsSharedFrames) this.output.addAppBytes(payload.length);
    this.checkSlowConsumer(payload.length, waitingBefore);
    return true;
  }

  /**
   * Sends a text message from a string, encoded straight into the frame. Returns its UTF-8 length in bytes,
   * or -1 when nothing was sent (after our Close).
   */
  sendText(text: string, transform?: boolean): number {
    const hooks = this.hooks;
    if (hooks !== null) return hooks.sendText(text, transform);
    return this.sendTextNow(text, transform);
  }

  /** sendText() without the hooks. */
  sendTextNow(text: string, transform?: boolean): number {
    const waitingBefore = this.waitingBytes;
    const bytes = this.protocol.sendText(text, transform);
    if (bytes < 0) return -1;
    if (this.acceptsSharedFrames) this.output.addAppBytes(bytes);
    this.checkSlowConsumer(bytes, waitingBefore);
    return bytes;
  }

  /** Sends a message shared with other connections: compressed once for all where possible (Protocol.sendShared). */
  sendShared(message: SharedPayload): boolean {
    const waitingBefore = this.waitingBytes;
    if (!this.protocol.sendShared(message)) return false;
    if (this.acceptsSharedFrames) this.output.addAppBytes(message.payload.length);
    this.checkSlowConsumer(message.payload.length, waitingBefore);
    return true;
  }

  /**
   * Writes a frame built elsewhere, the same bytes for every subscriber of a topic, behind everything sent
   * before it. Returns false when it is dropped: after our Close (RFC 6455 §5.5.1, as Protocol.send), on a
   * connection that does not accept shared frames, or while a "pause" slow consumer is over maxBufferedBytes
   * (a publish never grows a stalled peer's buffer past the limit; under "close" the peer is failed instead).
   */
  writeFrame(frame: Buffer, appBytes: number): boolean {
    if (this.protocol.closing || this.finished || !this.acceptsSharedFrames || this.congested) return false;
    const waitingBefore = this.waitingBytes;
    this.output.push(frame);
    this.output.addAppBytes(appBytes);
    this.checkSlowConsumer(appBytes, waitingBefore);
    return true;
  }

  /**
   * A "pause" slow consumer over its limit: publishes to it are dropped until it drains. Counted like
   * bufferedAmount, the batch not yet handed to the socket included: a synchronous loop of publishes (or a
   * resume replay) reaches the socket only when the batch flushes, and must stop at the limit too.
   */
  get congested(): boolean {
    return this.slowConsumer === "pause" && this.waitingBeyond(this.maxBufferedBytes) > this.maxBufferedBytes;
  }

  /**
   * Bytes waiting, once a batch deferred to the end of the I/O phase that would take them past `limit` is
   * handed to the socket: it gathers the frames of many reads (output-batcher.ts), so counted unwritten it
   * would make a peer that reads promptly look slow (a review of 547fa1b: 32 publishers, one subscriber).
   */
  private waitingBeyond(limit: number): number {
    const waiting = this.waitingBytes;
    const batcher = this.batcher;
    if (waiting <= limit || batcher === null || !batcher.deferredToImmediate) return waiting;
    batcher.flush();
    return this.waitingBytes;
  }

  ping(payload?: Buffer): boolean {
    return this.protocol.ping(payload);
  }

  pong(payload?: Buffer): boolean {
    return this.protocol.pong(payload);
  }

  /** Starts the closing handshake (§7.1.2); the socket is destroyed if the peer does not finish it in time. */
  close(code?: number, reason?: string): void {
    if (this.protocol.close(code, reason)) this.armCloseTimer();
  }

  /** Fails the connection (§7.1.7) with `error`'s close code. */
  fail(error: ProtocolError): void {
    this.protocol.fail(error);
  }

  /** Destroys the transport at once, without a closing handshake; `cause` becomes the close's error. */
  terminate(cause?: Error): void {
    this.terminated = true;
    if (cause !== undefined) this.terminateCause ??= cause;
    this.batcher?.flush();
    destroyTransport(this.socket);
  }

  // ---- ProtocolHandler ----------------------------------------------------------------------------

  write(chunk: Buffer): void {
    this.output.push(chunk);
  }

  reserve(size: number): Buffer | null {
    return this.output.reserve(size);
  }

  lease(size: number): Buffer | null {
    return this.output.lease(size);
  }

  writeBorrowed(header: Buffer, payload: Uint8Array): boolean {
    return this.output.writeBorrowed(header, payload);
  }

  get reservedAt(): number {
    return this.output.reservedAt;
  }

  commit(size: number): void {
    this.output.commit(size);
  }

  onMessageWritten(appBytes: number): void {
    this.output.addAppBytes(appBytes);
  }

  onMessage(data: Buffer, isText: boolean): void {
    this.flags |= Flag.messageSeen | Flag.messageDelivered;
    this.events.onMessage(data, isText);
  }

  onPing(payload: Buffer): void {
    // §5.5.2: the protocol has queued the pong (Protocol.answersPings).
    if (this.protocol.answersPings) this.output.addAnswerBytes(PONG_HEADER_BYTES + payload.length);
    this.events.onPing(payload);
  }

  onPong(payload: Buffer): void {
    this.events.onPong(payload);
    this.hooks?.onPong(payload);
  }

  onCloseFrame(code: number, reason: string): void {
    this.closeFrameReceived = true;
    this.receivedCode = code;
    this.receivedReason = reason;
    this.events.onClosing(code, reason);
    // §7.1.1: the server closes the TCP connection first; a client waits for it (armCloseTimer).
    if (this.protocol.role === "server") this.endSocket();
    else this.armCloseTimer();
  }

  onFailure(error: ProtocolError): void {
    // Failing the connection starts the closing handshake with our Close (RFC 6455 §7.1.7): WHATWG queues a
    // task that sets readyState CLOSING, so an application that sends while OPEN stops (sends still count).
    if (this.failure === null) setImmediate(() => this.events.onClosing(error.closeCode, ""));
    this.failure ??= error;
    // A socket that closed while a message was being decoded was waiting for it: nothing more will come.
    if (this.socketClosed) {
      this.finish();
      return;
    }
    // §7.1.7: after the Close frame, close the transport; no need to wait for the peer. The socket is
    // destroyed as soon as the Close frame and our FIN are written, without waiting for the peer's Close or
    // FIN (a misbehaving peer would otherwise hold the error/close events for closeTimeoutMs). Chromium's
    // WebSocketChannel::FailChannel does the same: it closes the stream right after sending the Close.
    this.batcher?.flush();
    const socket = this.socket;
    if (socket.destroyed) return;
    if (socket.writableFinished) {
      this.linger();
      return;
    }
    socket.once("finish", () => this.linger());
    if (!socket.writableEnded) socket.end();
    this.armCloseTimer();
  }

  /**
   * After a failure, once our Close and FIN are written: destroying the socket while the peer is still
   * sending (the rest of a message too big, say) makes the kernel answer its bytes with a RST, which can
   * discard our Close before the peer has read it — and the reason with it. So the connection is reported
   * closed now, and the socket reads and drops the peer's bytes until its FIN, for at most LINGER_MS
   * (a "lingering close", as HTTP servers do: RFC 9112 §9.6).
   */
  private linger(): void {
    const socket = this.socket;
    this.finish();
    if (socket.destroyed) return;
    socket.removeListener("data", onSocketData);
    socket.on("data", discard);
    socket.once("end", () => socket.destroy());
    setTimeout(() => socket.destroy(), Math.min(this.closeTimeoutMs, LINGER_MS)).unref();
    socket.resume();
  }

  // ---- transport --------------------------------------------------------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    this.alive = true;
    this.heartbeat?.seen();
    this.rateLimiter?.refill();
    this.output.beginBurst();
    this.protocol.receive(chunk);
    this.output.endBurst();
    if (this.protocol.receivePending) this.checkDecodeBacklog();
    this.checkSlowConsumer();
    this.checkUnsentAnswers();
  }

  /** @internal */
  onEnd(): void {
    // The peer will send nothing more; finish our side too, once what it sent has been processed: a Close
    // waiting behind a message being decompressed is still answered (settle()).
    if (this.protocol.receivePending) {
      this.peerEnded = true;
      return;
    }
    this.endSocket();
  }

  /** The protocol's extension finished a job: go on with a teardown that was waiting for it. */
  onSettled(): void {
    if (this.sentWaiters !== null && !this.protocol.sendPending) {
      const waiters = this.sentWaiters;
      this.sentWaiters = null;
      for (const waiter of waiters) waiter();
    }
    if (this.finished) return;
    if (this.socketClosed) {
      if (!this.protocol.receivePending) this.finish();
      return;
    }
    if (this.pausedForDecoding && !this.protocol.receivePending) {
      // The backlog has been parsed: the pongs it asked for count before reading again.
      this.pausedForDecoding = false;
      this.checkUnsentAnswers();
      this.resumeReading();
    }
    if (!this.protocol.sendPending) {
      // The encoder has written what waited for it: the slow-consumer rule looks again (the frames are now in
      // the socket, and no send may come to check them), and a "pause" waiting for them goes on.
      if (this.pausedForBackpressure) this.resumeAfterFlush();
      else this.checkSlowConsumer();
    }
    if (this.peerEnded && !this.protocol.receivePending) {
      this.peerEnded = false;
      this.endSocket();
      return;
    }
    if (this.endRequested && !this.protocol.sendPending) this.endSocket();
  }

  /**
   * True while we hold the input on purpose, for the rate limiter or a reader that is not reading (the
   * keepalive does not count the silence against it).
   */
  get inputHeld(): boolean {
    return this.pausedForReader || this.rateLimiter?.holding === true;
  }

  /**
   * Hands this connection's events to someone else (a WebSocketStream taking over an open WebSocket) and
   * returns the previous ones, to which the new ones forward what they do not handle.
   */
  takeEvents(events: ConnectionEvents): ConnectionEvents {
    const previous = this.events;
    this.events = events;
    return previous;
  }

  /**
   * Receive backpressure (WebSocketStream): stops delivering messages after the one being delivered, and
   * stops reading the socket, so a peer that floods a reader that does not read meets TCP's flow control.
   * We then hold at most the messages already queued plus the rest of one socket read.
   */
  pauseForReader(): void {
    if (this.finished) return;
    this.pausedForReader = true;
    this.protocol.holdForReader();
    this.socket.pause();
  }

  /** The reader wants more: deliver what waits behind the pause, then read the socket again. */
  resumeForReader(): void {
    if (!this.pausedForReader) return;
    this.pausedForReader = false;
    if (this.finished) return;
    this.output.beginBurst();
    this.protocol.releaseForReader();
    this.output.endBurst();
    this.checkSlowConsumer();
    this.checkUnsentAnswers();
    this.resumeReading();
  }

  /**
   * Send backpressure (WebSocketStream): calls `callback(true)` at once if what we have queued for the socket
   * is at most `limit` bytes, else once everything queued so far has been handed to the kernel (an empty
   * write's callback runs after every earlier write; frames still behind the extension are waited for
   * first). `callback(false)`: the socket went away first (onClosed follows, or came before).
   */
  whenSent(limit: number, callback: (delivered: boolean) => void): void {
    if (this.finished || this.socket.destroyed) {
      callback(false);
      return;
    }
    if (this.protocol.sendPending) {
      (this.sentWaiters ??= []).push(() => this.whenSent(limit, callback));
      return;
    }
    if (this.waitingBytes <= limit) {
      callback(true);
      return;
    }
    this.batcher?.flush();
    if (this.socket.writableEnded) {
      // Our FIN is queued behind the bytes: the end's outcome is the socket's close.
      callback(false);
      return;
    }
    this.socket.write(EMPTY, (error) => callback(error == null));
  }

  /**
   * Paces a writer that must keep at most `most` bytes waiting (a resume replay, src/server/resume-session.ts):
   * true if `size` more bytes fit now (nothing waiting: a message of any size fits), else a promise of the
   * moment everything queued before has reached the kernel, by whenSent (false: the socket went away first).
   */
  roomFor(size: number, most: number): true | Promise<boolean> {
    const limit = Math.max(0, most - size);
    if (!this.finished && !this.protocol.sendPending && this.waitingBytes <= limit) return true;
    return new Promise((resolve) => this.whenSent(limit, resolve));
  }

  /** True while we do not read the peer (backpressure, answers owed, the rate limiter's hold). */
  get inputPaused(): boolean {
    return this.pausedForBackpressure || this.pausedForAnswers || this.pausedForDecoding || this.inputHeld;
  }

  /**
   * @internal The heartbeat heard nothing within `timeoutMs` of its Ping: the peer is gone or frozen. The
   * socket is destroyed at once (a Close frame could not reach a peer that reads nothing), and the close
   * reports 1006 with this cause (RFC 6455 §7.1.5).
   */
  onHeartbeatLost(timeoutMs: number): void {
    this.socketError = new ConnectionLostError(null, { heartbeatTimeoutMs: timeoutMs });
    this.terminate();
  }

  /** @internal The rate limiter's buckets refilled: parse what waited, then read again. */
  onRateLimitRelease(): void {
    if (this.finished) return;
    this.output.beginBurst();
    this.protocol.releaseInput();
    this.output.endBurst();
    // What waited may have started a decode, with more behind it.
    if (this.protocol.receivePending) this.checkDecodeBacklog();
    this.checkUnsentAnswers();
    this.resumeReading();
  }

  /**
   * Resumes input once everything written before the pause has left Node's buffer. `drain` is not enough:
   * Node emits it only after a write() returned false (past the socket's 16 KiB high-water mark), so a
   * limit below that would wait forever. An empty write's callback runs after every earlier write, always.
   * One probe at a time, and a new one only behind bytes still being written: it never spins.
   */
  private resumeAfterFlush(): void {
    if (this.flushProbePending) return;
    this.batcher?.flush();
    const socket = this.socket;
    // An ended or destroyed socket takes no more writes (an empty write's error callback would come back at
    // once, and again: a loop), and nothing waits there for the peer to read any more.
    if (socket.writableEnded || socket.destroyed) {
      this.liftBackpressurePause();
      return;
    }
    this.flushProbePending = true;
    socket.write(EMPTY, (error) => this.onFlushProbe(error));
  }

  private onFlushProbe(error: Error | null | undefined): void {
    this.flushProbePending = false;
    if (!this.pausedForBackpressure || this.finished) return;
    // A failed write (the socket is gone), or our Close sent (nothing more is sent, RFC 6455 §5.5.1, and the
    // peer's Close must be read): nothing to wait for.
    if (error == null && !this.protocol.closing) {
      // Bytes written after this probe: the next one waits for them.
      if (this.socket.writableLength + (this.batcher?.queuedBytes ?? 0) > this.maxBufferedBytes) {
        this.resumeAfterFlush();
        return;
      }
      // Messages still with the encoder: onSettled probes again once it has written them.
      if (this.waitingBytes > this.maxBufferedBytes) return;
    }
    this.liftBackpressurePause();
  }

  private liftBackpressurePause(): void {
    this.pausedForBackpressure = false;
    this.resumeReading();
  }

  /**
   * Bytes waiting to be sent: in Node's socket buffer, batched in this tick (not handed to it yet), and
   * messages waiting for the extension's encoder (their payload: what they hold in memory).
   */
  private get waitingBytes(): number {
    return this.socket.writableLength + (this.batcher?.queuedBytes ?? 0) + this.protocol.queuedSendBytes;
  }

  /**
   * Reads again, unless a reason to pause still holds (every pause sets its own flag). @internal The one
   * place input resumes: the client also calls it after feeding the bytes that came with the 101.
   */
  resumeReading(): void {
    if (
      this.pausedForBackpressure ||
      this.pausedForAnswers ||
      this.pausedForDecoding ||
      this.inputHeld ||
      this.finished
    )
      return;
    this.socket.resume();
  }

  /** Stops reading while too many bytes wait behind a message being decompressed (after reads). */
  private checkDecodeBacklog(): void {
    if (this.protocol.pendingReceiveBytes <= MAX_DECODE_BACKLOG_BYTES || this.finished) return;
    this.pausedForDecoding = true;
    this.socket.pause();
  }

  /** Stops reading while too many of our answers wait to be sent (called after every read). */
  private checkUnsentAnswers(): void {
    if ((this.batcher?.pendingAnswerBytes ?? 0) <= MAX_UNSENT_ANSWER_BYTES || this.finished) return;
    // Paused again even if already marked: something else may have resumed the socket since.
    this.pausedForAnswers = true;
    this.socket.pause();
  }

  /**
   * A write carrying answers has called back (sent, or failed with the socket). Resuming here, not on
   * "drain", does not depend on an event that may not come: every write calls back.
   */
  onAnswersWritten(): void {
    if (!this.pausedForAnswers || (this.batcher?.pendingAnswerBytes ?? 0) > MAX_UNSENT_ANSWER_BYTES / 2)
      return;
    this.pausedForAnswers = false;
    this.resumeReading();
  }

  /**
   * Tells a slow consumer from a peer that reads slowly but steadily. "pause" holds input while more than
   * maxBufferedBytes wait (cheap and harmless to a reader). "close" fails the peer only when more than
   * maxBufferedBytes wait *beyond the largest message in the buffer*: one message of any size (an echo of
   * up to maxPayloadBytes) may drain at the peer's pace, but messages piling up behind it mean the peer does
   * not keep up. Memory per connection stays within maxBufferedBytes + that message. A peer that stops
   * reading in the middle of one large message is left to the keepalive (it cannot answer pings either).
   * `adding` is the message just queued and `waitingBefore` what waited before it: when nothing did, the
   * buffer has drained since the last large message, and the allowance starts over.
   */
  private checkSlowConsumer(adding = 0, waitingBefore = 0): void {
    if (this.finished) return;
    if (adding > 0) {
      if (waitingBefore === 0 || adding > this.largestMessageWaiting) this.largestMessageWaiting = adding;
    }
    const allowance = this.slowConsumer === "pause" ? adding : this.largestMessageWaiting;
    // Our unsent pongs have their own bound (checkUnsentAnswers), as they are not in bufferedAmount: one read
    // of pings (up to 256 KiB, large-reads.ts) answered at once must pause input, not fail the peer.
    const waiting =
      this.waitingBeyond(this.maxBufferedBytes + allowance) - (this.batcher?.pendingAnswerBytes ?? 0);
    if (this.slowConsumer === "pause") {
      // After our Close nothing more is sent (RFC 6455 §5.5.1): holding input would only delay the peer's Close.
      if (waiting - adding <= this.maxBufferedBytes || this.pausedForBackpressure || this.protocol.closing)
        return;
      this.pausedForBackpressure = true;
      this.socket.pause();
      this.resumeAfterFlush();
      return;
    }
    if (waiting - this.largestMessageWaiting <= this.maxBufferedBytes || this.protocol.closing) return;
    this.failSlowConsumer("");
  }

  /**
   * Messages held for this connection before they reach it (a resume connection's sends until its session,
   * src/server/resume-direct-sends.ts): past maxBufferedBytes beyond the largest of them, the connection fails
   * as a slow consumer, whatever the policy ("pause" cannot hold the app's sends back). False: it failed.
   */
  checkHeldBytes(heldBytes: number, largest: number): boolean {
    if (heldBytes - largest <= this.maxBufferedBytes) return true;
    if (!this.protocol.closing && !this.finished) this.failSlowConsumer(" (held until its session)");
    return false;
  }

  private failSlowConsumer(where: string): void {
    // Fail with 1008 and a reason (RFC 6455 §7.4.1). The Close frame waits behind what the peer has not read:
    // it arrives if the peer reads it all within SLOW_CONSUMER_GRACE_MS, else the socket is destroyed.
    // Nothing more is accepted meanwhile, so memory stays bounded.
    this.armCloseTimer(Math.min(this.closeTimeoutMs, SLOW_CONSUMER_GRACE_MS));
    this.protocol.fail(
      new ProtocolError(
        "SJ_ERR_SLOW_CONSUMER",
        `slow consumer: over ${this.maxBufferedBytes} bytes waiting beyond one message${where}`,
        this.slowConsumerCloseCode,
      ),
    );
  }

  /** Ends our side of the transport after every frame queued so far, those behind the extension included. */
  private endSocket(): void {
    this.armCloseTimer();
    if (this.protocol.sendPending) {
      // The Close (or an echo) waits behind a message being compressed: onSettled ends the socket after it.
      this.endRequested = true;
      return;
    }
    this.endRequested = false;
    this.batcher?.flush();
    if (!this.socket.writableEnded) this.socket.end();
  }

  private armCloseTimer(ms = this.closeTimeoutMs): void {
    if (this.closeTimer !== null || this.finished) return;
    this.closeTimer = setTimeout(() => destroyTransport(this.socket), ms);
    this.closeTimer.unref();
  }

  /** @internal */
  onSocketClose(): void {
    if (this.finished || this.socketClosed) return;
    // Bytes received before the socket closed are processed to the end first (a message being decompressed,
    // and the Close behind it): the peer sent them, so they are delivered.
    if (this.protocol.receivePending && !this.terminated) {
      this.socketClosed = true;
      return;
    }
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.heartbeat?.stop();
    const waiters = this.sentWaiters;
    this.sentWaiters = null;
    this.rateLimiter?.dispose();
    this.protocol.dispose();
    this.output.discard();
    const handshakeDone = this.protocol.closing && this.closeFrameReceived;
    // Frames that never reached the socket (it was gone) include our Close: the handshake did not complete.
    const wasClean = handshakeDone && this.failure === null && this.output.droppedBytes === 0;
    const code = this.failure === null ? this.receivedCode : CloseCode.Abnormal;
    const reason = this.failure === null ? this.receivedReason : "";
    this.events.onClosed(
      code,
      reason,
      wasClean,
      this.failure ?? (handshakeDone ? null : (this.terminateCause ?? this.socketError)),
    );
    if (waiters !== null) for (const waiter of waiters) waiter();
  }
}
