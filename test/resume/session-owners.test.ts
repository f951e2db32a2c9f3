// SessionOwners (src/server/session-owners.ts) against a plain model: after any sequence of adds and deletes,
// the victim is the oldest record of an owner holding the most records.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SessionOwners } from "../../src/server/session-owners.js";

test("the victim is always the oldest record of an owner with the most records", () => {
  const operation = fc.record({
    add: fc.boolean(),
    owner: fc.constantFrom("a", "b", "c", "d"),
    id: fc.integer({ min: 0, max: 30 }).map(String),
  });
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
      const owners = new SessionOwners();
      const model = new Map<string, string[]>();
      for (const { add, owner, id } of operations) {
        const ids = model.get(owner) ?? [];
        if (add) {
          if (!ids.includes(id)) ids.push(id);
          model.set(owner, ids);
          owners.add(owner, id);
        } else {
          model.set(
            owner,
            ids.filter((kept) => kept !== id),
          );
          owners.delete(owner, id);
        }
        const most = Math.max(0, ...[...model.values()].map((held) => held.length));
        const victim = owners.victim();
        if (most === 0) assert.equal(victim, undefined);
        else {
          const candidates = [...model.values()]
            .filter((held) => held.length === most)
            .map((held) => held[0]);
          assert.ok(candidates.includes(victim!), `${victim} is not among ${candidates}`);
        }
      }
    }),
    { numRuns: 500 },
  );
});
