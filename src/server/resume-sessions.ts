import type { IncomingMessage } from "node:http";
import type { Connection } from "../connection/connection.js";
import { CloseCode } from "../protocol/constants.js";
import { closeWithStatus, type WebSocket } from "../web/websocket.js";
import { PubSubError } from "./adapter.js";
import { addressKey } from "./connections-per-ip.js";
import { TokenAliases } from "./resume-aliases.js";
import { DirectSends } from "./resume-direct-sends.js";
import { HelloGate } from "./resume-hello-gate.js";
import { identityOf } from "./resume-identity.js";
import type { ResolvedResume } from "./resume-options.js";
import { messageOf, RecordSaves } from "./resume-record-saves.js";
import { readReplayStarts, type TopicReplay } from "./resume-replay-read.js";
import { type ControlSender, ResumeSession, type SessionHost } from "./resume-session.js";
import { comparePositions, type ResumeStore, type SessionRecord } from "./resume-store.js";
import { SessionTakes } from "./resume-takes.js";
import { idMatches, issueToken, parseToken } from "./resume-token.js";
import type { Hello, ResetReason } from "./resume-wire.js";
import type { FanOutCounters } from "./shared-message.js";
import type { TopicRegistry } from "./topics.js";

// The server's resumable sessions (docs/resume.md): a connection that negotiated sockjet.resume.1 is held
// until its hello, then gets a fresh session or its old one back (subscriptions restored, missed messages
// replayed), and only then is announced ('connection', with socket.resumed). Its record goes to the store
// when it closes, for maxDisconnectionMs.

/** The payload of the ping that follows a resumed session's token: its pong says the token arrived. */
const TOKEN_PING = Buffer.from("sockjet.resume token");

export class ResumeSessions implements SessionHost {
  readonly store: ResumeStore;
  readonly counters: FanOutCounters;
  private readonly settings: ResolvedResume;
  private readonly registry: TopicRegistry;
  private readonly helloTimeoutMs: number;
  private readonly report: (error: Error) => void;
  private readonly sessions = new Map<WebSocket, ResumeSession>();
  /** The same sessions by id: a client may resume while its old connection still looks open here. */
  private readonly sessionsById = new Map<string, ResumeSession>();
  /** Used tokens → their successor session, until its token has arrived (TOKEN_PING's pong). */
  private readonly aliases: TokenAliases;
  private readonly takes: SessionTakes;
  /** Sessions whose record must be saved again (only with a store that outlives this process). */
  private readonly dirty = new Set<ResumeSession>();
  private saveScheduled = false;
  private readonly saves: RecordSaves;
  private refreshTimer: NodeJS.Timeout | null = null;

  constructor(
    settings: ResolvedResume,
    registry: TopicRegistry,
    helloTimeoutMs: number,
    report: (error: Error) => void,
  ) {
    this.settings = settings;
    this.store = settings.store;
    this.registry = registry;
    this.counters = registry.counters;
    this.helloTimeoutMs = helloTimeoutMs;
    this.report = report;
    this.saves = new RecordSaves(this.store, settings.maxDisconnectionMs, report);
    this.aliases = new TokenAliases(this.store, this.saves, settings.maxDisconnectionMs);
    this.takes = new SessionTakes(this.store, this.aliases, this.saves, settings.maxDisconnectionMs, {
      byId: (id) => this.sessionsById.get(id),
      detach: (socket) => this.detach(socket),
    });
    if (this.store.distributes) {
      // The record of an open session is kept fresh in a store that outlives this process: if the process
      // dies, its clients can resume elsewhere for at least maxDisconnectionMs / 2.
      this.refreshTimer = setInterval(() => {
        for (const session of this.sessions.values()) this.dirty.add(session);
        this.saveDirty();
      }, settings.maxDisconnectionMs / 2);
      this.refreshTimer.unref();
    }
  }

  /** Whether `socket`'s session was resumed. */
  resumed(socket: WebSocket): boolean {
    return this.sessions.get(socket)?.resumed ?? false;
  }

