// Session records (of a MemoryResumeStore, or a process's used-token aliases) grouped by owner
// (SessionRecord.owner: the identity from resume.identify, else the client's address), so that at a cap the
// record that goes is one of whoever holds the most. A flood of sessions from a few addresses then pushes out only its own records, never the
// session of a member who dropped a minute before (attack review: 101,000 hello-then-close in 30 s evicted
// it while records went oldest first). Every operation is O(1): owners are kept in buckets by their count.

export class SessionOwners {
  /** owner → its record ids, oldest added first. */
  private readonly idsByOwner = new Map<string, Set<string>>();
  /** count → the owners holding that many records (no entry for a count no one holds). */
  private readonly ownersByCount = new Map<number, Set<string>>();
  private largest = 0;

  add(owner: string, id: string): void {
    let ids = this.idsByOwner.get(owner);
    if (ids === undefined) {
      ids = new Set();
      this.idsByOwner.set(owner, ids);
    }
    const before = ids.size;
    ids.add(id);
    if (ids.size === before) return;
    this.move(owner, before, before + 1);
  }

  delete(owner: string, id: string): void {
    const ids = this.idsByOwner.get(owner);
    if (ids === undefined || !ids.delete(id)) return;
    this.move(owner, ids.size + 1, ids.size);
    if (ids.size === 0) this.idsByOwner.delete(owner);
  }

  /** The owner with the most records (the first to get there), and how many it holds; undefined if none. */
  heaviest(): { owner: string; count: number } | undefined {
    if (this.largest === 0) return undefined;
    return { owner: this.ownersByCount.get(this.largest)!.values().next().value!, count: this.largest };
  }

  /** The oldest record of `owner`. */
  oldestOf(owner: string): string | undefined {
    return this.idsByOwner.get(owner)?.values().next().value;
  }

  /** The oldest record of the owner with the most records (undefined when there is none). */
  victim(): string | undefined {
    const heaviest = this.heaviest();
    return heaviest === undefined ? undefined : this.oldestOf(heaviest.owner);
  }

  clear(): void {
    this.idsByOwner.clear();
    this.ownersByCount.clear();
    this.largest = 0;
  }

  private move(owner: string, from: number, to: number): void {
    const left = this.ownersByCount.get(from);
    if (left !== undefined) {
      left.delete(owner);
      if (left.size === 0) this.ownersByCount.delete(from);
    }
    if (to > 0) {
      const joined = this.ownersByCount.get(to);
      if (joined === undefined) this.ownersByCount.set(to, new Set([owner]));
      else joined.add(owner);
    }
    // Counts move by one, so the largest count moves by at most one too.
    if (to > this.largest) this.largest = to;
    else if (from === this.largest && !this.ownersByCount.has(from)) this.largest = to;
  }
}
