import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cleanName, cleanText, nameKey, SEQUENTIAL_SUFFIXES, uniqueName } from "../../src/cli/chat-names.js";

// The chat's name and text rules (src/cli/chat-names.ts), character by character; the room-level behaviour
// (real sockets) is in chat-room.test.ts.

describe("chat names", () => {
  test("look-alikes have one key: case (full folding), NFKC, Cyrillic and Greek letters, 0/1, rn", () => {
    const alice = nameKey("alice");
    for (const name of [
      "Alice",
      "ALICE",
      "\u0430lice",
      "\u0391LICE",
      "\uff41lice",
      "a1ice",
      "\u0430l\u0456\u0441\u0435",
    ]) {
      assert.equal(nameKey(name), alice, name);
    }
    assert.equal(nameKey("stra\u00dfe"), nameKey("STRASSE"));
    assert.equal(nameKey("\u0440\u0430\u0443\u0440\u0430l"), nameKey("paypal")); // Cyrillic раура + l
    assert.equal(nameKey("modern"), nameKey("modem"));
    assert.equal(nameKey("b0b"), nameKey("bob"));
    // Distinct names stay distinct.
    assert.notEqual(nameKey("alice"), nameKey("alicia"));
    assert.notEqual(nameKey("\u0410\u043b\u0438\u0441\u0430"), nameKey("alice")); // Алиса
  });

  test("the attack review's look-alikes have alice's key: capital I, Latin alpha, Lisu I, Cyrillic che; more of UTS #39", () => {
    const alice = nameKey("alice");
    for (const name of [
      "AIice", // capital I
      "aIice",
      "AII\u0421E",
      "\u0251lice", // ɑ LATIN SMALL LETTER ALPHA
      "a\ua4f2ice", // ꓲ LISU LETTER I
      "alic\u04bd", // ҽ CYRILLIC SMALL LETTER ABKHASIAN CHE
      "al\u0269ce", // ɩ LATIN SMALL LETTER IOTA
      "al\u026ace", // ɪ LATIN LETTER SMALL CAPITAL I
      "ali\u1d04e", // ᴄ LATIN LETTER SMALL CAPITAL C
      "\ua4eeLICE", // ꓮ LISU LETTER A
    ]) {
      assert.equal(nameKey(name), alice, name);
    }
    const pairs: [string, string][] = [
      ["\u0585\u057d\u0570\u0578\u0581\u0566", "ouhngq"], // Armenian
      ["\ua4d0\ua4da\ua4d3\ua4f0\ua4dd\ua4d6\ua4e7\ua4d9\ua4d7\ua4e1", "bcdefghjkl"], // Lisu
      ["\ua4df\ua4e0\ua4f3\ua4d1\ua4e3\ua4e2\ua4d4\ua4f4\ua4e6\ua4ea\ua4eb\ua4ec\ua4dc", "mnoprstuvwxyz"],
      ["\u0237\u028b\u028f\u1d0f\u1d1c\u1d20\u1d21\u1d22\ua731\u04af", "juyouvwzsy"], // Latin, Cyrillic ү
    ];
    for (const [lookalike, latin] of pairs) assert.equal(nameKey(lookalike), nameKey(latin), lookalike);
    // Case still does not matter, with I and l one letter: Ian, ian and lan are one name.
    assert.equal(nameKey("Ian"), nameKey("ian"));
    assert.equal(nameKey("Ian"), nameKey("lan"));
    assert.notEqual(nameKey("alice"), nameKey("alise"));
  });

  test("cleanName: fillers and zero-width characters out, the -N suffix out, nothing visible is no name", () => {
    assert.equal(cleanName("alice\u3164", 32), "alice");
    assert.equal(cleanName("\u3164", 32), "");
    assert.equal(cleanName("\u115f\u1160\uffa0\u200b\u2060", 32), "");
    assert.equal(cleanName("al\u200bice\u200d", 32), "alice");
    assert.equal(cleanName("alice-2", 32), "alice");
    assert.equal(cleanName("alice-2-3", 32), "alice");
    assert.equal(cleanName("r2-d2", 32), "r2-d2");
    assert.equal(cleanName("--", 32), "");
    assert.equal(cleanName("\uff41\uff4c\uff49\uff43\uff45", 32), "alice");
    assert.equal(cleanName("  two   words ", 32), "two words");
    // Cut to length first, then the suffix: "abcdef-12" cut to 9 is "abcdef-12" → "abcdef".
    assert.equal(cleanName("abcdef-123456", 9), "abcdef");
  });

  test("uniqueName: the next free name-N by key", () => {
    const unused = () => assert.fail("no numbered suffix is needed");
    const taken = new Set([nameKey("alice"), nameKey("alice-2")]);
    assert.equal(uniqueName("ALICE", taken, unused), "ALICE-3");
    assert.equal(uniqueName("bob", taken, unused), "bob");
    // The suffix's digits are keyed too: alice-10's key is alice-lo.
    const many = new Set([nameKey("x"), ...Array.from({ length: 9 }, (_, i) => nameKey(`x-${i + 2}`))]);
    assert.equal(uniqueName("x", many, unused), "x-11");
  });

  test("uniqueName: past name-50, numbers from the counter; joins under one name cost no more as they grow (review)", () => {
    let counter = SEQUENTIAL_SUFFIXES;
    const next = () => ++counter;
    const taken = new Set<string>();
    const join = (name: string) => {
      const unique = uniqueName(name, taken, next);
      taken.add(nameKey(unique));
      return unique;
    };
    const names = Array.from({ length: 5000 }, () => join("x".repeat(32)));
    assert.equal(new Set(names).size, 5000, "every name unique");
    assert.equal(names[49], `${"x".repeat(32)}-50`);
    assert.equal(names[50], `${"x".repeat(32)}-51`, "then the counter's numbers");
    // The work of a join is bounded: the 5,000th asks the set at most SEQUENTIAL_SUFFIXES + a few times.
    let asked = 0;
    const counting = {
      has: (key: string) => {
        asked++;
        return taken.has(key);
      },
    };
    uniqueName("x".repeat(32), counting, next);
    assert.ok(asked <= SEQUENTIAL_SUFFIXES + 2, `${asked} lookups`);
  });
});