  /**
   * A connection that negotiated resume: its first message is the hello; `announce` ('connection') is called
   * once its session is set up. Messages behind the hello wait (the connection stops reading) until then.
   */
  accept(socket: WebSocket, connection: Connection, request: IncomingMessage, announce: () => void): void {
    const identity = identityOf(this.settings.identify, request, this.report);
    if (identity === null) {
      closeWithStatus(
        socket,
        CloseCode.InternalError,
        "sockjet.resume: the server could not identify the connection",
      );
      return;
    }
    const owner = ownerOf(identity, request);
    // Subscriptions made before the session is set up wait for it (TopicRegistry.pendingTopics).
    this.registry.holdSubscriptions(socket);
    // The pong of TOKEN_PING (RFC 6455 §5.5.3) says the client has read its resumed session's new token.
    const directSends = new DirectSends(socket, connection, (payload) => {
      if (payload.equals(TOKEN_PING)) this.tokenArrived(connection);
    });
    const gate = new HelloGate(socket, connection, (hello) => {
      clearTimeout(timer);
      if (hello.type === "bad") {
        // Reading again, so that the closing handshake can complete.
        gate.release();
        closeWithStatus(socket, CloseCode.ProtocolError, `sockjet.resume: ${hello.reason}`);
        return;
      }
      // 'connection' first, so that the app's listeners are there when the messages behind the hello are
      // delivered (release). A 'connection' listener that throws: uncaught, as on the handshake's path,
      // not a failure of this connection's reading.
      const done = () => {
        try {
          if (socket.readyState === 1) {
            this.registry.releasePending(socket);
            announce();
          }
        } catch (error) {
          process.nextTick(() => {
            throw error;
          });
        }
        gate.release();
      };
      if (hello.type === "hello") {
        this.startFresh(socket, identity, owner, directSends, null);
        done();
        return;
      }
      const resuming = this.resume(socket, connection, identity, owner, directSends, hello).then(
        done,
        (error) => {
          this.report(error as Error);
          gate.release();
          closeWithStatus(
            socket,
            CloseCode.InternalError,
            "sockjet.resume: the session store failed; try again",
          );
        },
      );
      // A resume takes its session's record from the store and may save it back: server.close() closes the
      // store only after it (saved()).
      this.saves.during(resuming);
    });
    // No hello within handshakeTimeoutMs: 1013, try again later (RFC 6455 §7.4.1, IANA registry), not 1002:
    // a hello that was slow on its way (a congested link) is no refusal, and the client must not throw its
    // session away over it (it takes 1002 after a resume hello as one).
    const timer = setTimeout(
      () => closeWithStatus(socket, CloseCode.TryAgainLater, "sockjet.resume: no hello in time"),
      this.helloTimeoutMs,
    );
    timer.unref();
    socket.addEventListener("close", () => {
      clearTimeout(timer);
      directSends.discard();
      this.closed(socket);
    });
  }

  /** The client has read its resumed session's token (RFC 6455 §5.5.3: the pong comes after it): no alias. */
  private tokenArrived(connection: Connection): void {
    this.aliases.arrived(connection);
  }

  caughtUp(session: ResumeSession): void {
    this.registry.receiverCaughtUp(session.socket);
  }

  changed(session: ResumeSession): void {
    if (!this.store.distributes || !this.sessions.has(session.socket)) return;
    this.dirty.add(session);
    if (this.saveScheduled) return;
    this.saveScheduled = true;
    queueMicrotask(() => this.saveDirty());
  }

  close(): void {
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
  }

  private saveDirty(): void {
    this.saveScheduled = false;
    const expiresAt = Date.now() + this.settings.maxDisconnectionMs;
    for (const session of this.dirty) this.saves.save(session.id, session.record(expiresAt));
    this.dirty.clear();
  }

  /** Resolves once the records being saved have been (PubSub.close closes the store only then). */
  saved(): Promise<void> {
    return this.saves.saved();
  }

