import type { Connection } from "../connection/connection.js";
import type { RecordSaves } from "./resume-record-saves.js";
import type { ResumeStore, SessionRecord } from "./resume-store.js";
import { SessionOwners } from "./session-owners.js";

// Used tokens kept as aliases of their successor session (docs/resume.md, "Token"): a resume takes its
// session's record (single use) and gives the client a new token, which a cut may keep from arriving; the
// client can then only present the old one again, which takes the successor instead. Kept in this process,
// or, when the store is shared by processes (putBackSession), in the store only: the client may come back
// to another process, and a copy here could point at a successor that a resume there has since replaced.
// It goes once the new token has arrived (the pong of the ping sent right behind it).

/** Most used tokens kept as aliases in this process. */
const MAX_ALIASES = 10_000;

/** A used token's alias in this process. */
export interface Alias {
  secretHash: string;
  successor: string;
  expiresAt: number;
  /** Its session's SessionRecord.owner ("" if none). */
  owner: string;
}

export class TokenAliases {
  /** Used token id → its successor session. */
  private readonly aliases = new Map<string, Alias>();
  /**
   * The same by owner: past MAX_ALIASES the owner holding the most loses its oldest, so that resumes cut on
   * purpose from one address cannot push out a member's alias (review: 10,001 in 5.6 s did, oldest first).
   */
  private readonly owners = new SessionOwners();
  /** Resumed sessions' connections → the alias to drop once their token has arrived. */
  private readonly awaited = new WeakMap<Connection, string>();

  constructor(
    private readonly store: ResumeStore,
    private readonly saves: RecordSaves,
    /** How long an alias lasts at most (maxDisconnectionMs). */
    private readonly windowMs: number,
  ) {}

  /** Whether aliases go to the store too (a store shared by processes, with putBackSession). */
  get inStore(): boolean {
    return this.store.distributes && typeof this.store.putBackSession === "function";
  }

  /**
   * A resume took the session `record` under `id` and continues it as `successor` (whose token's secret
   * hashes to `successorSecretHash`).
   */
  add(id: string, record: SessionRecord, successor: string, successorSecretHash: string): void {
    const expiresAt = Date.now() + this.windowMs;
    if (this.inStore) {
      // The successor's record first, as taken: there even if this process dies before saving its own (the
      // saves go in order). The alias names it, and is nothing more: a successor taken or resumed since
      // leaves the used token with nothing (ResumeSessions.takeSuccessor).
      this.saves.save(successor, { ...record, secretHash: successorSecretHash, expiresAt });
      // Under its session's owner: a store at its cap counts it with that owner's records (an alias without
      // one shared the bucket of every alias: review).
      const alias: SessionRecord = { secretHash: record.secretHash, topics: {}, expiresAt, successor };
      if (record.owner !== undefined) alias.owner = record.owner;
      this.saves.putBack(id, alias);
      return;
    }
    this.forget(id);
    // Bounded (its client then gets "unknown" after a cut during its resume).
    if (this.aliases.size >= MAX_ALIASES) this.forget(this.owners.victim()!);
    const owner = record.owner ?? "";
    this.aliases.set(id, { secretHash: record.secretHash, successor, expiresAt, owner });
    this.owners.add(owner, id);
  }

  /** The resume that added the alias of `id` ended without its session (a gap): alias and successor go. */
  cancel(id: string, successor: string): void {
    this.drop(id);
    if (this.inStore) this.saves.discard(successor);
  }

  /** The alias of `id` in this process, taken, or undefined (always, when aliases are in the store). */
  take(id: string): Alias | undefined {
    const alias = this.aliases.get(id);
    if (alias === undefined) return undefined;
    this.drop(id);
    return alias;
  }

  /** The alias of `id` goes once `connection` has read its successor's token (arrived()). */
  awaitToken(connection: Connection, id: string): void {
    this.awaited.set(connection, id);
  }

  /** `connection`'s client has read its session's new token (RFC 6455 §5.5.3: the pong comes after it). */
  arrived(connection: Connection): void {
    const id = this.awaited.get(connection);
    if (id === undefined) return;
    this.awaited.delete(connection);
    this.drop(id);
  }

  private drop(id: string): void {
    if (this.inStore) this.saves.discard(id);
    else this.forget(id);
  }

  private forget(id: string): void {
    const alias = this.aliases.get(id);
    if (alias === undefined) return;
    this.aliases.delete(id);
    this.owners.delete(alias.owner, id);
  }
}