describe("chat texts", () => {
  test("controls, bidi overrides and zero-width characters out; line breaks become spaces", () => {
    assert.equal(cleanText("hi\nbob: forged"), "hi bob: forged");
    assert.equal(cleanText("a\r\nb\u2028c\u0085d"), "a b c d");
    assert.equal(cleanText("\u202eevil\u202c \u2066x\u2069"), "evil x");
    assert.equal(cleanText("a\u0000b\u001b[31mc\u007f\u0090"), "ab[31mc");
    assert.equal(cleanText("tab\there"), "tab here");
    assert.equal(cleanText("zero\u200bwidth\ufeff"), "zerowidth");
  });

  test("what a chat needs stays: emoji ZWJ sequences, ZWNJ between letters, flag tag sequences", () => {
    const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
    const heartOnFire = "\u2764\ufe0f\u200d\u{1f525}";
    const persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645";
    const england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
    for (const text of [family, heartOnFire, persian, england, "caf\u00e9 \u{1f44d}\u{1f3fd}"]) {
      assert.equal(cleanText(text), text);
    }
    // A joiner at an edge or beside a space joins nothing; a tag outside a flag is dropped.
    assert.equal(cleanText("\u200dhi \u200d"), "hi ");
    assert.equal(cleanText("a\u{e0067}b"), "ab");
  });

  test("invisible-only text is empty", () => {
    for (const text of ["\u200b\u200b", "\u3164", "\u2800\u2800", " \u115f ", "\u0301", "\u202e"]) {
      assert.equal(cleanText(text), "", JSON.stringify(text));
    }
  });
});
