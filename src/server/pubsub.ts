import { isUtf8 } from "node:buffer";
import { toSendPayload } from "../web/binary.js";
import type { TopicHost } from "../web/topic-hooks.js";
import { toBoolean, toDictionary } from "../web/webidl.js";
import { WebSocket } from "../web/websocket.js";
import { type AdapterMessage, type PubSubAdapter, PubSubError } from "./adapter.js";
import { PendingCalls } from "./pending-calls.js";
import { PublishQueue } from "./publish-queue.js";
import type { PubSubStats } from "./pubsub-types.js";
import type { ResolvedResume } from "./resume-options.js";
import { messageOf } from "./resume-record-saves.js";
import { ResumeSessions } from "./resume-sessions.js";
import type { ResumeStore, StoredMessage } from "./resume-store.js";
import { envelopeTopicMessage } from "./resume-wire.js";
import { SharedMessage } from "./shared-message.js";
import { type TopicCallCode, type TopicCarrier, topicCallError, topicCarrier } from "./topic-carrier.js";
import { PositionedMessage } from "./topic-receivers.js";
import { checkTopic, TopicRegistry } from "./topics.js";

export type { PublishOptions, PubSubStats } from "./pubsub-types.js";

// The server's pub/sub: the in-process TopicRegistry plus the scale-out adapter. A publish is delivered to
// the local subscribers at once (synchronously, framed once) and handed to the adapter, which carries it to
// the other processes; what they publish comes back through the adapter and is fanned out here the same way.
// The adapter is told when a topic gets its first local subscriber and loses its last, so a process only
// receives the topics someone here listens to.
// With resumable sessions (the `resume` option), every publish first gets a position from the resume store
// and is kept there; resume subscribers get it in an envelope (docs/resume.md). A store that distributes
// (Redis Streams) then also replaces the adapter: a publish is delivered, here too, when it comes back from
// the store, so that every process delivers every topic in the store's order.

/** Publishers waiting for their own message to come back from a distributing store, at most. */
const MAX_PENDING_EXCEPTIONS = 10_000;

export class PubSub implements TopicHost {
  readonly registry: TopicRegistry;
  private adapter: PubSubAdapter | null;
  private readonly report: (error: Error) => void;
  private readonly publishFailed: (error: Error, topic: string) => void;
  private published = 0;
  private adapterPublished = 0;
  private adapterFailed = 0;
  private received = 0;
  /** Adapter and store calls not settled yet. */
  private readonly calls = new PendingCalls();
  /** Publishes waiting behind a Blob being read, in call order. */
  private readonly queue = new PublishQueue();
  /** The resume store, when the server has `resume`. */
  private readonly store: ResumeStore | null;
  /** Resumable sessions, when the server has `resume`. */
  readonly resumeSessions: ResumeSessions | null;
  /** Distributing store: "topic\nposition" of a socket.publish() → its publisher, which must not get it back. */
  private readonly exceptByPosition = new Map<string, WebSocket>();

  /**
   * `report`: the adapter failed (the server's 'error'). `publishFailed`: one publish could not be read (an
   * unreadable Blob), a non-fatal event: it concerns that message only, not the server.
   */
  constructor(
    adapter: PubSubAdapter | null,
    report: (error: Error) => void,
    publishFailed: (error: Error, topic: string) => void,
    resume: ResolvedResume | null = null,
    helloTimeoutMs = 10_000,
  ) {
    this.store = resume?.store ?? null;
    // A distributing store carries the publishes between processes itself: the adapter is not used.
    this.adapter = this.store?.distributes ? null : adapter;
    this.report = report;
    this.publishFailed = publishFailed;
    this.registry = new TopicRegistry({
      topicOpened: (topic) => this.adapterCall("SJ_ERR_ADAPTER_SUBSCRIBE", topic, (a) => a.subscribe(topic)),
      topicClosed: (topic) =>
        this.adapterCall("SJ_ERR_ADAPTER_UNSUBSCRIBE", topic, (a) => a.unsubscribe(topic)),
    });
    this.resumeSessions =
      resume === null ? null : new ResumeSessions(resume, this.registry, helloTimeoutMs, report);
    const store = this.store;
    if (store?.distributes) {
      store.onAppended!((topic, message) => this.onAppended(topic, message));
      store.onError?.((error) =>
        report(new PubSubError("SJ_ERR_ADAPTER", `Resume store: ${error.message}`, undefined, error)),
      );
    }
    adapter = this.adapter;
    if (adapter !== null) {
      adapter.onMessage((message) => this.onAdapterMessage(message));
      adapter.onError?.((error) =>
        report(new PubSubError("SJ_ERR_ADAPTER", `Pub/sub adapter: ${error.message}`, undefined, error)),
      );
    }
  }

  get stats(): PubSubStats {
    const { framesEncoded, delivered, dropped, sharedCompressions } = this.registry.counters;
    return {
      published: this.published,
      delivered,
      dropped,
      framesEncoded,
      sharedCompressions,
      adapterPublished: this.adapterPublished,
      adapterFailed: this.adapterFailed,
      received: this.received,
    };
  }

