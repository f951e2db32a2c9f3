// The bytes of publishes handed to the adapter (or to a distributing resume store) that it has not taken
// yet. A broker that stops answering without closing its connection (a network black hole, a frozen Redis)
// keeps every publish in memory until the adapter gives up on it: commandTimeoutMs (5 s of publishes) for
// sockjet's Redis adapter, maybe never for another one; a chat flood on `serve --workers` grew its workers to
// 2.4 GB this way (attack review). Past maxPendingPublishBytes a publish is not handed over. The bound counts
// only what was still waiting when the current turn of the event loop began, so that a burst made in one
// turn to a broker that keeps up is never refused (review of a first bound, which refused 18 of 50 1 MiB
// publishes to a healthy Redis).

import { PubSubError } from "./adapter.js";

export class PublishBacklog {
  private readonly maxBytes: number;
  private readonly refused: (waitingBytes: number) => void;
  /** Bytes handed over and not settled. */
  private pending = 0;
  /** Of them, bytes handed over in this turn of the event loop (reset by setImmediate). */
  private thisTurn = 0;
  private turnEnds: NodeJS.Immediate | null = null;
  /** Whether refusals are being made: reported once per backlog, again after it has cleared. */
  private refusing = false;

  /**
   * `maxBytes` 0: no bound. `refused` is told of the first refusal of each backlog (what waits then), in its
   * own turn: never from inside publish().
   */
  constructor(maxBytes: number, refused: (waitingBytes: number) => void) {
    this.maxBytes = maxBytes;
    this.refused = refused;
  }

  /** Whether a publish of `bytes` may be handed over now; if so, it counts until settled(bytes). */
  admit(bytes: number): boolean {
    const older = this.pending - this.thisTurn;
    if (this.maxBytes > 0 && older > this.maxBytes) {
      if (!this.refusing) {
        this.refusing = true;
        setImmediate(() => this.refused(older));
      }
      return false;
    }
    this.pending += bytes;
    this.thisTurn += bytes;
    if (this.turnEnds === null) {
      this.turnEnds = setImmediate(() => {
        this.turnEnds = null;
        this.thisTurn = 0;
      });
      this.turnEnds.unref();
    }
    return true;
  }

  /** A publish admitted with `bytes` was taken or failed. */
  settled(bytes: number): void {
    this.pending -= bytes;
    if (this.thisTurn > this.pending) this.thisTurn = this.pending;
    // Cleared: half of the bound, so that a backlog hovering at it is not reported on every crossing.
    if (this.refusing && this.pending <= this.maxBytes / 2) this.refusing = false;
  }

  /** Bytes waiting now (pubsubStats). */
  get waitingBytes(): number {
    return this.pending;
  }
}

/** The server's 'error' for a backlog: what waits, and what to check. */
export function backlogError(waitingBytes: number): PubSubError {
  const mebibytes = (waitingBytes / (1024 * 1024)).toFixed(1);
  return new PubSubError(
    "SJ_ERR_ADAPTER_BACKLOG",
    `Publishes are not reaching the other processes: ${mebibytes} MiB still wait for the adapter (more than ` +
      "maxPendingPublishBytes), so new ones are dropped for them until it catches up; is the broker (Redis) " +
      "reachable and answering?",
    undefined,
    undefined,
  );
}
