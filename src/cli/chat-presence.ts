// Who is in the chat room of `sockjet serve` (chat-room.ts): the contract, and the one-process presence.
// With --redis the room uses RedisPresence (chat-redis.ts), with --workers the primary's (chat-cluster.ts).
import type { ChatAddressLevel } from "./chat-address.js";
import { nameKey, SEQUENTIAL_SUFFIXES, uniqueName } from "./chat-names.js";

/**
 * A member's name and the count after the join; or why the room cannot take anyone now, or (`full`) that
 * the member's address level already has its limit of members in the room.
 */
export type PresenceJoin = { name: string; users: number } | { refused: string } | { full: ChatAddressLevel };

/** The member's address levels and the members allowed per address (at share 1), for a presence that counts them. */
export interface AddressLimit {
  levels: ChatAddressLevel[];
  perAddress: number;
}

/** Who is in the room. Implementations never reject: they report trouble and fall back or refuse. */
export interface ChatPresence {
  /**
   * Registers a member under a free name (`requested`, a cleaned name, or a guest-N name for ""); names are
   * compared by nameKey(), so no two members have names that look the same. A presence shared by processes
   * that do not count addresses themselves (the primary of --workers) counts `limit` across them.
   */
  join(requested: string, limit?: AddressLimit): Promise<PresenceJoin>;
  /** Removes a member; the count after. */
  leave(name: string): Promise<number>;
  /** This process stops serving the room: removes all its members at once; the count after. */
  leaveAll(names: readonly string[]): Promise<number>;
}

/** Presence in this process alone: the room is this process's sockets. */
export class LocalPresence implements ChatPresence {
  /** The keys (nameKey()) of the names in use. */
  private readonly keys = new Set<string>();
  private guests = 0;
  /** The counter of numbered duplicates (uniqueName). */
  private suffixes = SEQUENTIAL_SUFFIXES;

  async join(requested: string): Promise<PresenceJoin> {
    let name = requested;
    if (name === "")
      do name = `guest-${++this.guests}`;
      while (this.keys.has(nameKey(name)));
    name = uniqueName(name, this.keys, () => ++this.suffixes);
    this.keys.add(nameKey(name));
    return { name, users: this.keys.size };
  }

  async leave(name: string): Promise<number> {
    this.keys.delete(nameKey(name));
    return this.keys.size;
  }

  async leaveAll(names: readonly string[]): Promise<number> {
    for (const name of names) this.keys.delete(nameKey(name));
    return this.keys.size;
  }
}
