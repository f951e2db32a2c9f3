import { isIPv6 } from "node:net";
import type { Duplex } from "node:stream";

// Counts the connections (handshaking or open) of each client address, so that one address cannot take all
// of maxConnections. An IPv6 client usually holds a whole /64 and picks addresses in it freely, so IPv6
// addresses are counted by their /64; an IPv4-mapped IPv6 address counts as the IPv4 address.

/**
 * The key a client address is counted under: an IPv6 address by its first `prefixBits` (a multiple of 16;
 * default its /64).
 */
export function addressKey(address: string, prefixBits = 64): string {
  if (address.startsWith("::ffff:") && address.includes(".")) return address.slice(7);
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address)
    .slice(0, prefixBits / 16)
    .join(":")}::/${prefixBits}`;
}

/** The eight 16-bit groups of an IPv6 address, as lowercase hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const zone = address.indexOf("%");
  const bare = zone === -1 ? address : address.slice(0, zone);
  const [left, right] = bare.includes("::") ? bare.split("::") : [bare, undefined];
  const head = left === "" ? [] : left.split(":");
  const tail = right === undefined || right === "" ? [] : right.split(":");
  const groups =
    right === undefined ? head : [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail];
  return groups.map((group) => Number.parseInt(group, 16).toString(16));
}

export class ConnectionsPerIp {
  private readonly counts = new Map<string, number>();
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Counts `socket` under its address until it closes; false (nothing counted) when the address is at the
   * limit. A socket with no address (a stream that is not TCP) is not limited.
   */
  admit(socket: Duplex): boolean {
    const address = (socket as { remoteAddress?: string }).remoteAddress;
    if (address === undefined || socket.destroyed) return true;
    const key = addressKey(address);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.limit) return false;
    this.counts.set(key, count + 1);
    socket.once("close", () => {
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left === 0) this.counts.delete(key);
      else this.counts.set(key, left);
    });
    return true;
  }

  /** Connections counted for `address` now. */
  count(address: string): number {
    return this.counts.get(addressKey(address)) ?? 0;
  }
}
