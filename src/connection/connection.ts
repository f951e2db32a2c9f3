import type { Socket } from "node:net";
import { CloseCode } from "../protocol/constants.js";
import { ProtocolError } from "../protocol/errors.js";
import type { PerMessageExtension, SharedPayload } from "../protocol/extension.js";
import { Protocol, type ProtocolHandler, type Role } from "../protocol/protocol.js";
import { OutputBatcher } from "./output-batcher.js";
import { RateLimiter, type RateLimitHost, type ResolvedRateLimit } from "./rate-limit.js";

// One transport (a net/tls socket after the upgrade) driven by one Protocol. Owns the socket's lifecycle:
// write batching, backpressure, the close handshake's timers (RFC 6455 §7.1.1: the server closes TCP first;
// the client waits for it, then gives up after closeTimeoutMs), and turning it all into a few events.

export interface ConnectionOptions {
  role: Role;
  maxPayloadBytes?: number;
  maxFragmentsPerMessage?: number;
  extension?: PerMessageExtension | null;
  /** How long to wait for the peer's Close / TCP close before destroying the socket. */
  closeTimeoutMs?: number;
  /**
   * Outgoing bytes the socket may hold before the peer counts as a slow consumer: it is then failed with
   * 1008 ("close") or its input is paused until the socket drains ("pause"). Default: unbounded.
   */
  maxBufferedBytes?: number;
  slowConsumer?: "close" | "pause";
  /** Limits on the frames and bytes the peer sends (resolveRateLimit), or null. */
  rateLimit?: ResolvedRateLimit | null;
}

export interface ConnectionEvents {
  onMessage(data: Buffer, isText: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** The peer's Close frame arrived (the closing handshake has started, WHATWG readyState CLOSING). */
  onClosing(code: number, reason: string): void;
  /** The transport is closed. `code` is 1006 when no Close frame was received (RFC 6455 §7.1.5). */
  onClosed(code: number, reason: string, wasClean: boolean, error: Error | null): void;
}

export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

const kConnection = Symbol("sockjet.connection");
type ConnectedSocket = Socket & { [kConnection]: Connection };

function onSocketData(this: ConnectedSocket, chunk: Buffer): void {
  this[kConnection].onData(chunk);
}

function onSocketEnd(this: ConnectedSocket): void {
  this[kConnection].onEnd();
}

function onSocketError(this: ConnectedSocket, error: Error): void {
  this[kConnection].socketError ??= error;
}

function onSocketClose(this: ConnectedSocket): void {
  this[kConnection].onSocketClose();
}

export class Connection implements ProtocolHandler {
  readonly protocol: Protocol;
  readonly socket: Socket;
  private readonly events: ConnectionEvents;
  private readonly output: OutputBatcher;
  private readonly closeTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly slowConsumer: "close" | "pause";
  private closeTimer: NodeJS.Timeout | null = null;
  private closeFrameReceived = false;
  private receivedCode: number = CloseCode.Abnormal;
  private receivedReason = "";
  private failure: Error | null = null;
  /** @internal The socket's first error (set by the shared socket listeners). */
  socketError: Error | null = null;
  /** True once the socket has closed and onClosed was emitted. */
  finished = false;
  private pausedForBackpressure = false;
  /** Set on any input; the server's keepalive sweep clears it and pings. */
  alive = true;
  /** Set on every message; the server's idle sweep clears it. */
  messageSeen = true;
  /**
   * Whether a frame built once for many connections (a topic publish) can be written here as it is: not when
   * an extension (permessage-deflate) transforms messages, as those may wait in the protocol's send queue.
   */
  readonly acceptsSharedFrames: boolean;
  /** Made only when a rate limit is set. */
  private readonly rateLimiter: RateLimiter | null;

  constructor(socket: Socket, options: ConnectionOptions, events: ConnectionEvents) {
    this.socket = socket;
    this.events = events;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? Number.POSITIVE_INFINITY;
    this.slowConsumer = options.slowConsumer ?? "close";
    this.acceptsSharedFrames = (options.extension ?? null) === null;
    this.output = new OutputBatcher(socket, options.role === "client");
    this.rateLimiter =
      (options.rateLimit ?? null) === null
        ? null
        : new RateLimiter(options.rateLimit!, new RateLimitHold(this));
    this.protocol = new Protocol(
      {
        role: options.role,
        maxPayloadBytes: options.maxPayloadBytes,
        maxFragmentsPerMessage: options.maxFragmentsPerMessage,
        extension: options.extension ?? null,
        frameGate: this.rateLimiter,
      },
      this,
    );
    socket.setNoDelay(true);
    socket.setTimeout(0);
    // Listeners shared by every connection (called with the socket as `this`), not four closures each.
    (socket as ConnectedSocket)[kConnection] = this;
    socket.on("data", onSocketData);
    socket.on("end", onSocketEnd);
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
    // "drain" is only listened for while paused as a slow consumer (see checkSlowConsumer).
  }

  /** Feeds bytes that arrived with the handshake (after the caller has announced the connection). */
  receiveHead(head: Buffer): void {
    if (head.length > 0) this.onData(head);
  }

  /** Application bytes handed to send() that the socket has not taken yet (WHATWG bufferedAmount). */
  get bufferedAmount(): number {
    return this.output.pendingAppBytes;
  }

  /** `borrowed`: the caller may change `payload` afterwards, so it is copied where it would be kept. */
  send(payload: Buffer, isText: boolean, transform?: boolean, borrowed = false): boolean {
    if (!this.protocol.send(payload, isText, transform, borrowed)) return false;
    this.output.addAppBytes(payload.length);
    this.checkSlowConsumer(payload.length);
    return true;
  }

