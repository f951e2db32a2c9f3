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

  test("isPosition accepts only positions a store can hold (parts up to 2^64 − 1, as Redis stream ids)", () => {
    const max = "18446744073709551615";
    for (const good of ["", "0", "42", "1-2", "0-0", max, `${max}-${max}`])
      assert.equal(isPosition(good), true, good);
    for (const bad of [
      " 1",
      "1 ",
      "a",
      "-1",
      "1-",
      "1--2",
      "1-2-3",
      "01",
      "1-02",
      "18446744073709551616",
      `1-${max}0`,
      1,
      null,
      "9".repeat(65),
    ])
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

  test("putBackSession keeps a record only under an id taken (an alias of its successor), and once", async () => {
    const store = new MemoryResumeStore();
    const record = { secretHash: "h", topics: { t: "1" }, expiresAt: Date.now() + 60_000 };
    const alias = { ...record, successor: "next" };
    await store.putBackSession("never-taken", alias, 60_000);
    assert.equal(await store.takeSession("never-taken"), undefined, "not under an id never taken");
    await store.saveSession("id", record, 60_000);
    await store.putBackSession("id", alias, 60_000);
    assert.deepEqual(await store.takeSession("id"), record, "not over a record not taken");
    await store.putBackSession("id", alias, 60_000);
    await store.saveSession("id", record, 60_000);
    assert.deepEqual(await store.takeSession("id"), alias, "a save over an alias is ignored");
    assert.equal(await store.takeSession("id"), undefined, "single use again");
  });

  test("session records are capped at maxSessions, the oldest saved going first", async () => {
    const store = new MemoryResumeStore({ maxSessions: 2 });
    const record = () => ({ secretHash: "h", topics: {}, expiresAt: Date.now() + 60_000 });
    for (const id of ["a", "b", "c"]) await store.saveSession(id, record(), 60_000);
    assert.equal(store.sessionCount, 2);
    assert.equal(await store.takeSession("a"), undefined);
    assert.notEqual(await store.takeSession("c"), undefined);
  });

  test("at the cap, a record of the owner with the most goes first (a flood from one address; review)", async () => {
    const store = new MemoryResumeStore({ maxSessions: 100 });
    const record = (owner: string) => ({
      secretHash: "h",
      topics: { chat: "42" },
      expiresAt: Date.now() + 60_000,
      owner,
    });
    await store.saveSession("member", record("ip:10.0.0.1"), 60_000);
    // 1,000 sessions of another address, saved after the member's, and two of a third.
    for (let i = 0; i < 1000; i++) await store.saveSession(`flood${i}`, record("ip:10.0.0.2"), 60_000);
    for (const id of ["other0", "other1"]) await store.saveSession(id, record("ip:10.0.0.3"), 60_000);
    assert.equal(store.sessionCount, 100);
    assert.deepEqual(
      (await store.takeSession("member"))?.owner,
      "ip:10.0.0.1",
      "the member's session is kept",
    );
    assert.notEqual(await store.takeSession("other0"), undefined, "so are the third address's");
    assert.equal(await store.takeSession("flood0"), undefined, "the flood's oldest went");
    assert.notEqual(await store.takeSession("flood999"), undefined);
  });

  test("at the cap, records without a topic go first, whoever holds them (a flood from the member's own address; review)", async () => {
    const store = new MemoryResumeStore({ maxSessions: 100 });
    const record = (topics: Record<string, string>) => ({
      secretHash: "h",
      topics,
      expiresAt: Date.now() + 60_000,
      owner: "ip:10.0.0.1",
    });
    await store.saveSession("member", record({ chat: "42" }), 60_000);
    // 1,000 sessions that subscribed to nothing, from the member's own address (a proxy, a NAT).
    for (let i = 0; i < 1000; i++) await store.saveSession(`empty${i}`, record({}), 60_000);
    assert.equal(store.sessionCount, 100);
    assert.deepEqual((await store.takeSession("member"))?.topics, { chat: "42" }, "the member's is kept");
    assert.equal(await store.takeSession("empty0"), undefined, "the oldest empty ones went");
    assert.notEqual(await store.takeSession("empty999"), undefined);
  });

  test("at the cap, an owner holding several records loses its own, even to a member with no topic or an alias (review)", async () => {
    const store = new MemoryResumeStore({ maxSessions: 100 });
    const expiresAt = Date.now() + 60_000;
    await store.saveSession(
      "quiet",
      { secretHash: "h", topics: {}, expiresAt, owner: "ip:10.0.0.1" },
      60_000,
    );
    await store.saveSession(
      "alias",
      { secretHash: "h", topics: {}, expiresAt, owner: "ip:10.0.0.4", successor: "next" },
      60_000,
    );
    // 1,000 subscribed sessions from one address.
    for (let i = 0; i < 1000; i++)
      await store.saveSession(
        `flood${i}`,
        { secretHash: "h", topics: { chat: "1" }, expiresAt, owner: "ip:10.0.0.2" },
        60_000,
      );
    assert.equal(store.sessionCount, 100);
    assert.notEqual(await store.takeSession("quiet"), undefined, "the member with no topic is kept");
    assert.equal((await store.takeSession("alias"))?.successor, "next", "so is the alias");
    assert.equal(await store.takeSession("flood0"), undefined, "the flood's oldest went");
  });

  test("past maxTopics the least recently used topic loses its ring, and its positions stay monotonic", async () => {
    const store = new MemoryResumeStore({ maxTopics: 2 });
    store.append("a", Buffer.from("1"), true);
    store.append("a", Buffer.from("2"), true);
    store.append("b", Buffer.from("1"), true);
    store.append("c", Buffer.from("1"), true);
    assert.equal(await store.readAfter("a", "1", 10), null, "a@2 was dropped with the ring");
    // A reader that had everything the dropped ring had has missed nothing (no spurious gap).
    assert.deepEqual(await store.readAfter("a", "2", 10), []);
    const again = store.append("a", Buffer.from("again"), true);
    assert.ok(comparePositions(again, "2") > 0);
    assert.equal(await store.readAfter("a", "1", 10), null, "the messages between were dropped");
    assert.deepEqual(
      (await store.readAfter("a", "2", 10))!.map((m) => m.payload.toString()),
      ["again"],
    );
  });

  test("a topic dropped long ago (past maxTopics forgotten topics) never reuses a position: a gap, not a silent loss", async () => {
    const store = new MemoryResumeStore({ maxTopics: 2 });
    for (let i = 1; i <= 3; i++) store.append("X", Buffer.from(`old-${i}`), true);
    // Other topics churn: X's ring goes, then X is pushed out of the forgotten topics too.
    for (const topic of ["T1", "T2", "T3", "T4", "T5", "T6"]) store.append(topic, Buffer.from("x"), true);
    const positions = [1, 2, 3, 4, 5].map((i) => store.append("X", Buffer.from(`new-${i}`), true));
    for (const position of positions) assert.ok(comparePositions(position, "3") > 0, position);
    // A reader at X@3 missed new-1..5 at least: all of them, or a gap.
    const read = await store.readAfter("X", "3", 10);
    assert.ok(
      read === null || read.map((m) => m.payload.toString()).join() === "new-1,new-2,new-3,new-4,new-5",
      JSON.stringify(read?.map((m) => m.payload.toString())),
    );
  });

  test("a save at the maxSessions cap does not walk every record (sweep stops at the first live one)", async () => {
    const store = new MemoryResumeStore({ maxSessions: 1000 });
    const record = () => ({ secretHash: "h", topics: {}, expiresAt: Date.now() + 60_000 });
    for (let i = 0; i < 1000; i++) await store.saveSession(`s${i}`, record(), 60_000);
    // Count the records the store looks at (its Map, iterated by the sweep).
    const sessions = (store as unknown as { sessions: Map<string, unknown> }).sessions;
    let visited = 0;
    const entries = sessions.entries.bind(sessions);
    sessions[Symbol.iterator] = function* () {
      for (const entry of entries()) {
        visited++;
        yield entry;
      }
    } as never;
    for (let i = 0; i < 100; i++) await store.saveSession(`n${i}`, record(), 60_000);
    assert.equal(store.sessionCount, 1000);
    assert.ok(visited <= 200, `${visited} records looked at for 100 saves`);
    assert.equal(await store.takeSession("s0"), undefined, "the oldest saved went");
    assert.notEqual(await store.takeSession("n99"), undefined);
  });

  test("a ring grows with its messages: one message takes one slot, not maxMessagesPerTopic", async () => {
    const store = new MemoryResumeStore({ maxMessagesPerTopic: 1000 });
    store.append("t", Buffer.from("x"), true);
    type Ring = { payloads: unknown[]; texts: unknown[]; publishers: unknown[] };
    const rings = (store as unknown as { topics: Map<string, Ring> }).topics;
    const slots = (ring: Ring) => [ring.payloads.length, ring.texts.length, ring.publishers.length];
    assert.deepEqual(slots(rings.get("t")!), [1, 1, 1]);
    for (let i = 0; i < 1500; i++) store.append("t", Buffer.from(`${i}`), true);
    assert.deepEqual(slots(rings.get("t")!), [1000, 1000, 1000]);
    assert.deepEqual(
      (await store.readAfter("t", "1499", 10))!.map((m) => m.payload.toString()),
      ["1498", "1499"],
    );
  });

  test("invalid options are TypeErrors", () => {
    for (const options of [{ maxMessagesPerTopic: 0 }, { maxSessions: 1.5 }, { maxTopics: "9" }])
      assert.throws(() => new MemoryResumeStore(options as never), TypeError);
  });
});
