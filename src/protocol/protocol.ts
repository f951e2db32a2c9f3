import { constants } from "node:buffer";
import { closeReason, encodeClosePayload, isValidWireCloseCode, parseClosePayload } from "./close.js";
import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode } from "./constants.js";
import { ProtocolError } from "./errors.js";
import type { PerMessageExtension, SharedPayload, TransformCallback } from "./extension.js";
import { type FrameGate, FrameVerdict } from "./frame-gate.js";
import { type FrameHeader, type FrameSink, LENGTH_TOP_BIT_SET, PauseReason } from "./frame-parser.js";
import { type FrameOptions, writeFrame, writeTextFrame } from "./frame-writer.js";
import { MessageBuffer } from "./message-buffer.js";
import { framesFor } from "./outgoing-frame-options.js";
import {
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  type ProtocolHandler,
  type ProtocolOptions,
  type Role,
} from "./protocol-options.js";
import { ProtocolState, type QueuedSend, Receiver } from "./protocol-state.js";
import { forgetAsciiText, validateText } from "./utf8.js";

const { MAX_LENGTH, MAX_STRING_LENGTH } = constants;

// The RFC 6455 state machine after the opening handshake, free of I/O (like Python's websockets and
// wsproto): bytes go in through receive(), and come out through handler.write(); calls go in through
// send()/ping()/close(), and events come out through the handler. It never touches a socket or a timer.

export class Protocol extends ProtocolState implements FrameSink {
  /**
   * Kept as given, read through the getters below: a server passes one options object to all its connections,
   * so the settings cost no field each per connection (issue 17).
   */
  private readonly options: ProtocolOptions;
  private readonly handler: ProtocolHandler;
  private readonly frameGate: FrameGate | null;
  /** The negotiated extension: per connection, so given beside the shared options (options.extension otherwise). */
  private readonly extension: PerMessageExtension | null;

  /** Control frames are framed as data frames are (no field of its own per connection). */
  private get controlFrameOptions(): FrameOptions {
    return this.frameOptions;
  }

  get role(): Role {
    return this.options.role;
  }
  /**
   * §10.4 the message size limit: the configured one, but never past the largest Buffer this Node can make
   * (`Infinity` or a limit above it would let a frame header ask for an allocation that throws).
   */
  private get maxPayloadBytes(): number {
    return Math.min(this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, MAX_LENGTH);
  }
  /** A text message is decoded into a string: no longer than V8's longest (in UTF-8 bytes, which is more). */
  private get maxTextBytes(): number {
    return Math.min(this.maxPayloadBytes, MAX_STRING_LENGTH);
  }
  private get maxFragments(): number {
    return this.options.maxFragmentsPerMessage ?? DEFAULT_MAX_FRAGMENTS;
  }
  private get frameOptions(): FrameOptions {
    return framesFor(this.options).plain;
  }
  private get borrowedFrameOptions(): FrameOptions {
    return framesFor(this.options).borrowed;
  }

  /**
   * `options` is kept and read as it is (not copied): it must not change afterwards. `frameGate` and
   * `extension` (per connection, so not among the shared options) win over options.frameGate and
   * options.extension.
   */
  constructor(
    options: ProtocolOptions,
    handler: ProtocolHandler,
    frameGate?: FrameGate | null,
    extension?: PerMessageExtension | null,
  ) {
    super();
    this.options = options;
    this.handler = handler;
    this.frameGate = frameGate ?? options.frameGate ?? null;
    this.extension = extension !== undefined ? extension : (options.extension ?? null);
  }

  protected get parser(): Receiver {
    return (this.frameParser ??= new Receiver(this));
  }

  /** True once we have sent a Close frame: no more data may be sent (§5.5.1). */
  get closing(): boolean {
    return this.closeSent;
  }

  /**
   * A Ping gets its Pong (§5.5.2: "unless it already received a Close frame"), after our own Close too: a
   * Pong is no data frame (§5.5.1). Not once the connection failed.
   */
  get answersPings(): boolean {
    return !this.closeReceived && !this.failed;
  }

