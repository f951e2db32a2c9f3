// An alias put back in a shared store (resume-aliases.ts) keeps its session's owner: at the store's cap it
// counts with that owner's records. Without one, every alias shared one owner, and resumes cut before their
// new token arrived (300 in 0.8 s from one address) pushed out a member's alias (review).

import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import { TokenAliases } from "../../src/server/resume-aliases.js";
import { RecordSaves } from "../../src/server/resume-record-saves.js";

/** A memory store that says it is shared by processes: aliases then go to it (putBackSession). */
class SharedMemoryStore extends MemoryResumeStore {
  override readonly distributes = true as unknown as false;
}

test("an alias put back in the store is its session's owner's", async () => {
  const store = new SharedMemoryStore({ maxSessions: 10 });
  const saves = new RecordSaves(store, 60_000, (error) => assert.fail(error));
  const aliases = new TokenAliases(store, saves, 60_000);
  assert.equal(aliases.inStore, true);
  const record = {
    secretHash: "h",
    topics: { chat: "1" },
    expiresAt: Date.now() + 60_000,
    owner: "ip:10.0.0.7",
  };
  await store.saveSession("old", record, 60_000);
  const taken = await store.takeSession("old");
  aliases.add("old", taken!, "next", "h2");
  await saves.saved();
  const alias = await store.takeSession("old");
  assert.equal(alias?.successor, "next");
  assert.equal(alias?.owner, "ip:10.0.0.7");
  assert.equal((await store.takeSession("next"))?.owner, "ip:10.0.0.7");
});

test("in one process, past 10,000 aliases the owner holding the most loses its oldest (review: 10,001 cut resumes from one address pushed out a member's)", () => {
  const store = new MemoryResumeStore();
  const aliases = new TokenAliases(store, new RecordSaves(store, 60_000, assert.fail), 60_000);
  assert.equal(aliases.inStore, false);
  const record = (owner: string) => ({
    secretHash: "h",
    topics: { chat: "1" },
    expiresAt: Date.now() + 60_000,
    owner,
  });
  aliases.add("member", record("ip:10.0.0.1"), "member-next", "h2");
  for (let i = 0; i < 10_001; i++) aliases.add(`cut${i}`, record("ip:10.0.0.2"), `next${i}`, "h2");
  assert.equal(aliases.take("member")?.successor, "member-next", "the member's alias is kept");
  assert.equal(aliases.take("cut0"), undefined, "the flood's oldest went");
  assert.equal(aliases.take("cut10000")?.successor, "next10000");
});
