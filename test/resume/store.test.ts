// The memory resume store and position order (src/server/memory-resume-store.ts, resume-store.ts): per-topic
// rings bounded by maxMessagesPerTopic, a gap reported as null, single-use session records that a late save
// cannot bring back, and comparePositions over memory counters and Redis stream ids.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import { comparePositions, isPosition } from "../../src/server/resume-store.js";

describe("comparePositions", () => {
  test("orders memory counters and Redis stream ids numerically, whatever their length", () => {
    const ordered = [
      "",
      "1",
      "2",
      "10",
      "99",
      "100",
      "1700000000000-0",
      "1700000000000-1",
      "1700000000000-10",
      "1700000000001-0",
    ];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        assert.equal(
          Math.sign(comparePositions(ordered[i], ordered[j])),
          Math.sign(i - j),
          `${ordered[i]} vs ${ordered[j]}`,
        );
      }
    }
    assert.equal(comparePositions("5", "5-0"), 0);
    assert.equal(comparePositions("007", "7"), 0);
    assert.ok(comparePositions("18446744073709551615-1", "18446744073709551615-0") > 0);
  });

  test("isPosition accepts only what comparePositions understands", () => {
    for (const good of ["", "0", "42", "1-2"]) assert.equal(isPosition(good), true, good);
    for (const bad of [" 1", "1 ", "a", "-1", "1-", "1--2", 1, null, "9".repeat(65)])
      assert.equal(isPosition(bad), false, String(bad));
  });
});

describe("MemoryResumeStore", () => {
  test("readAfter returns what came after a position, in order, and null once the ring has overwritten some", async () => {
    const store = new MemoryResumeStore({ maxMessagesPerTopic: 3 });
    assert.deepEqual(await store.readAfter("t", "", 10), []);
    const positions = ["a", "b", "c"].map((x) => store.append("t", Buffer.from(x), true));
    assert.deepEqual(positions, ["1", "2", "3"]);
    assert.equal(store.lastPosition("t"), "3");
    assert.deepEqual(
      (await store.readAfter("t", "1", 10))!.map((m) => m.payload.toString()),
      ["b", "c"],
    );
    assert.deepEqual(
      (await store.readAfter("t", "", 2))!.map((m) => m.position),
      ["1", "2"],
    );
    store.append("t", Buffer.from("d"), true);
    // "a" (1) is gone: a reader after "" would miss it.
    assert.equal(await store.readAfter("t", "", 10), null);
    assert.deepEqual(
      (await store.readAfter("t", "1", 10))!.map((m) => m.payload.toString()),
      ["b", "c", "d"],
    );
    // A position this store never gave cannot be trusted.
    assert.equal(await store.readAfter("t", "99", 10), null);
    assert.equal(await store.readAfter("other", "3", 10), null);
  });

  test("a session record is taken once, and a save after the take does not bring it back", async () => {
    const store = new MemoryResumeStore();
    const record = { secretHash: "h", topics: { t: "1" }, expiresAt: Date.now() + 60_000 };
    await store.saveSession("id", record, 60_000);
    assert.deepEqual(await store.takeSession("id"), record);
    assert.equal(await store.takeSession("id"), undefined);
    await store.saveSession("id", record, 60_000);
    assert.equal(await store.takeSession("id"), undefined);
  });

  test("session records are capped at maxSessions, the oldest saved going first", async () => {
    const store = new MemoryResumeStore({ maxSessions: 2 });
    const record = () => ({ secretHash: "h", topics: {}, expiresAt: Date.now() + 60_000 });
    for (const id of ["a", "b", "c"]) await store.saveSession(id, record(), 60_000);
    assert.equal(store.sessionCount, 2);
    assert.equal(await store.takeSession("a"), undefined);
    assert.notEqual(await store.takeSession("c"), undefined);
  });

  test("past maxTopics the least recently used topic loses its ring, and its positions stay monotonic", async () => {
    const store = new MemoryResumeStore({ maxTopics: 2 });
    store.append("a", Buffer.from("1"), true);
    store.append("b", Buffer.from("1"), true);
    store.append("b", Buffer.from("2"), true);
    store.append("c", Buffer.from("1"), true);
    assert.equal(await store.readAfter("a", "1", 10), null);
    const again = store.append("a", Buffer.from("again"), true);
    assert.ok(comparePositions(again, "1") > 0);
    assert.equal(await store.readAfter("a", "1", 10), null, "the messages between were dropped");
  });

  test("invalid options are TypeErrors", () => {
    for (const options of [{ maxMessagesPerTopic: 0 }, { maxSessions: 1.5 }, { maxTopics: "9" }])
      assert.throws(() => new MemoryResumeStore(options as never), TypeError);
  });
});