  /** True when both Close frames have been exchanged, or the connection failed. */
  get closed(): boolean {
    return (this.closeSent && this.closeReceived) || this.failed;
  }

  /** Bytes received but not parsed yet, because a message is being decoded by the extension. */
  get pendingReceiveBytes(): number {
    return this.frameParser === null ? 0 : this.frameParser.pendingBytes;
  }

  /** Received bytes are still being processed (a message is with the decoder, more may wait behind it). */
  get receivePending(): boolean {
    return this.decoding;
  }

  /** Frames are waiting behind a message being compressed: they have not reached handler.write() yet. */
  get sendPending(): boolean {
    return this.encoding;
  }

  /**
   * Payload bytes of messages accepted by send() that wait for the extension (queued, or being encoded):
   * not handed to handler.write() yet. Those dropped by a failure stay counted (they were never sent).
   */
  get queuedSendBytes(): number {
    return this.queuedMessageBytes;
  }

  /** Feeds bytes from the peer. Takes ownership of `data` (masked payloads are unmasked in place). */
  receive(data: Buffer): void {
    this.parser.push(data);
  }

  // ---- sending -------------------------------------------------------------------------------------

  /** Sends a text or binary message. Returns false (and sends nothing) once a Close has been sent. */
  send(payload: Buffer, isText: boolean, transform?: boolean, borrowed = false): boolean {
    if (this.closeSent || this.failed) return false;
    const opcode = isText ? Opcode.Text : Opcode.Binary;
    const extension = this.extension;
    if (extension === null) {
      writeFrame(opcode, payload, borrowed ? this.borrowedFrameOptions : this.frameOptions, this.handler);
      return true;
    }
    const useExtension = transform ?? extension.shouldTransform(payload.length);
    if (!useExtension && !this.encoding) {
      writeFrame(opcode, payload, borrowed ? this.borrowedFrameOptions : this.frameOptions, this.handler);
      this.handler.onMessageWritten?.(payload.length);
      return true;
    }
    // A borrowed payload that must wait (or be read by zlib later) is copied now.
    this.enqueueMessage({
      opcode,
      payload: borrowed ? Buffer.from(payload) : payload,
      transform: useExtension,
    });
    return true;
  }

  /**
   * Sends a text message given as a string, encoding it into the frame. Returns its UTF-8 length in bytes,
   * or -1 (and sends nothing) once a Close has been sent.
   */
  sendText(text: string, transform?: boolean): number {
    if (this.closeSent || this.failed) return -1;
    if (this.extension === null && !this.encoding)
      return writeTextFrame(text, this.frameOptions, this.handler);
    const payload = Buffer.from(text, "utf8");
    this.send(payload, true, transform);
    return payload.length;
  }

  /**
   * Sends a message that goes unchanged to many connections (a topic publish). When the extension would
   * transform it and keeps no state between messages (permessage-deflate without context takeover on our
   * side, RFC 7692 §7.1.1.1), the payload is encoded once for every connection with the same parameters
   * and only framed here; otherwise it is an ordinary send. Returns false once a Close has been sent.
   */
  sendShared(message: SharedPayload): boolean {
    if (this.closeSent || this.failed) return false;
    const extension = this.extension;
    if (
      extension === null ||
      (extension.sharedEncoder ?? null) === null ||
      !extension.shouldTransform(message.payload.length)
    ) {
      return this.send(message.payload, message.isText);
    }
    const opcode = message.isText ? Opcode.Text : Opcode.Binary;
    this.enqueueMessage({ opcode, payload: message.payload, transform: true, shared: message });
    return true;
  }

  /** Sends a Ping (§5.5.2). The payload is at most 125 bytes. */
  ping(payload: Buffer = Buffer.alloc(0)): boolean {
    return this.sendControl(Opcode.Ping, payload);
  }

  /** Sends an unsolicited Pong (§5.5.3: allowed as a unidirectional heartbeat). */
  pong(payload: Buffer = Buffer.alloc(0)): boolean {
    return this.sendControl(Opcode.Pong, payload);
  }

