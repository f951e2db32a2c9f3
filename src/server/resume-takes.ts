import type { WebSocket } from "../web/websocket.js";
import type { TokenAliases } from "./resume-aliases.js";
import type { RecordSaves } from "./resume-record-saves.js";
import type { ResumeSession } from "./resume-session.js";
import type { ResumeStore, SessionRecord } from "./resume-store.js";
import { secretMatches } from "./resume-token.js";

// How a resume gets its session's record (single use, docs/resume.md "Token"): from an alias of a used
// token (in this process, or in a store shared by processes), from the session's connection if it still
// looks open here, or from the store; never two sessions from one session line.

/** How long a take that found nothing waits before asking the store again (takeStored). */
const ALIAS_WAIT_MS = 200;

/** The sessions open in this process, as the takes need them (ResumeSessions). */
export interface LiveSessions {
  byId(id: string): ResumeSession | undefined;
  /** Forgets the session of `socket` (nothing will save it any more). */
  detach(socket: WebSocket): void;
}

export class SessionTakes {
  constructor(
    private readonly store: ResumeStore,
    private readonly aliases: TokenAliases,
    private readonly saves: RecordSaves,
    /** How long a session's record lasts (maxDisconnectionMs). */
    private readonly windowMs: number,
    private readonly live: LiveSessions,
  ) {}

  /**
   * The record of session `id`, taken: from its old connection if that still looks open here (a network
   * drop this side has not noticed: the client has moved on, so the old connection is dropped), else from
   * the store. A wrong secret leaves the session as it is.
   */
  async take(
    id: string,
    secret: string,
    retiring: WebSocket[],
  ): Promise<SessionRecord | "forged" | undefined> {
    const alias = this.aliases.take(id);
    if (alias !== undefined) {
      if (!secretMatches(secret, alias.secretHash)) return "forged";
      if (!(alias.expiresAt > Date.now())) return undefined;
      // The old token again: its resume's new token never arrived. The successor session is taken instead.
      return this.takeSuccessor(alias.successor, alias.secretHash, retiring);
    }
    const live = this.live.byId(id);
    if (live === undefined) {
      const record = await this.takeStored(id);
      if (record !== undefined && !secretMatches(secret, record.secretHash)) return "forged";
      if (record?.successor === undefined) return record;
      // The store's alias of a used token (TokenAliases): the same, for a resume that came to this process.
      if (!(record.expiresAt > Date.now())) return record;
      return this.takeSuccessor(record.successor, record.secretHash, retiring);
    }
    if (!secretMatches(secret, live.secretHash)) return "forged";
    return this.takeLive(live, retiring, false);
  }

  /**
   * The record of `id` taken from the store. With aliases in the store, none is asked again once, a moment
   * later: a resume of this token on another process may have taken the record and not yet put the alias in
   * its place (a store round trip), while its client, cut, is already here. Measured on `serve --workers 2`,
   * 620 resumes each cut 0–4 ms after its hello and reconnecting at once: 7–31 `unknown` without, 0–1 with.
   */
  private async takeStored(id: string): Promise<SessionRecord | undefined> {
    const record = await this.store.takeSession(id);
    if (record !== undefined || !this.aliases.inStore) return record;
    await new Promise((resolve) => setTimeout(resolve, ALIAS_WAIT_MS));
    return this.store.takeSession(id);
  }

  /**
   * The record of the session that continued a used token's (its secret checked already), under that
   * token's secret: from its live connection, or the store. Undefined if it is gone, or if it was resumed
   * itself: its token did arrive then, and the used one is stale (two holders of one session line; the
   * successor's own alias is put back for its holder).
   */
  private async takeSuccessor(
    id: string,
    secretHash: string,
    retiring: WebSocket[],
  ): Promise<SessionRecord | undefined> {
    const live = this.live.byId(id);
    let record: SessionRecord | undefined;
    if (live !== undefined) record = await this.takeLive(live, retiring, true);
    else {
      record = await this.store.takeSession(id);
      if (record?.successor !== undefined) {
        this.saves.putBack(id, record);
        return undefined;
      }
    }
    return record === undefined ? undefined : { ...record, secretHash };
  }

  /**
   * The record of a session whose old connection is still open here. That connection joins `retiring`:
   * resume() terminates it once the new connection has subscribed the session's topics, so that they keep a
   * subscriber throughout and this process does not unsubscribe and subscribe them again on the store or
   * adapter (what another process publishes meanwhile would not reach this one, on an adapter).
   */
  private async takeLive(
    session: ResumeSession,
    retiring: WebSocket[],
    asSuccessor: boolean,
  ): Promise<SessionRecord | undefined> {
    const id = session.id;
    this.live.detach(session.socket);
    retiring.push(session.socket);
    // The store's copy (a store that outlives the process keeps one) is used up too. With aliases in the
    // store it decides, so that a session line does not fork: another process may have taken it (a used
    // token's alias followed there: nothing here), or resumed it (an alias put back): a client that presents
    // this token again was cut before that resume's token arrived, and follows the alias; a used token
    // following its successor here finds that successor used, and is stale.
    if (this.store.distributes) {
      const stored = await this.takeStored(id);
      if (this.aliases.inStore && stored === undefined) return undefined;
      if (this.aliases.inStore && stored?.successor !== undefined) {
        if (!asSuccessor)
          return stored.expiresAt > Date.now()
            ? this.takeSuccessor(stored.successor, stored.secretHash, retiring)
            : stored;
        this.saves.putBack(id, stored);
        return undefined;
      }
    }
    await session.settled();
    return session.record(Date.now() + this.windowMs);
  }
}
