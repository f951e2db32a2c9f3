import { addressKey } from "../server/connections-per-ip.js";

// Whom the chat's per-address limits (members per address, the address's line bucket: chat-room.ts,
// chat-line-rate.ts) count a member as. An IPv4 client: its address. An IPv6 client picks any address of its
// /64, and often holds a /56 or /48 (tunnel brokers, 6to4's 2002:V4::/48): it is counted under its /64 and,
// with NETWORK_SHARE times the limit, under its /48, so that many /64s of one /48 do not each get fresh
// limits (the resume store counts owners by /48 too: docs/resume.md). Clients that share a prefix share its
// limits (a campus behind one /64, IPv4 clients through NAT64 in 64:ff9b::/96): the trade-off IPv4 NAT has.

/** How many members' worth of the per-address limits an IPv6 /48 gets. */
export const NETWORK_SHARE = 4;

/** One level a member is counted under: its key, the multiple of the limits it allows, and its name. */
export interface ChatAddressLevel {
  key: string;
  share: number;
  /** For the refusal: "your address", "your network (…)". */
  name: string;
}

export function chatAddressLevels(remoteAddress: string | undefined): ChatAddressLevel[] {
  const address = remoteAddress ?? "";
  const own = addressKey(address);
  const levels = [{ key: own, share: 1, name: "your address" }];
  if (own.endsWith("::/64"))
    levels.push({ key: addressKey(address, 48), share: NETWORK_SHARE, name: "your network (its IPv6 /48)" });
  return levels;
}

/** Members (and joins in progress) counted per level; a level with none is forgotten. */
export class MembersPerAddress {
  private readonly counts = new Map<string, number>();

  /** `perAddress`: members allowed at share 1. Counts the member in, or returns the level that is full. */
  add(levels: ChatAddressLevel[], perAddress: number): ChatAddressLevel | null {
    for (const level of levels)
      if ((this.counts.get(level.key) ?? 0) + 1 > perAddress * level.share) return level;
    for (const level of levels) this.counts.set(level.key, (this.counts.get(level.key) ?? 0) + 1);
    return null;
  }

  remove(levels: ChatAddressLevel[]): void {
    for (const level of levels) {
      const left = (this.counts.get(level.key) ?? 1) - 1;
      if (left > 0) this.counts.set(level.key, left);
      else this.counts.delete(level.key);
    }
  }
}

/**
 * Members per address counted beyond this process as well (serve --workers --redis: by the primary,
 * serve-address-count.ts), after the room's own count.
 */
export interface SharedMemberCount {
  /**
   * Counts a member under `levels` until `release()` (call it however the member ends, refused or not).
   * `full`: the level that has its limit already (nothing counted), or null.
   */
  add(
    levels: ChatAddressLevel[],
    perAddress: number,
  ): { full: Promise<ChatAddressLevel | null>; release: () => void };
}
