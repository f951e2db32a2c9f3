import { CloseCode } from "../protocol/constants.js";

// A connection's yes/no state (one bit each) and the state of its end, behind named accessors. Apart from
// connection.ts because it is bookkeeping kept small for idle connections (issue 17), not behaviour.

/** The bits of Connection.flags. */
export const Flag = {
  closeFrameReceived: 1,
  finished: 1 << 1,
  endRequested: 1 << 2,
  peerEnded: 1 << 3,
  socketClosed: 1 << 4,
  terminated: 1 << 5,
  pausedForBackpressure: 1 << 6,
  flushProbePending: 1 << 7,
  pausedForAnswers: 1 << 8,
  pausedForReader: 1 << 9,
  pausedForDecoding: 1 << 10,
  messageDelivered: 1 << 11,
  alive: 1 << 12,
  messageSeen: 1 << 13,
  acceptsSharedFrames: 1 << 14,
} as const;

/** The state Connection reads and writes through accessors; Connection extends it. */
export abstract class ConnectionState {
  /** What the closing handshake and teardown keep (ClosingState), made when they first need it. */
  protected ending: ClosingState | null = null;
  /**
   * The connection's yes/no state, one bit each (Flag), behind the accessors below: a field each would cost
   * 8 bytes per connection, idle ones included (issue 17).
   */
  protected flags = Flag.alive | Flag.messageSeen;

  protected get endingState(): ClosingState {
    return (this.ending ??= new ClosingState());
  }

  /** @internal The socket's first error (set by the shared socket listeners); kept with the closing state. */
  get socketError(): Error | null {
    return this.ending?.socketError ?? null;
  }
  set socketError(error: Error | null) {
    if (error !== null || this.ending !== null) this.endingState.socketError = error;
  }

  protected get closeTimer(): NodeJS.Timeout | null {
    return this.ending?.closeTimer ?? null;
  }
  protected set closeTimer(timer: NodeJS.Timeout | null) {
    if (timer !== null || this.ending !== null) this.endingState.closeTimer = timer;
  }
  protected get receivedCode(): number {
    return this.ending?.receivedCode ?? CloseCode.Abnormal;
  }
  protected set receivedCode(code: number) {
    this.endingState.receivedCode = code;
  }
  protected get receivedReason(): string {
    return this.ending?.receivedReason ?? "";
  }
  protected set receivedReason(reason: string) {
    this.endingState.receivedReason = reason;
  }
  protected get failure(): Error | null {
    return this.ending?.failure ?? null;
  }
  protected set failure(error: Error | null) {
    if (error !== null || this.ending !== null) this.endingState.failure = error;
  }
  /** Why terminate() was called (e.g. the keepalive), reported instead of the socket's error. */
  protected get terminateCause(): Error | null {
    return this.ending?.terminateCause ?? null;
  }
  protected set terminateCause(cause: Error | null) {
    if (cause !== null || this.ending !== null) this.endingState.terminateCause = cause;
  }
  /** Callbacks of whenSent() waiting for frames behind the extension (onSettled). */
  protected get sentWaiters(): (() => void)[] | null {
    return this.ending?.sentWaiters ?? null;
  }
  protected set sentWaiters(waiters: (() => void)[] | null) {
    if (waiters !== null || this.ending !== null) this.endingState.sentWaiters = waiters;
  }

