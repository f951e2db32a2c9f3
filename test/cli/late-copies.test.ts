// LateCopies (src/cli/late-copies.ts), the index of a topic's failed appends that LocalFallbackStore watches,
// against the plain list it replaced: after any sequence of watches, takes and passing time, a payload is
// taken exactly when the list holds an unexpired copy of it, and the sizes agree.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { LateCopies } from "../../src/cli/late-copies.js";

test("LateCopies agrees with a list of watched copies", () => {
  const step = fc.record({
    op: fc.constantFrom("watch", "take", "wait"),
    payload: fc.constantFrom("a", "b", "c", "é"),
    ms: fc.integer({ min: 0, max: 50 }),
  });
  // As the store watches them: each for the same window from the time of its failure.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100 }), fc.array(step, { maxLength: 300 }), (window, steps) => {
      const copies = new LateCopies();
      let list: { payload: string; until: number }[] = [];
      let now = 0;
      for (const { op, payload, ms } of steps) {
        if (op === "wait") now += ms;
        else if (op === "watch") {
          copies.watch(Buffer.from(payload), now + window);
          list.push({ payload, until: now + window });
        } else {
          list = list.filter((entry) => entry.until > now);
          const index = list.findIndex((entry) => entry.payload === payload);
          if (index !== -1) list.splice(index, 1);
          assert.equal(copies.take(Buffer.from(payload), now), index !== -1, `take ${payload} at ${now}`);
        }
        assert.equal(copies.size(now), list.filter((entry) => entry.until > now).length);
      }
    }),
    { numRuns: 500 },
  );
});
