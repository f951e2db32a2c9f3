// The ~1 KiB JSON payload of the permessage-deflate benchmarks (bench/deflate.ts and the deflate driver):
// the same shape every time with varying values, like an app's update feed, 1,030–1,050 bytes (above the
// default 1,024-byte compression threshold).

/** Message number `i` as JSON bytes. */
export function jsonMessage(i) {
  const items = [];
  for (let n = 0; n < 23; n++) {
    items.push({
      sku: `SKU-${(i * 31 + n * 17) % 10_000}`,
      qty: (i + n) % 5,
      price: ((i * 13 + n * 7) % 9999) / 100,
    });
  }
  return Buffer.from(
    JSON.stringify({
      type: "order.updated",
      seq: i,
      ts: 1_700_000_000_000 + i * 137,
      user: {
        id: `u-${(i * 7919) % 100_000}`,
        name: ["alice", "bob", "carol", "dave"][i % 4],
        locale: "en-GB",
      },
      status: ["pending", "paid", "shipped"][i % 3],
      items,
    }),
  );
}
