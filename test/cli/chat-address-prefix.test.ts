import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { inNetworkNamespace, networkNamespaceSkip } from "../support/require.js";
import { ROOT } from "./helpers.js";

// The chat's per-address limits (members per address, the address's line bucket: chat-room.ts) count an
// IPv6 client by its /64, as --max-connections-per-ip does: a client can pick any address of its /64, and
// counted one by one each address got fresh limits (20 members from 20 addresses of one /64, then a 21st,
// all welcomed; all 20 lines said at once went through). The addresses are real: the fixture runs in a
// network namespace of its own whose loopback has them.

const ADDRESSES = [
  ...Array.from({ length: 20 }, (_, i) => `fd00:5::${(i + 1).toString(16)}/64`),
  "fd00:5::ff/64",
  "fd00:6::1/64",
];

test("chat members from many addresses of one IPv6 /64 share its member limit and line bucket", {
  skip: networkNamespaceSkip(),
  timeout: 90_000,
}, () => {
  const fixture = "test/cli/fixtures/chat-from-one-64.ts";
  const [command, ...args] = inNetworkNamespace(ADDRESSES, `"${process.execPath}" --import tsx ${fixture}`);
  const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 80_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "");
  // 20 members (the default limit) from 20 addresses of fd00:5::/64 are welcomed; a 21st from yet another
  // address of it is refused with 4008, and one from fd00:6::/64 is welcomed.
  assert.deepEqual(result.welcomed, Array(20).fill("welcome"));
  assert.deepEqual(result.extra, {
    first: { type: "error", error: "too many chat members from your address (at most 20)" },
    close: 4008,
  });
  assert.equal(result.other, "welcome");
  // --chat-rate 1: the /64's bucket holds 8 lines (a member's own holds 2), so of the 20 lines said at once
  // about 8 go through (a line or two more if the bucket refills meanwhile) and the rest are refused.
  const { sent, refused, neither } = result.lines;
  assert.equal(neither, 0, "every line was either said or refused");
  assert.ok(sent >= 8 && sent <= 10, `${sent} of 20 lines went through`);
  assert.equal(refused, 20 - sent);
});