  /**
   * server.publish(): to every local subscriber (but `except`), and through the adapter to the others.
   * Returns the local deliveries made now: a Blob is read first, and a publish made while one is read waits
   * behind it (call order = delivery order); both return 0 and are delivered in turn.
   */
  publish(topicArg: unknown, data: unknown, optionsArg: unknown, method = "publish"): number {
    const topic = checkTopic(topicArg, method);
    const options = toDictionary(optionsArg, "options");
    const except = options.except ?? null;
    if (except !== null && !(except instanceof WebSocket)) {
      throw new TypeError(`Failed to execute '${method}': options.except must be a WebSocket.`);
    }
    const binary = options.binary === undefined ? undefined : toBoolean(options.binary);
    const converted = toSendPayload(data, `Failed to execute '${method}'`);
    if (converted.payload !== null && !this.queue.busy) {
      return this.deliver(
        topic,
        converted.payload,
        converted.borrowed,
        converted.isText,
        binary,
        except,
        method,
      );
    }
    // RFC 6455 §8.1: bytes sent as text must be UTF-8 (checked now where the bytes are known).
    if (binary === false && converted.payload !== null && !converted.isText && !isUtf8(converted.payload))
      throw new TypeError(`Failed to execute '${method}': the bytes of a text message must be UTF-8.`);
    // The bytes are those at the time of the call (as for send()): a view of the caller's memory is copied.
    const blob = converted.blob;
    const bytes =
      converted.payload === null || !converted.borrowed ? converted.payload : Buffer.from(converted.payload);
    this.calls.track(
      () =>
        this.queue.add(async () => {
          const payload = bytes ?? Buffer.from(await blob!.arrayBuffer());
          this.deliver(topic, payload, false, converted.isText, binary, except, method);
        }),
      () => {},
      (error) =>
        this.publishFailed(
          new Error(`A publish to '${topic}' was not delivered: ${messageOf(error)}`, { cause: error }),
          topic,
        ),
    );
    return 0;
  }

  /** A publish with its bytes: to the local subscribers (framed once) and to the adapter. */
  private deliver(
    topic: string,
    bytes: Buffer,
    borrowed: boolean,
    bytesAreText: boolean,
    binary: boolean | undefined,
    except: WebSocket | null,
    method: string,
  ): number {
    const converted = { payload: bytes, borrowed, isText: bytesAreText };
    let isText = converted.isText;
    if (binary === true) isText = false;
    else if (binary === false && !isText) {
      // RFC 6455 §8.1: a text message must be UTF-8; subscribers would fail the connection with 1007.
      if (!isUtf8(converted.payload))
        throw new TypeError(`Failed to execute '${method}': the bytes of a text message must be UTF-8.`);
      isText = true;
    }
    // The bytes are those at the time of the call (as for send()): a view of the caller's memory is copied
    // once here, since it is kept past this call (the adapter, ordinary sends to extension connections).
    const payload = converted.borrowed ? Buffer.from(converted.payload) : converted.payload;
    this.published++;
    const delivered =
      this.store === null
        ? this.registry.fanOut(topic, new SharedMessage(payload, isText, this.registry.counters), except)
        : this.deliverPositioned(this.store, topic, payload, isText, except);
    const adapter = this.adapter;
    if (adapter !== null) {
      this.calls.track(
        () => adapter.publish({ topic, payload, isText }),
        () => this.adapterPublished++,
        (error) => {
          this.adapterFailed++;
          this.report(
            new PubSubError(
              "SJ_ERR_ADAPTER_PUBLISH",
              `A publish to '${topic}' did not reach the other processes: ${messageOf(error)}`,
              topic,
              error,
            ),
          );
        },
      );
    }
    return delivered;
  }

  /**
   * A publish with resume on: the store gives it a position (and keeps it). A store of this process only
   * (memory): delivered here at once. A distributing store: delivered when it comes back (onAppended).
   */
  private deliverPositioned(
    store: ResumeStore,
    topic: string,
    payload: Buffer,
    isText: boolean,
    except: WebSocket | null,
  ): number {
    const publisher = this.publisherOf(except);
    if (store.distributes) {
      this.calls.track(
        async () => {
          const position = await store.append(topic, payload, isText, publisher);
          // The store hands a message back only after its append has settled (resume-store.ts).
          if (except === null) return;
          // Bounded: an entry whose message never comes back (the store lost it) must not pile up.
          if (this.exceptByPosition.size >= MAX_PENDING_EXCEPTIONS) this.exceptByPosition.clear();
          this.exceptByPosition.set(`${topic}\n${position}`, except);
        },
        () => this.adapterPublished++,
        (error) => {
          this.adapterFailed++;
          this.report(
            new PubSubError(
              "SJ_ERR_ADAPTER_PUBLISH",
              `A publish to '${topic}' could not be stored: ${messageOf(error)}`,
              topic,
              error,
            ),
          );
        },
      );
      return 0;
    }
    const position = store.append(topic, payload, isText, publisher);
    if (typeof position !== "string") {
      // An async store that does not distribute: delivered once it has its position, in append order.
      this.calls.track(
        () =>
          this.queue.add(async () => {
            this.fanOutPositioned(topic, await position, payload, isText, except, publisher);
          }),
        () => {},
        (error) =>
          this.publishFailed(
            new Error(`A publish to '${topic}' could not be stored: ${messageOf(error)}`, { cause: error }),
            topic,
          ),
      );
      return 0;
    }
    return this.fanOutPositioned(topic, position, payload, isText, except, publisher);
  }