  protected flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  protected setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  protected get closeFrameReceived(): boolean {
    return this.flag(Flag.closeFrameReceived);
  }
  protected set closeFrameReceived(on: boolean) {
    this.setFlag(Flag.closeFrameReceived, on);
  }
  /** True once the socket has closed and onClosed was emitted. */
  get finished(): boolean {
    return this.flag(Flag.finished);
  }
  protected set finished(on: boolean) {
    this.setFlag(Flag.finished, on);
  }
  /** Our side is to be ended once the frames waiting behind the extension are written (endSocket). */
  protected get endRequested(): boolean {
    return this.flag(Flag.endRequested);
  }
  protected set endRequested(on: boolean) {
    this.setFlag(Flag.endRequested, on);
  }
  /** The peer's FIN arrived while received bytes were still being processed. */
  protected get peerEnded(): boolean {
    return this.flag(Flag.peerEnded);
  }
  protected set peerEnded(on: boolean) {
    this.setFlag(Flag.peerEnded, on);
  }
  /** The socket closed while received bytes were still being processed: onClosed waits for them. */
  protected get socketClosed(): boolean {
    return this.flag(Flag.socketClosed);
  }
  protected set socketClosed(on: boolean) {
    this.setFlag(Flag.socketClosed, on);
  }
  /** terminate() was called: nothing waits for the extension any more. */
  protected get terminated(): boolean {
    return this.flag(Flag.terminated);
  }
  protected set terminated(on: boolean) {
    this.setFlag(Flag.terminated, on);
  }
  protected get pausedForBackpressure(): boolean {
    return this.flag(Flag.pausedForBackpressure);
  }
  protected set pausedForBackpressure(on: boolean) {
    this.setFlag(Flag.pausedForBackpressure, on);
  }
  /** An empty write is on its way, to tell when what was written before it has left (resumeAfterFlush). */
  protected get flushProbePending(): boolean {
    return this.flag(Flag.flushProbePending);
  }
  protected set flushProbePending(on: boolean) {
    this.setFlag(Flag.flushProbePending, on);
  }
  /** Input is paused until the pongs we owe the peer have drained (checkUnsentAnswers). */
  protected get pausedForAnswers(): boolean {
    return this.flag(Flag.pausedForAnswers);
  }
  protected set pausedForAnswers(on: boolean) {
    this.setFlag(Flag.pausedForAnswers, on);
  }
  /** Input is paused while the application's queue of received messages is full (pauseForReader). */
  protected get pausedForReader(): boolean {
    return this.flag(Flag.pausedForReader);
  }
  protected set pausedForReader(on: boolean) {
    this.setFlag(Flag.pausedForReader, on);
  }
  /** Input is paused until the decoder settles (checkDecodeBacklog). */
  protected get pausedForDecoding(): boolean {
    return this.flag(Flag.pausedForDecoding);
  }
  protected set pausedForDecoding(on: boolean) {
    this.setFlag(Flag.pausedForDecoding, on);
  }
  /** Set once a message has been handed to the events: a late takeEvents() would have missed it. */
  get messageDelivered(): boolean {
    return this.flag(Flag.messageDelivered);
  }
  /** Set on any input; the server's keepalive sweep clears it and pings. */
  get alive(): boolean {
    return this.flag(Flag.alive);
  }
  set alive(on: boolean) {
    this.setFlag(Flag.alive, on);
  }
  /** Set on every message; the server's idle sweep clears it. */
  get messageSeen(): boolean {
    return this.flag(Flag.messageSeen);
  }
  set messageSeen(on: boolean) {
    this.setFlag(Flag.messageSeen, on);
  }
  /**
   * Whether a frame built once for many connections (a topic publish) can be written here as it is: not when
   * an extension (permessage-deflate) transforms messages, as those may wait in the protocol's send queue.
   */
  get acceptsSharedFrames(): boolean {
    return this.flag(Flag.acceptsSharedFrames);
  }
}

/**
 * The state of a connection's end: the peer's Close, our failure, the close timer, whenSent() callbacks. Kept
 * apart and made on first use, so that an open connection does not carry six empty fields (issue 17).
 */
class ClosingState {
  socketError: Error | null = null;
  closeTimer: NodeJS.Timeout | null = null;
  receivedCode: number = CloseCode.Abnormal;
  receivedReason = "";
  failure: Error | null = null;
  terminateCause: Error | null = null;
  sentWaiters: (() => void)[] | null = null;
}
