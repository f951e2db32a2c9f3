// What a chat name and a chat text may be, so that nobody can pass for someone else (issue 22 item 7).
//
// Names. The name shown is NFKC-normalized (UAX #15: fullwidth, ligatures and the like become the letters
// they stand for), keeps letters, digits, space and `_ . @ -`, and loses default-ignorable code points
// (UAX #44 Default_Ignorable_Code_Point: zero-width characters, and the Hangul fillers U+115F, U+1160, U+3164,
// U+FFA0, which are letters that show nothing). A trailing `-N` is taken off: that form is the server's, for
// telling two people apart (`alice-2`). A name with nothing visible left is no name (a guest-N is given).
// Names are compared by their key: case-folded, with the common confusables mapped to one letter — a small
// built-in subset of the UTS #39 skeleton (Cyrillic, Greek, Armenian and Lisu letters that look Latin, Latin
// look-alikes such as ɑ and small capitals, 0 → o, 1 → l, rn → m), not the full confusables.txt table. One
// step goes past UTS #39: i and l are one letter in a key. The skeleton maps capital I to l, and our keys
// also ignore case; both at once would make `Ian` one name with `lan` and with `ian`, but `lan` and `ian`
// two: merging i and l keeps "same key" an equivalence, at the price of `bill` taking `biil`'s place. So
// `alice`, `Alice`, `ALICE`, `AIice` (capital I) and Cyrillic `аlice` are one name.
//
// Texts. Controls (Cc) and format characters (Cf) are removed, but for what a chat needs: ZWJ and ZWNJ
// between two visible characters (emoji sequences, Persian and Indic scripts) and the tag characters of a
// flag sequence (🏴 + tags). Line breaks become spaces, so a message cannot forge a line of its own. A text
// with nothing visible in it is empty.

/** Letters of other scripts, and digits, that look like a Latin letter (same case), after NFKC. */
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  а: "a",
  е: "e",
  һ: "h",
  і: "i",
  ј: "j",
  ӏ: "l",
  о: "o",
  р: "p",
  с: "c",
  у: "y",
  х: "x",
  ѕ: "s",
  ԁ: "d",
  ԛ: "q",
  ԝ: "w",
  ҽ: "e",
  ү: "y",
  А: "A",
  В: "B",
  Е: "E",
  Һ: "H",
  І: "I",
  Ј: "J",
  К: "K",
  Ӏ: "l",
  М: "M",
  Н: "H",
  О: "O",
  Р: "P",
  С: "C",
  Т: "T",
  У: "Y",
  Х: "X",
  Ѕ: "S",
  Ԛ: "Q",
  Ԝ: "W",
  // Greek
  α: "a",
  ι: "i",
  ν: "v",
  ο: "o",
  ρ: "p",
  υ: "u",
  χ: "x",
  ϲ: "c",
  ϳ: "j",
  Α: "A",
  Β: "B",
  Ε: "E",
  Ζ: "Z",
  Η: "H",
  Ι: "I",
  Κ: "K",
  Μ: "M",
  Ν: "N",
  Ο: "O",
  Ρ: "P",
  Τ: "T",
  Υ: "Y",
  Χ: "X",
  // Armenian
  օ: "o",
  ս: "u",
  հ: "h",
  ո: "n",
  ց: "g",
  զ: "q",
  // Lisu (no case): the capitals of the Latin alphabet they were modelled on
  ꓮ: "A",
  ꓐ: "B",
  ꓚ: "C",
  ꓓ: "D",
  ꓰ: "E",
  ꓝ: "F",
  ꓖ: "G",
  ꓧ: "H",
  ꓲ: "l",
  ꓙ: "J",
  ꓗ: "K",
  ꓡ: "L",
  ꓟ: "M",
  ꓠ: "N",
  ꓳ: "O",
  ꓑ: "P",
  ꓣ: "R",
  ꓢ: "S",
  ꓔ: "T",
  ꓴ: "U",
  ꓦ: "V",
  ꓪ: "W",
  ꓫ: "X",
  ꓬ: "Y",
  ꓜ: "Z",
  // Latin look-alikes and digits
  ı: "i",
  ɩ: "i",
  ɪ: "i",
  ȷ: "j",
  ǀ: "l",
  ɑ: "a",
  ɡ: "g",
  ʋ: "u",
  ʏ: "y",
  ᴄ: "c",
  ᴏ: "o",
  ᴜ: "u",
  ᴠ: "v",
  ᴡ: "w",
  ᴢ: "z",
  ꜱ: "s",
  "0": "o",
  "1": "l",
};
const CONFUSABLE_PATTERN = new RegExp(`[${Object.keys(CONFUSABLES).join("")}]`, "gu");