  private closed(socket: WebSocket): void {
    const session = this.detach(socket);
    if (session === undefined) return;
    // The window starts now (docs/resume.md). A topic whose start the store is still giving is saved with
    // it: saved without it, a resume would say resumed with that subscription gone.
    const expiresAt = Date.now() + this.settings.maxDisconnectionMs;
    this.saves.saveWhen(session.settled(), session.id, () => session.record(expiresAt));
  }

  private attach(session: ResumeSession): void {
    this.sessions.set(session.socket, session);
    this.sessionsById.set(session.id, session);
    this.registry.setReceiver(session.socket, session);
  }

  /** Forgets the session of `socket` (nothing will save it any more). */
  private detach(socket: WebSocket): ResumeSession | undefined {
    const session = this.sessions.get(socket);
    if (session === undefined) return undefined;
    this.sessions.delete(socket);
    this.sessionsById.delete(session.id);
    this.dirty.delete(session);
    return session;
  }

  private startFresh(
    socket: WebSocket,
    identity: string,
    owner: string,
    controls: ControlSender,
    reason: ResetReason | null,
  ) {
    const issued = issueToken(identity);
    const session = new ResumeSession(socket, issued.id, issued.secretHash, owner, false, this, controls);
    if (reason !== null) session.sendHead({ type: "reset", reason });
    session.sendHead({ type: "session", token: issued.token, resumed: false });
    controls.release();
    this.attach(session);
    this.changed(session);
  }

  private async resume(
    socket: WebSocket,
    connection: Connection,
    identity: string,
    owner: string,
    controls: ControlSender,
    hello: Extract<Hello, { type: "resume" }>,
  ): Promise<void> {
    // The old connection of a session taken from it (takeLive): terminated at the latest when this ends.
    const retiring: WebSocket[] = [];
    try {
      await this.resumeInto(socket, connection, identity, owner, controls, hello, retiring);
    } finally {
      terminateAll(retiring);
    }
  }