  /**
   * Sends a text message from a string, encoded straight into the frame. Returns its UTF-8 length in bytes,
   * or -1 when nothing was sent (after our Close).
   */
  sendText(text: string, transform?: boolean): number {
    const bytes = this.protocol.sendText(text, transform);
    if (bytes < 0) return -1;
    this.output.addAppBytes(bytes);
    this.checkSlowConsumer(bytes);
    return bytes;
  }

  /** Sends a message shared with other connections: compressed once for all where possible (Protocol.sendShared). */
  sendShared(message: SharedPayload): boolean {
    if (!this.protocol.sendShared(message)) return false;
    this.output.addAppBytes(message.payload.length);
    this.checkSlowConsumer(message.payload.length);
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
    this.output.push(frame);
    this.output.addAppBytes(appBytes);
    this.checkSlowConsumer();
    return true;
  }

  /** A "pause" slow consumer over its limit: publishes to it are dropped until it drains. */
  get congested(): boolean {
    return this.slowConsumer === "pause" && this.socket.writableLength > this.maxBufferedBytes;
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

  /** Destroys the transport at once, without a closing handshake. */
  terminate(): void {
    this.output.flush();
    this.socket.destroy();
  }

  // ---- ProtocolHandler ----------------------------------------------------------------------------

  write(chunk: Buffer): void {
    this.output.push(chunk);
  }

  reserve(size: number): Buffer | null {
    return this.output.reserve(size);
  }

  get reservedAt(): number {
    return this.output.reservedAt;
  }

  commit(size: number): void {
    this.output.commit(size);
  }

  onMessage(data: Buffer, isText: boolean): void {
    this.messageSeen = true;
    this.events.onMessage(data, isText);
  }

  onPing(payload: Buffer): void {
    this.events.onPing(payload);
  }

  onPong(payload: Buffer): void {
    this.events.onPong(payload);
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
    this.failure ??= error;
    // §7.1.7: after the Close frame, close the transport; no need to wait for the peer. The socket is
    // destroyed as soon as the Close frame and our FIN are written, without waiting for the peer's Close or
    // FIN (a misbehaving peer would otherwise hold the error/close events for closeTimeoutMs). Chromium's
    // WebSocketChannel::FailChannel does the same: it closes the stream right after sending the Close.
    this.output.flush();
    const socket = this.socket;
    if (socket.destroyed) return;
    if (socket.writableFinished) {
      socket.destroy();
      return;
    }
    socket.once("finish", () => socket.destroy());
    if (!socket.writableEnded) socket.end();
    this.armCloseTimer();
  }

  // ---- transport --------------------------------------------------------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    this.alive = true;
    this.rateLimiter?.refill();
    this.output.beginBurst();
    this.protocol.receive(chunk);
    this.output.endBurst();
    this.checkSlowConsumer();
  }

  /** @internal */
  onEnd(): void {
    // The peer will send nothing more; finish our side too (Node sockets here are half-open capable).
    this.endSocket();
  }

  private onDrain(): void {
    if (this.pausedForBackpressure) {
      this.pausedForBackpressure = false;
      if (!this.inputHeld) this.socket.resume();
    }
  }

  /** True while the rate limiter holds the input (the keepalive does not count the silence against it). */
  get inputHeld(): boolean {
    return this.rateLimiter?.holding === true;
  }

  /** @internal The rate limiter's buckets refilled: parse what waited, then read again. */
  onRateLimitRelease(): void {
    if (this.finished) return;
    this.output.beginBurst();
    this.protocol.releaseInput();
    this.output.endBurst();
    if (!this.inputHeld && !this.pausedForBackpressure) this.socket.resume();
  }

  /**
   * `adding`: bytes of the message being sent, not held against the peer (one message larger than the limit
   * is not by itself a slow consumer). Sends batched in this tick count too: the socket has not seen them yet,
   * and a burst of sends to a peer that never reads would otherwise be buffered whole and never checked again.
   */
  private checkSlowConsumer(adding = 0): void {
    const waiting = this.socket.writableLength + this.output.queuedBytes - adding;
    if (waiting <= this.maxBufferedBytes || this.finished) return;
    if (this.slowConsumer === "pause") {
      if (!this.pausedForBackpressure) {
        this.pausedForBackpressure = true;
        this.socket.pause();
        this.socket.once("drain", () => this.onDrain());
      }
      return;
    }
    // The Close frame cannot get past a full buffer: fail and drop the transport.
    this.failure ??= new ProtocolError(
      "SJ_ERR_SLOW_CONSUMER",
      `Peer is not reading: more than ${this.maxBufferedBytes} bytes buffered`,
      CloseCode.PolicyViolation,
    );
    this.protocol.fail(this.failure as ProtocolError);
    this.socket.destroy();
  }

  private endSocket(): void {
    this.output.flush();
    if (!this.socket.writableEnded) this.socket.end();
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== null || this.finished) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeoutMs);
    this.closeTimer.unref();
  }

  /** @internal */
  onSocketClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.rateLimiter?.dispose();
    this.protocol.dispose();
    this.output.discard();
    const handshakeDone = this.protocol.closing && this.closeFrameReceived;
    const wasClean = handshakeDone && this.failure === null;
    const code = this.failure === null ? this.receivedCode : CloseCode.Abnormal;
    const reason = this.failure === null ? this.receivedReason : "";
    this.events.onClosed(code, reason, wasClean, this.failure ?? (handshakeDone ? null : this.socketError));
  }
}

/** The rate limiter's view of its connection (an object, not two closures per connection). */
class RateLimitHold implements RateLimitHost {
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  holdInput(): void {
    this.connection.socket.pause();
  }

  releaseInput(): void {
    this.connection.onRateLimitRelease();
  }
}