  /**
   * Starts the closing handshake (§7.1.2) with `code` (1005 = no status code) and `reason`. Nothing is sent
   * after it. Returns false if a Close was already sent.
   */
  close(code: number = CloseCode.NoStatus, reason = ""): boolean {
    if (this.closeSent || this.failed) return false;
    if (code !== CloseCode.NoStatus && !isValidWireCloseCode(code)) {
      throw new RangeError(`Close code ${code} may not be sent (RFC 6455 §7.4)`);
    }
    const payload = encodeClosePayload(code, reason);
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError("Close reason longer than 123 bytes");
    this.closeSent = true;
    this.writeControl(Opcode.Close, payload);
    return true;
  }

  /** Fails the connection from outside the protocol (e.g. a decoder error, a policy limit). */
  fail(error: ProtocolError): void {
    if (this.failed) return;
    this.failed = true;
    this.decoding = false;
    this.parser.stop();
    // Frames waiting behind the extension's encoder are dropped: its callback returns early once failed, so
    // a Close queued there would never be written. A Close that close() had queued goes out now instead.
    if (this.encoding) {
      const queuedClose = this.sendQueue?.find((item) => item.opcode === Opcode.Close);
      this.sendQueue = null;
      this.encoding = false;
      if (queuedClose !== undefined) {
        writeFrame(Opcode.Close, queuedClose.payload, this.controlFrameOptions, this.handler);
      }
    }
    // §7.1.7: send a Close frame with the status code first, unless one was sent already.
    if (!this.closeSent) {
      this.closeSent = true;
      // §7.1.6: a reason says why, in at most 123 bytes of UTF-8; our error messages are written to fit.
      this.writeControl(Opcode.Close, encodeClosePayload(error.closeCode, closeReason(error.message)));
    }
    this.handler.onFailure(error);
  }

  /**
   * Delivers no more messages until releaseForReader(): the application's queue is full. Called from
   * onMessage, it stops after that message; the bytes behind it wait, parsed later in order.
   */
  holdForReader(): void {
    this.parser.pause(PauseReason.reader);
  }

  releaseForReader(): void {
    this.parser.resume(PauseReason.reader);
  }

  /** Reads again after the frame gate held the input (FrameVerdict.holdAfter). */
  releaseInput(): void {
    this.parser.resume(PauseReason.held);
  }

  /**
   * Releases the extension's resources. Whatever still waits for it is dropped: the transport calls this once
   * receivePending and sendPending are false, unless it is being destroyed on purpose.
   */
  dispose(): void {
    this.disposed = true;
    this.parser.stop();
    this.decoding = false;
    this.encoding = false;
    this.sendQueue = null;
    this.extension?.dispose();
  }

