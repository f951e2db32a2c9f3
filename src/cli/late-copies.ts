// The payloads of one topic's failed appends that may still come back late (LocalFallbackStore), each
// watched until its time is up. Looked up by payload: after a freeze, Redis ran 34,507 queued appends at once,
// and a scan of every watched payload for each (Buffer.equals) stalled `serve --redis` for 8–22 s (review).
// Copies are watched for the same window from their failure, so they expire in the order they came (should
// the clock go back, a copy is watched a little longer).

import { createHash } from "node:crypto";

export class LateCopies {
  /** payload (its sha256) → until when each copy of it is watched, oldest first. */
  private readonly byPayload = new Map<string, number[]>();
  /** The same copies in the order they expire, for dropping them as they do. */
  private readonly order: { key: string; until: number }[] = [];
  private head = 0;
  private count = 0;

  /** Copies watched (the expired ones dropped first). */
  size(now: number): number {
    this.expire(now);
    return this.count;
  }

  watch(payload: Buffer, until: number): void {
    const key = keyOf(payload);
    const untils = this.byPayload.get(key);
    if (untils === undefined) this.byPayload.set(key, [until]);
    else untils.push(until);
    this.order.push({ key, until });
    this.count++;
  }

  /** Whether `payload` is watched: if so, one copy of it stops being watched. */
  take(payload: Buffer, now: number): boolean {
    this.expire(now);
    const key = keyOf(payload);
    const untils = this.byPayload.get(key);
    if (untils === undefined) return false;
    untils.shift();
    if (untils.length === 0) this.byPayload.delete(key);
    this.count--;
    return true;
  }

  private expire(now: number): void {
    const order = this.order;
    while (this.head < order.length && order[this.head].until <= now) {
      const { key, until } = order[this.head++];
      // Its copy may have been taken already: then its payload's oldest is a later one (or none).
      const untils = this.byPayload.get(key);
      if (untils === undefined || untils[0] !== until) continue;
      untils.shift();
      if (untils.length === 0) this.byPayload.delete(key);
      this.count--;
    }
    if (this.head > 1024 && this.head * 2 > order.length) {
      order.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** A payload's key: its sha256, 32 bytes however long the line (a watched line's copy is not kept twice). */
function keyOf(payload: Buffer): string {
  return createHash("sha256").update(payload).digest("base64");
}