/** Never part of a name: what is not a letter, digit, space or `_ . @ -`, and what shows nothing. */
const NOT_IN_NAME = /[^\p{L}\p{N} _.@-]|\p{Default_Ignorable_Code_Point}/gu;
/** The server's suffix for telling two people of the same name apart. */
const SERVER_SUFFIX = /-\d+$/;

/**
 * The name shown for what a user asked for, at most `maxLength` characters (code points); "" when nothing
 * visible is left (the caller gives a guest name then).
 */
export function cleanName(raw: string, maxLength: number): string {
  const cleaned = raw.normalize("NFKC").replace(NOT_IN_NAME, "").replace(/\s+/g, " ").trim();
  let name = Array.from(cleaned).slice(0, maxLength).join("").trim();
  // `alice-2-3` would still end in a suffix once its last one is off.
  while (SERVER_SUFFIX.test(name)) name = name.replace(SERVER_SUFFIX, "").trim();
  // Only punctuation left (".", "-") is no name either.
  return /[\p{L}\p{N}]/u.test(name) ? name : "";
}

/** What two names are compared by: case-folded, confusables mapped (see the top of this file). */
export function nameKey(name: string): string {
  const mapped = name.normalize("NFKC").replace(CONFUSABLE_PATTERN, (c) => CONFUSABLES[c] ?? c);
  // Full case folding, approximately: upper then lower turns ß into ss and ς into σ, as folding does.
  const folded = mapped.toUpperCase().toLowerCase();
  // Folding may give letters of the table again (Cyrillic capitals without a Latin twin fold to ones with).
  // i and l are one letter (see the top of this file).
  return folded
    .replace(CONFUSABLE_PATTERN, (c) => CONFUSABLES[c] ?? c)
    .replaceAll("i", "l")
    .replaceAll("rn", "m");
}

/** The key of the server's duplicate `name-n`: the suffix's digits are keyed like any other. */
export function suffixKey(key: string, n: number): string {
  return `${key}-${nameKey(String(n))}`;
}

/** Duplicates get name-2 … name-SEQUENTIAL_SUFFIXES first; past them, numbers from a counter. */
export const SEQUENTIAL_SUFFIXES = 50;

/**
 * `name`, or the first of name-2 … name-SEQUENTIAL_SUFFIXES whose key is not taken, else name-N with N from
 * `next()` (a counter that only grows) until one is free. `taken` holds keys (nameKey()). Scanning on from
 * name-2 made joins under one name cost their number each, quadratic in all (5,000 joins: 12 s of CPU; the
 * attack review).
 */
export function uniqueName(name: string, taken: { has(key: string): boolean }, next: () => number): string {
  const key = nameKey(name);
  if (!taken.has(key)) return name;
  for (let n = 2; n <= SEQUENTIAL_SUFFIXES; n++) if (!taken.has(suffixKey(key, n))) return `${name}-${n}`;
  for (;;) {
    const n = next();
    if (!taken.has(suffixKey(key, n))) return `${name}-${n}`;
  }
}

const LINE_BREAK = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/g;
const JOINER = /[\u200c\u200d]/;
const TAG = /[\u{e0020}-\u{e007f}]/u;
const BLACK_FLAG = 0x1f3f4;
/** What shows nothing on its own. */
const INVISIBLE = /^[\s\p{Default_Ignorable_Code_Point}\p{M}\p{C}\u2800]*$/u;

/**
 * A message's text as it is shown: see the top of this file. "" when nothing visible is left. One pass, so
 * its cost is linear in the text's length, whatever the text (a run of tags once cost O(n²): the attack
 * review's chat-tag-dos).
 */
export function cleanText(raw: string): string {
  const chars = Array.from(raw.replace(LINE_BREAK, " "));
  let out = "";
  // Whether the run of tags we are in follows a black flag: a flag's tag sequence is U+1F3F4 followed by
  // tags up to the cancel tag U+E007F.
  let inFlagTags = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const isTag = TAG.test(c);
    if (isTag) inFlagTags = i > 0 && (inFlagTags || chars[i - 1].codePointAt(0) === BLACK_FLAG);
    else inFlagTags = false;
    if (!/[\p{Cc}\p{Cf}\p{Cs}]/u.test(c)) {
      out += c;
    } else if (c === "\t") {
      out += " ";
    } else if (JOINER.test(c)) {
      if (i > 0 && i + 1 < chars.length && joinable(chars[i - 1]) && joinable(chars[i + 1])) out += c;
    } else if (isTag && inFlagTags) {
      out += c;
    }
  }
  return INVISIBLE.test(out) ? "" : out;
}

/** What a joiner may stand between: not a space or a control (a variation selector before it is fine). */
function joinable(c: string): boolean {
  return !/[\s\p{Cc}\p{Cf}]/u.test(c);
}
