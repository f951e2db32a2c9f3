import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { inNetworkNamespace, networkNamespaceSkip } from "../support/require.js";
import { ROOT } from "./helpers.js";

// The chat's per-address limits (members per address, the address's line bucket: chat-address.ts) count an
// IPv6 client by its /64, and by its /48 at 4 times the limits: a client picks any address of its /64 and
// often holds a /48, and counted address by address (or /64 by /64) each got fresh limits (21 members from
// one /64 all welcomed, their 20 lines at once all said). The addresses are real: the fixture runs a real
// `sockjet serve --chat-rate 1` in a network namespace of its own whose loopback has them.

interface Join {
  address: string;
  welcomed: number;
  refused: string[];
  /** Of its members' lines, said at once: sent, and refused. */
  sent: number;
  notSent: number;
}

const oneSixtyFour = Array.from({ length: 20 }, (_, i) => `fd00:5::${(i + 1).toString(16)}`);
const fiveSixtyFours = Array.from({ length: 6 }, (_, i) => `fd00:7:0:${i + 1}::1`);
const PLAN: [string, number][] = [
  // 20 members (the default limit) from 20 addresses of one /64, then one from yet another address of it.
  ...oneSixtyFour.map((address): [string, number] => [address, 1]),
  ["fd00:5::ff", 1],
  // Another /48.
  ["fd00:6::1", 1],
  // A /48's five /64s, 16 members each (80: 4 × 20), then one from a sixth /64 of it.
  ...fiveSixtyFours.slice(0, 5).map((address): [string, number] => [address, 16]),
  [fiveSixtyFours[5], 1],
];

test("chat members from many addresses of one IPv6 /64, or many /64s of one /48, share its limits", {
  skip: networkNamespaceSkip(),
  timeout: 120_000,
}, () => {
  const addresses = PLAN.map(([address]) => `${address}/64`);
  const fixture = `test/cli/fixtures/chat-address-plan.ts '${JSON.stringify(PLAN)}'`;
  const [command, ...args] = inNetworkNamespace(addresses, `"${process.execPath}" --import tsx ${fixture}`);
  const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 110_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  const { joins, neither } = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as {
    joins: Join[];
    neither: number;
  };
  const [sixtyFour, extra, other, fortyEights, sixth] = [
    joins.slice(0, 20),
    joins[20],
    joins[21],
    joins.slice(22, 27),
    joins[27],
  ];
  assert.equal(neither, 0, "every line was either said or refused");

  // One /64: 20 welcomed; the 21st is refused (4008 and this error: chat-room.test.ts).
  assert.deepEqual(
    sixtyFour.map((join) => join.welcomed),
    Array(20).fill(1),
  );
  assert.deepEqual(extra.refused, ["too many chat members from your address (at most 20)"]);
  assert.equal(other.welcomed, 1);
  // --chat-rate 1: the /64's bucket holds 8 lines (a member's own holds 2), so of its 20 lines said at once
  // about 8 go through (a line or two more if the bucket refills meanwhile). The other /48's line goes.
  const sent64 = sixtyFour.reduce((sum, join) => sum + join.sent, 0);
  assert.ok(sent64 >= 8 && sent64 <= 10, `${sent64} of the /64's 20 lines went through`);
  assert.equal(other.sent, 1);

  // One /48: 5 × 16 = 80 welcomed, then a sixth /64 of it is refused; its bucket (32 lines) holds the 80
  // members' lines to about 32, where their five /64s' buckets alone would let 40 through.
  assert.deepEqual(
    fortyEights.map((join) => join.welcomed),
    [16, 16, 16, 16, 16],
  );
  assert.deepEqual(sixth.refused, ["too many chat members from your network (its IPv6 /48) (at most 80)"]);
  const sent48 = fortyEights.reduce((sum, join) => sum + join.sent, 0);
  assert.ok(sent48 >= 32 && sent48 <= 35, `${sent48} of the /48's 80 lines went through`);
});