  private async resumeInto(
    socket: WebSocket,
    connection: Connection,
    identity: string,
    owner: string,
    controls: ControlSender,
    hello: Extract<Hello, { type: "resume" }>,
    retiring: WebSocket[],
  ): Promise<void> {
    const parsed = parseToken(hello.token);
    // A malformed token or claimed position: the session is left as it is (as for a forged token).
    if (parsed === null || hello.positions === null)
      return this.startFresh(socket, identity, owner, controls, "invalid");
    // A secret that is not its id's, or a token of another identity (resume.identify): refused before the
    // store is asked, so that it cannot use the owner's record up.
    if (!idMatches(parsed.id, parsed.secret, identity))
      return this.startFresh(socket, identity, owner, controls, "forged");
    const positions = hello.positions;
    const record = await this.takes.take(parsed.id, parsed.secret, retiring);
    const valid = typeof record === "object" && record.expiresAt > Date.now();
    const issued = issueToken(identity);
    if (valid) {
      // Until the client has its new token, the one it presented takes the session (a cut before the new
      // token arrives must not use the session up); the pong of TOKEN_PING, sent behind it, ends this.
      // In the store too if it is shared by processes: the client may come back to another one.
      this.aliases.add(parsed.id, record, issued.id, issued.secretHash);
      // Gone already: the record is kept under the successor's id, for the alias.
      if (socket.readyState !== 1) return this.saveTaken(issued.id, record);
    }
    if (socket.readyState !== 1) return;
    if (record === undefined) return this.startFresh(socket, identity, owner, controls, "unknown");
    if (record === "forged") return this.startFresh(socket, identity, owner, controls, "forged");
    if (!valid) return this.startFresh(socket, identity, owner, controls, "expired");

    const session = new ResumeSession(
      socket,
      issued.id,
      issued.secretHash,
      owner,
      true,
      this,
      controls,
      typeof record.publisher === "string" ? record.publisher : undefined,
    );
    // Each topic starts from the client's last position if it sent one (what it really received), but never
    // before where the session had started it: what was published before its subscription (or while it was
    // unsubscribed) is not the client's to get, whatever it claims.
    // A topic the app unsubscribed this connection from meanwhile (from server.clients) is not restored.
    const topics = Object.keys(record.topics).filter(
      (topic) => !this.registry.leftBeforeSession(socket, topic),
    );
    for (const topic of topics) {
      const started = record.topics[topic];
      const claimed = Object.hasOwn(positions, topic) ? positions[topic] : undefined;
      session.topics.set(
        topic,
        claimed !== undefined && comparePositions(claimed, started) > 0 ? claimed : started,
      );
    }
    // Subscribed first, with live messages held: nothing published while the replay is read is missed.
    session.holdLive(topics, connection.maxBufferedBytes);
    this.attach(session);
    // The app's own subscriptions wait (TopicRegistry.pendingTopics) until the session is set up.
    for (const topic of topics) this.registry.subscribeNow(socket, topic);
    // The topics have their new subscriber: the old connection may go now (its leaving closes none).
    terminateAll(retiring);
    let replays: Map<string, TopicReplay> | null;
    try {
      // A distributing store must hand over the topics before the replay is read: what is appended after
      // the read then comes live (and is held), never in neither.
      if (this.store.distributes) await Promise.all(topics.map((topic) => this.store.subscribe!(topic)));
      replays = await readReplayStarts(
        this.store,
        session.topics,
        this.settings.maxMessagesPerTopic,
        () => socket.readyState === 1,
      );
    } catch (error) {
      this.report(
        new PubSubError(
          "SJ_ERR_RESUME_STORE",
          `Could not read a replay: ${messageOf(error)}`,
          undefined,
          error,
        ),
      );
      // Not a gap: the store may hold every message. The session stays (saved as the connection closes, its
      // used token an alias of it): 1011, and the client tries again (before 2026-12-07: reset "gap").
      closeWithStatus(socket, CloseCode.InternalError, "sockjet.resume: the session store failed; try again");
      return;
    }
    if (socket.readyState !== 1) return;
    if (replays === null) {
      // A gap: this session cannot be resumed; the socket starts afresh with no subscription. The used
      // token takes nothing any more.
      this.aliases.cancel(parsed.id, issued.id);
      this.detach(socket);
      this.registry.removeSocket(socket);
      return this.startFresh(socket, identity, owner, controls, "gap");
    }
    // The session's topics: the client keeps positions for these only (its next hello stays small).
    session.sendHead({ type: "session", token: issued.token, resumed: true, topics });
    this.aliases.awaitToken(connection, parsed.id);
    connection.ping(TOKEN_PING);
    // Saved now, not after the replay (which waits on the client's reading): with a distributing store a
    // cut during the replay must find the session's record for a resume on another process.
    this.changed(session);
    // What the app sent while the resume was handled comes next, before the replay: send order.
    controls.release();
    // Paced to half of maxBufferedBytes: live messages of topics already caught up, and the app's sends, have
    // the other half (past the limit they would close the connection).
    const most = connection.maxBufferedBytes / 2;
    const replayed = await session.finishReplay(replays, (size) => connection.roomFor(size, most));
    // Gone during the replay: the client resumes again from the positions it got (docs/resume.md).
    if (replayed === null || socket.readyState !== 1) return;
    session.sendControl({ type: "resumed", replayed });
    this.changed(session);
  }

  private saveTaken(id: string, record: SessionRecord): void {
    const expiresAt = Date.now() + this.settings.maxDisconnectionMs;
    this.saves.save(id, { ...record, expiresAt });
  }
}

/**
 * SessionRecord.owner of a connection: the identity resume.identify gave, else the client's address. An IPv6
 * client counts by its /48, the usual size of a site's allocation: a /64 each from a /47 (free from tunnel
 * brokers) was 100,000 owners, enough to push out any member's session (review).
 */
function ownerOf(identity: string, request: IncomingMessage): string {
  if (identity !== "") return `id:${identity}`;
  return `ip:${addressKey(request.socket.remoteAddress ?? "", 48)}`;
}

/** Terminates the sockets and empties the list. */
function terminateAll(sockets: WebSocket[]): void {
  for (const socket of sockets.splice(0)) socket.terminate();
}