  private sendControl(opcode: number, payload: Buffer): boolean {
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError("Control frame payload longer than 125 bytes (RFC 6455 §5.5)");
    }
    if (this.closeSent || this.failed) return false;
    this.writeControl(opcode, payload);
    return true;
  }

  /** Control frames keep their place behind messages waiting for the extension. */
  private writeControl(opcode: number, payload: Buffer): void {
    if (this.encoding) this.enqueue({ opcode, payload, transform: false });
    else writeFrame(opcode, payload, this.controlFrameOptions, this.handler);
  }

  private enqueue(item: QueuedSend): void {
    (this.sendQueue ??= []).push(item);
    if (!this.encoding) this.writeQueued();
  }

  /** A data message waits for the extension: its bytes count as queued until its frame is written. */
  private enqueueMessage(item: QueuedSend): void {
    this.queuedMessageBytes += item.payload.length;
    this.enqueue(item);
  }

  /** A queued data message's frame is written: its bytes leave the queue's count, for the handler's. */
  private writtenFromQueue(appBytes: number): void {
    this.queuedMessageBytes -= appBytes;
    this.handler.onMessageWritten?.(appBytes);
  }

  private drainSendQueue(): void {
    this.writeQueued();
    // The queue is empty and no job runs: anything waiting for our frames to be written may go on.
    if (!this.encoding) this.handler.onSettled?.();
  }

  private writeQueued(): void {
    while (this.sendQueue !== null && this.sendQueue.length > 0) {
      const item = this.sendQueue.shift()!;
      if (!item.transform) {
        writeFrame(item.opcode, item.payload, this.controlFrameOptions, this.handler);
        if (item.opcode < 8) this.writtenFromQueue(item.payload.length);
        continue;
      }
      const shared = item.shared;
      const sharedEncoder = shared === undefined ? null : this.extension!.sharedEncoder!;
      // Encoded already for another connection (or small enough to encode now): only the frame is ours.
      const ready = sharedEncoder === null ? undefined : shared!.encodedNow(sharedEncoder);
      if (ready !== undefined) {
        this.writeTransformed(item.opcode, ready);
        this.writtenFromQueue(item.payload.length);
        continue;
      }
      this.encoding = true;
      const done: TransformCallback = (error, encoded) => {
        this.encoding = false;
        // A shared encoding finishes whether or not this connection is still there.
        if (this.disposed || (this.failed && error === null)) return;
        if (error !== null || encoded === undefined) {
          this.fail(asProtocolError(error, CloseCode.InternalError));
          return;
        }
        this.writeTransformed(item.opcode, encoded);
        this.writtenFromQueue(item.payload.length);
        this.drainSendQueue();
      };
      if (sharedEncoder === null) this.extension!.encode(item.payload, done);
      else shared!.encode(sharedEncoder, done);
      return;
    }
  }

  private writeTransformed(opcode: number, encoded: Buffer): void {
    // RFC 7692 §6: RSV1 marks the first (here: only) frame of a compressed message.
    writeFrame(
      opcode,
      encoded,
      { fin: true, rsv1: true, maskKeys: this.frameOptions.maskKeys },
      this.handler,
    );
  }

  // ---- receiving (FrameSink) -------------------------------------------------------------------------

  onFrameHeader(h: FrameHeader): boolean {
    // The receiving state, read and written directly (not through the accessors): this is the per-frame path.
    const r = this.frameParser!;
    /** Bytes of the message being received so far (frames before this one). */
    const buffered = r.messageBuffer === null ? 0 : r.messageBuffer.byteLength;
    const opcode = h.opcode;
    // §5.2: RSV2/RSV3 must be 0 (no extension we negotiate defines them).
    if (h.rsv2 || h.rsv3)
      return this.reject(
        "SJ_ERR_UNEXPECTED_RSV",
        "RSV2 or RSV3 set: no extension defines them (RFC 6455 §5.2)",
      );
    // §5.2 + §11.8: opcodes 3–7 and 0xB–0xF are reserved.
    const isControl = opcode >= 8;
    if (isControl ? opcode > Opcode.Pong : opcode > Opcode.Binary) {
      return this.reject("SJ_ERR_INVALID_OPCODE", `reserved opcode 0x${opcode.toString(16)} (RFC 6455 §5.2)`);
    }
    // §5.1: a server closes on an unmasked frame; a client closes on a masked frame.
    if (h.masked !== (this.role === "server")) {
      return this.role === "server"
        ? this.reject("SJ_ERR_EXPECTED_MASK", "client frame not masked (RFC 6455 §5.1)")
        : this.reject("SJ_ERR_UNEXPECTED_MASK", "server frame masked (RFC 6455 §5.1)");
    }
    if (h.length < 0) {
      return this.reject(
        "SJ_ERR_INVALID_LENGTH",
        h.length === LENGTH_TOP_BIT_SET
          ? "64-bit length with the top bit set (RFC 6455 §5.2)"
          : "payload length not in its shortest form (RFC 6455 §5.2: the minimal number of bytes MUST be used)",
      );
    }
    if (isControl) {
      // §5.5: control frames are not fragmented and carry at most 125 bytes. RFC 7692 §6: never RSV1.
      if (!h.fin)
        return this.reject("SJ_ERR_FRAGMENTED_CONTROL_FRAME", "fragmented control frame (RFC 6455 §5.5)");
      if (h.length > MAX_CONTROL_PAYLOAD) {
        return this.reject(
          "SJ_ERR_CONTROL_FRAME_TOO_LONG",
          "control frame longer than 125 bytes (RFC 6455 §5.5)",
        );
      }
      if (h.rsv1) return this.reject("SJ_ERR_UNEXPECTED_RSV", "RSV1 set on a control frame (RFC 7692 §6)");
    } else {
      if (opcode === Opcode.Continuation) {
        // §5.4: a continuation needs a message in progress.
        if (r.messageOpcode === 0) {
          return this.reject(
            "SJ_ERR_UNEXPECTED_CONTINUATION",
            "continuation frame without a message (RFC 6455 §5.4)",
          );
        }
        // RFC 7692 §6.1: RSV1 only on the first frame of a message.
        if (h.rsv1)
          return this.reject("SJ_ERR_UNEXPECTED_RSV", "RSV1 set on a continuation frame (RFC 7692 §6.1)");
      } else {
        // §5.4: a new message may not start before the previous one has ended.
        if (r.messageOpcode !== 0) {
          return this.reject(
            "SJ_ERR_EXPECTED_CONTINUATION",
            "new message inside a fragmented one (RFC 6455 §5.4)",
          );
        }
        // §5.2: RSV1 only with a negotiated extension that defines it.
        if (h.rsv1 && this.extension === null) {
          return this.reject(
            "SJ_ERR_UNEXPECTED_RSV",
            "RSV1 set without a negotiated extension (RFC 6455 §5.2)",
          );
        }
        r.messageOpcode = opcode;
        this.messageTransformed = h.rsv1;
        r.fragments = 0;
        this.validatingStream = false;
      }
      // §10.4: limits are checked from the header, before a byte of the payload is buffered. A compressed
      // message is held to maxPayloadBytes once inflated (by the decoder); on the wire it may be larger,
      // as incompressible data is sent in stored blocks of 5 bytes' overhead each (RFC 1951 §3.2.4, RFC
      // 7692 §7.2.1): 1/64 more covers blocks down to 320 bytes, so a message at the limit gets through.
      const limit = r.messageOpcode === Opcode.Text ? this.maxTextBytes : this.maxPayloadBytes;
      const wireLimit = this.messageTransformed
        ? Math.min(limit + Math.ceil(limit / 64) + 64, MAX_LENGTH)
        : limit;
      if (buffered + h.length > wireLimit) {
        return this.reject(
          "SJ_ERR_MESSAGE_TOO_BIG",
          `message too big: limit ${limit} bytes`,
          CloseCode.MessageTooBig,
        );
      }
      // A fragment costs our parser its bytes (copied into one MessageBuffer), not an object, so frames that
      // carry bytes are bounded by maxPayloadBytes alone, however small. The count only stops frames that
      // carry (almost) nothing, e.g. an endless message of empty continuations: a message may span
      // max(maxFragmentsPerMessage, its bytes so far) frames.
      const messageBytes = buffered + h.length;
      if (++r.fragments > this.maxFragments && r.fragments > messageBytes) {
        return this.reject(
          "SJ_ERR_TOO_MANY_FRAGMENTS",
          `too many fragments: ${r.fragments} frames for ${messageBytes} bytes (limit ${this.maxFragments} or 1 per byte)`,
          CloseCode.MessageTooBig,
        );
      }
    }
    // Every frame but a Close counts against the rate limits, pings and empty frames included: a flood is
    // refused (or held) here, from its header, before any payload is read or any message is built. Not once
    // our Close is sent: what still arrives is only drained until the peer's Close (RFC 6455 §1.4, §5.5.1).
    if (this.frameGate !== null && opcode !== Opcode.Close && !this.closeSent) {
      const verdict = this.frameGate.admit(h.length);
      if (verdict === FrameVerdict.refuse) return this.refuseFrame(this.frameGate.refusal);
      if (verdict === FrameVerdict.holdAfter) this.parser.pauseAfterFrame();
    }
    r.frameOpcode = opcode;
    this.frameFin = h.fin;
    r.framePieces = 0;
    r.expectedTotal = h.fin && !isControl ? buffered + h.length : 0;
    return true;
  }

  onFramePayload(piece: Buffer, last: boolean): void {
    // The receiving state, read and written directly (not through the accessors): this is the per-frame path.
    const r = this.frameParser!;
    if (r.frameOpcode >= 8) {
      if (piece.length > 0) (r.control ??= []).push(piece);
      if (last) this.handleControlFrame();
      return;
    }
    r.framePieces++;
    // The common case, a whole message in one unfragmented frame read in one piece: straight to the handler.
    if (last && this.frameFin && r.framePieces === 1 && r.fragments === 1 && !this.messageTransformed) {
      const isText = r.messageOpcode === Opcode.Text;
      r.messageOpcode = 0;
      // §8.1: a text message must be valid UTF-8.
      if (isText) {
        if (!validateText(piece)) {
          this.reject("SJ_ERR_INVALID_UTF8", "invalid UTF-8 in text message", CloseCode.InvalidPayload);
          return;
        }
        this.handler.onMessage(piece, true);
        forgetAsciiText();
        return;
      }
      this.handler.onMessage(piece, false);
      return;
    }
    const text = r.messageOpcode === Opcode.Text && !this.messageTransformed;
    // A text message that arrives in one piece is validated once at the end, natively. Anything split is
    // validated piece by piece, so invalid UTF-8 fails the connection as soon as it arrives (§8.1).
    if (
      text &&
      (this.validatingStream || !(last && this.frameFin && r.framePieces === 1 && r.fragments === 1))
    ) {
      this.validatingStream = true;
      if (!this.utf8.feed(piece)) {
        this.reject("SJ_ERR_INVALID_UTF8", "invalid UTF-8 in text message", CloseCode.InvalidPayload);
        return;
      }
    }
    (r.messageBuffer ??= new MessageBuffer()).append(piece, r.expectedTotal);
    if (last && this.frameFin) this.finishMessage();
  }

  /**
   * A large masked piece of a data message that will be copied into the MessageBuffer (it is not the whole
   * message): unmasked as it is copied. Takes the same decisions as onFramePayload.
   */
  onMaskedPayload(piece: Buffer, last: boolean, maskWord: number, keyOffset: number): boolean {
    // The receiving state, read and written directly (not through the accessors): this is the per-frame path.
    const r = this.frameParser!;
    if (r.frameOpcode >= 8) return false;
    // A piece that completes a frame and starts the message is not copied yet: it may be the whole message,
    // which goes on without a copy, or the MessageBuffer keeps it by reference until the next piece (whose
    // frame header may give the message's size). Unmasked in place.
    if (last && (r.messageBuffer === null || r.messageBuffer.byteLength === 0)) return false;
    r.framePieces++;
    const unmasked = (r.messageBuffer ??= new MessageBuffer()).appendUnmasking(
      piece,
      r.expectedTotal,
      maskWord,
      keyOffset,
    );
    // §8.1: a text message in several pieces is validated piece by piece (see onFramePayload); a compressed
    // one once inflated.
    if (r.messageOpcode === Opcode.Text && !this.messageTransformed) {
      this.validatingStream = true;
      if (!this.utf8.feed(unmasked)) {
        this.reject("SJ_ERR_INVALID_UTF8", "invalid UTF-8 in text message", CloseCode.InvalidPayload);
        return true;
      }
    }
    if (last && this.frameFin) this.finishMessage();
    return true;
  }

  private finishMessage(): void {
    // The receiving state, read and written directly (not through the accessors): this is the per-frame path.
    const r = this.frameParser!;
    const isText = r.messageOpcode === Opcode.Text;
    const streamed = this.validatingStream;
    r.messageOpcode = 0;
    this.validatingStream = false;
    if (this.messageTransformed) {
      this.messageTransformed = false;
      this.decodeMessage((r.messageBuffer ??= new MessageBuffer()).takeParts(), isText);
      return;
    }
    const data = (r.messageBuffer ??= new MessageBuffer()).take();
    if (isText) {
      if (streamed ? !this.utf8.complete : !validateText(data)) {
        this.utf8.reset();
        this.reject("SJ_ERR_INVALID_UTF8", "invalid UTF-8 in text message", CloseCode.InvalidPayload);
        return;
      }
      this.utf8.reset();
    }
    this.handler.onMessage(data, isText);
    forgetAsciiText();
  }

  /** Runs the extension's decoder; parsing waits so events keep the order of the wire. */
  private decodeMessage(parts: Buffer[], isText: boolean): void {
    this.parser.pause();
    this.decoding = true;
    let wireBytes = 0;
    for (const part of parts) wireBytes += part.length;
    this.extension!.decode(parts, isText ? this.maxTextBytes : this.maxPayloadBytes, (error, data) => {
      if (this.failed) return;
      this.decoding = false;
      if (error !== null || data === undefined) {
        this.fail(asProtocolError(error, CloseCode.InvalidPayload));
      } else if (isText && !validateText(data)) {
        // §8.1: the decoded text must be UTF-8.
        this.reject("SJ_ERR_INVALID_UTF8", "invalid UTF-8 in text message", CloseCode.InvalidPayload);
      } else {
        // What inflating added is charged like received bytes (the rate limiter's byte bucket).
        const verdict = this.frameGate?.admitInflated?.(wireBytes, data.length) ?? FrameVerdict.pass;
        if (verdict === FrameVerdict.refuse) {
          forgetAsciiText();
          this.refuseFrame(this.frameGate!.refusal);
        } else {
          if (verdict === FrameVerdict.holdAfter) this.parser.pause(PauseReason.held);
          this.handler.onMessage(data, isText);
          forgetAsciiText();
          // The bytes that arrived meanwhile: parsed now, up to the next message for the decoder, if any.
          this.parser.resume();
        }
      }
      if (!this.decoding) this.handler.onSettled?.();
    });
  }

  private handleControlFrame(): void {
    const control = this.control;
    this.control = null;
    const payload =
      control === null ? Buffer.alloc(0) : control.length === 1 ? control[0] : Buffer.concat(control);
    switch (this.frameOpcode) {
      case Opcode.Ping:
        // §5.5.2: answer with a Pong carrying the same payload.
        if (this.answersPings) this.writeControl(Opcode.Pong, payload);
        this.handler.onPing(payload);
        return;
      case Opcode.Pong:
        this.handler.onPong(payload);
        return;
      default:
        this.handleCloseFrame(payload);
    }
  }

  private handleCloseFrame(payload: Buffer): void {
    let code: number;
    let reason: string;
    try {
      ({ code, reason } = parseClosePayload(payload));
    } catch (error) {
      this.fail(error as ProtocolError);
      return;
    }
    this.closeReceived = true;
    // §5.5.1: after a Close nothing more is read; answer with a Close echoing the status code (and reason).
    this.parser.stop();
    if (!this.closeSent) {
      this.closeSent = true;
      this.writeControl(Opcode.Close, encodeClosePayload(code, reason));
    }
    this.handler.onCloseFrame(code, reason);
  }

  /** RFC 6455 §7.4.1: 1008, "a message that violates its policy"; the Close says which limit. */
  private refuseFrame(reason: string): false {
    if (!this.closeSent) {
      this.closeSent = true;
      this.writeControl(Opcode.Close, encodeClosePayload(CloseCode.PolicyViolation, reason));
    }
    this.fail(new ProtocolError("SJ_ERR_RATE_LIMITED", reason, CloseCode.PolicyViolation));
    return false;
  }

  private reject(
    code: ProtocolError["code"],
    message: string,
    closeCode: number = CloseCode.ProtocolError,
  ): false {
    this.fail(new ProtocolError(code, message, closeCode));
    return false;
  }
}

function asProtocolError(error: Error | null, closeCode: number): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError("SJ_ERR_EXTENSION_FAILED", error?.message ?? "extension failed", closeCode);
}
