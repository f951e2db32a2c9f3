import { PubSubError } from "./adapter.js";
import type { ResumeStore, SessionRecord } from "./resume-store.js";

/**
 * Session records on their way to the resume store. A failed save is the server's 'error'
 * (SJ_ERR_RESUME_STORE); saved() waits for the saves under way and the resumes that may still save one, so
 * that the server closes its store only after the records of the sessions it has just closed are in it
 * (PubSub.close).
 */
export class RecordSaves {
  private readonly underway = new Set<Promise<unknown>>();

  constructor(
    private readonly store: ResumeStore,
    /** The session's window: how long the store keeps a record. */
    private readonly ttlMs: number,
    private readonly report: (error: Error) => void,
  ) {}

  /** Saves `record` as session `id`'s. */
  save(id: string, record: SessionRecord): void {
    this.track(this.write(id, record));
  }

  /** Saves the record `recordOf()` gives once `ready` has settled (a session's pending store calls). */
  saveWhen(ready: Promise<unknown>, id: string, recordOf: () => SessionRecord): void {
    this.track(ready.then(() => this.write(id, recordOf())));
  }

  /** Puts `record` back under `id`, taken already (ResumeStore.putBackSession: the store has it). */
  putBack(id: string, record: SessionRecord): void {
    this.track(this.reported(this.store.putBackSession!(id, record, this.ttlMs), "put back"));
  }

  /** Takes the record of `id` and forgets it (an alias no longer needed). */
  discard(id: string): void {
    this.track(this.reported(this.store.takeSession(id), "drop"));
  }

  /** Work that may save records (a resume taking its session's record): saved() waits for it too. */
  during(work: Promise<unknown>): void {
    this.track(work);
  }

  /** Resolves once no save is under way (those started meanwhile included). */
  async saved(): Promise<void> {
    while (this.underway.size > 0) await Promise.allSettled([...this.underway]);
  }

  private write(id: string, record: SessionRecord): Promise<unknown> {
    return this.reported(this.store.saveSession(id, record, this.ttlMs), "save");
  }

  private reported(call: Promise<unknown>, verb: string): Promise<unknown> {
    return call.catch((error) =>
      this.report(
        new PubSubError(
          "SJ_ERR_RESUME_STORE",
          `Could not ${verb} resumable session: ${messageOf(error)}`,
          undefined,
          error,
        ),
      ),
    );
  }

  private track(saving: Promise<unknown>): void {
    this.underway.add(saving);
    saving.finally(() => this.underway.delete(saving)).catch(() => {});
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