  /**
   * The publisher id a publish skipping `except` is stored with (its resumable session's, also when `except`
   * has closed: an async handler may publish after its connection dropped), if any.
   */
  private publisherOf(except: WebSocket | null): string | undefined {
    return except === null ? undefined : this.registry.publisherOf(except);
  }

  private fanOutPositioned(
    topic: string,
    position: string,
    payload: Buffer,
    isText: boolean,
    except: WebSocket | null,
    publisher: string | undefined,
  ): number {
    const plain = new SharedMessage(payload, isText, this.registry.counters);
    return this.registry.fanOutPositioned(
      new PositionedMessage(topic, position, plain, envelopeTopicMessage, publisher),
      except,
    );
  }

  /** A distributing store hands back a message appended by any process (this one included). */
  private onAppended(topic: string, message: StoredMessage): void {
    if (typeof topic !== "string" || !Buffer.isBuffer(message?.payload)) return;
    this.received++;
    let except: WebSocket | null = null;
    if (this.exceptByPosition.size > 0) {
      const key = `${topic}\n${message.position}`;
      except = this.exceptByPosition.get(key) ?? null;
      this.exceptByPosition.delete(key);
    }
    // The publisher: the store's (a session's publish from any process, if the store hands it back), or
    // that of this process's socket that published it.
    const publisher = typeof message.publisher === "string" ? message.publisher : this.publisherOf(except);
    this.fanOutPositioned(
      topic,
      message.position,
      message.payload,
      message.isText === true,
      except,
      publisher,
    );
  }

  /** Resolves once no adapter call (publish, subscribe, unsubscribe) is pending. */
  settled(): Promise<void> {
    return this.calls.settled();
  }

  /** Waits (at most `waitMs`) for pending adapter calls, then closes the adapter. */
  async close(waitMs = 5000): Promise<void> {
    const adapter = this.adapter;
    const store = this.store;
    this.resumeSessions?.close();
    if (adapter === null && store === null) return;
    let timer: NodeJS.Timeout | undefined;
    const settled = Promise.all([this.settled(), this.resumeSessions?.saved()]);
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    this.adapter = null;
    await adapter?.close();
    // The sessions closed with the server have saved their records (a store that outlives us keeps them).
    await store?.close();
  }

  /** A socket closed: it leaves all its topics. */
  removeSocket(socket: WebSocket): void {
    this.registry.dropPending(socket);
    this.registry.removeSocket(socket);
  }

  subscriberCount(topic: unknown): number {
    return this.registry.subscriberCount(checkTopic(topic, "subscriberCount"));
  }

  // ---- TopicHost (socket.subscribe() and friends) -------------------------------------------------------

  subscribe(socket: WebSocket, topic: unknown): boolean {
    return this.registry.subscribe(socket, checkTopic(topic, "subscribe"));
  }

  unsubscribe(socket: WebSocket, topic: unknown): boolean {
    return this.registry.unsubscribe(socket, checkTopic(topic, "unsubscribe"));
  }

  isSubscribed(socket: WebSocket, topic: unknown): boolean {
    return typeof topic === "string" && this.registry.isSubscribed(socket, topic);
  }

  resumed(socket: WebSocket): boolean {
    return this.resumeSessions?.resumed(socket) ?? false;
  }

  topicsOf(socket: WebSocket): readonly string[] {
    return this.registry.topicsOf(socket);
  }

  publishFrom(socket: WebSocket, topic: unknown, data: unknown, options?: unknown): number {
    const binary =
      options === undefined || options === null ? undefined : toDictionary(options, "options").binary;
    return this.publish(topic, data, { except: socket, binary }, "publish");
  }

  // ---- adapter ---------------------------------------------------------------------------------------------

  private onAdapterMessage(message: AdapterMessage): void {
    if (typeof message.topic !== "string" || !Buffer.isBuffer(message.payload)) return;
    this.received++;
    if (this.store !== null) {
      // Another process's publish gets a position of this process's store, as a local one would.
      this.deliverPositioned(this.store, message.topic, message.payload, message.isText === true, null);
      return;
    }
    this.registry.fanOut(
      message.topic,
      new SharedMessage(message.payload, message.isText === true, this.registry.counters),
      null,
    );
  }

  /** Tells the other processes of a topic's first local subscriber or last unsubscribe (topic-carrier.ts). */
  private adapterCall(
    code: TopicCallCode,
    topic: string,
    call: (carrier: TopicCarrier) => Promise<void>,
  ): void {
    const carrier = topicCarrier(this.store, this.adapter);
    if (carrier === null) return;
    this.calls.track(
      () => call(carrier),
      () => {},
      (error) => this.report(topicCallError(code, topic, error)),
    );
  }
}
