// The hash slot of a key in a Redis Cluster (cluster specification, "Key distribution model" and "Hash tags"):
// CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key, modulo 16384; when the key has a "{" with a
// "}" after it and something between them, only that something is hashed. Used to tell which master a
// channel's publishes wait on (waiting-publishes.ts), without a dependency.

const TABLE = new Uint16Array(256);
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  TABLE[byte] = crc & 0xffff;
}

export const SLOTS = 16384;

/** The slot of `key` (its UTF-8 bytes), as Redis's CLUSTER KEYSLOT gives it. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b); // "{"
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // "}"
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc % SLOTS;
}
