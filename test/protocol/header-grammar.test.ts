import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  asciiEqualsIgnoreCase,
  formatExtensionOffers,
  isToken,
  isValidHeaderName,
  isValidHeaderValue,
  parseExtensionOffers,
  parseProtocolList,
  parseTokenList,
  parseUpgradeList,
  trimOws,
} from "../../src/protocol/header-grammar.js";

const TCHAR_SPECIALS = "!#$%&'*+-.^_`|~";
const DELIMITERS = '"(),/:;<=>?@[\\]{}';

describe("RFC 9110 §5.6.2 tokens", () => {
  it("accepts every tchar: ALPHA, DIGIT and the 15 specials", () => {
    assert.equal(isToken("abcXYZ019"), true);
    for (const c of TCHAR_SPECIALS) assert.equal(isToken(`a${c}b`), true, c);
    assert.equal(isToken(TCHAR_SPECIALS), true);
  });

  it("rejects the empty string (token = 1*tchar)", () => {
    assert.equal(isToken(""), false);
  });

  it("rejects every delimiter, space, control char, DEL and non-ASCII", () => {
    for (const c of DELIMITERS) assert.equal(isToken(`a${c}b`), false, c);
    for (let code = 0; code < 0x21; code++)
      assert.equal(isToken(`a${String.fromCharCode(code)}`), false, `${code}`);
    assert.equal(isToken("a\x7f"), false);
    assert.equal(isToken("caf\xe9"), false);
    assert.equal(isToken("a\u2028"), false);
  });

  it("accepts exactly the 77 tchar code points among 0..255", () => {
    let count = 0;
    for (let code = 0; code < 256; code++) if (isToken(String.fromCharCode(code))) count++;
    assert.equal(count, 26 * 2 + 10 + TCHAR_SPECIALS.length);
  });

  it("header names are tokens (RFC 9110 §5.1)", () => {
    assert.equal(isValidHeaderName("Sec-WebSocket-Key"), true);
    assert.equal(isValidHeaderName("X-Custom_1"), true);
    assert.equal(isValidHeaderName("Bad Name"), false);
    assert.equal(isValidHeaderName("Bad:Name"), false);
    assert.equal(isValidHeaderName(""), false);
  });
});

describe("RFC 9110 §5.5 field values", () => {
  it("accepts visible ASCII, inner SP/HTAB, obs-text and the empty value", () => {
    assert.equal(isValidHeaderValue("text/html; charset=utf-8"), true);
    assert.equal(isValidHeaderValue("a\tb c"), true);
    assert.equal(isValidHeaderValue("caf\xe9"), true);
    assert.equal(isValidHeaderValue(""), true);
  });

  it("rejects CR, LF and NUL anywhere (header injection)", () => {
    assert.equal(isValidHeaderValue("a\r\nX-Evil: 1"), false);
    assert.equal(isValidHeaderValue("a\nb"), false);
    assert.equal(isValidHeaderValue("a\rb"), false);
    assert.equal(isValidHeaderValue("a\0b"), false);
  });

  it("rejects other CTLs, DEL and chars above 0xFF", () => {
    assert.equal(isValidHeaderValue("a\x01b"), false);
    assert.equal(isValidHeaderValue("a\x1fb"), false);
    assert.equal(isValidHeaderValue("a\x7fb"), false);
    assert.equal(isValidHeaderValue("a\u0100b"), false);
    assert.equal(isValidHeaderValue("snow\u2603"), false);
  });

  it("rejects leading or trailing whitespace; trimOws normalizes it first", () => {
    assert.equal(isValidHeaderValue(" a"), false);
    assert.equal(isValidHeaderValue("a\t"), false);
    assert.equal(trimOws(" \t a b \t "), "a b");
    assert.equal(isValidHeaderValue(trimOws(" \t a b \t ")), true);
    assert.equal(trimOws("   "), "");
  });
});

describe("RFC 9110 §5.6.1 token lists (#rule)", () => {
  it("parses Connection: keep-alive, Upgrade with case preserved", () => {
    assert.deepEqual(parseTokenList("keep-alive, Upgrade"), ["keep-alive", "Upgrade"]);
  });

  it("accepts OWS around commas and empty elements", () => {
    assert.deepEqual(parseTokenList(" a ,\tb,,  ,c , "), ["a", "b", "c"]);
    assert.deepEqual(parseTokenList(",a"), ["a"]);
    assert.deepEqual(parseTokenList(""), []);
    assert.deepEqual(parseTokenList(" , , "), []);
  });

  it("rejects an element with inner space or a delimiter", () => {
    assert.equal(parseTokenList("keep alive"), null);
    assert.equal(parseTokenList("a, b/c"), null);
    assert.equal(parseTokenList('a, "b"'), null);
    assert.equal(parseTokenList("a;b"), null);
  });

  it("rejects control chars and non-ASCII", () => {
    assert.equal(parseTokenList("a,\nb"), null);
    assert.equal(parseTokenList("a\0"), null);
    assert.equal(parseTokenList("\xe9"), null);
  });
});

describe("RFC 9110 §7.8 Upgrade lists", () => {
  it("accepts protocol-name/protocol-version elements", () => {
    assert.deepEqual(parseUpgradeList("HTTP/2.0, websocket"), ["HTTP/2.0", "websocket"]);
    assert.deepEqual(parseUpgradeList("WebSocket"), ["WebSocket"]);
  });

  it("rejects a dangling or doubled slash", () => {
    assert.equal(parseUpgradeList("websocket/"), null);
    assert.equal(parseUpgradeList("/13"), null);
    assert.equal(parseUpgradeList("a/b/c"), null);
    assert.equal(parseUpgradeList("web socket"), null);
  });
});

describe("RFC 6455 §4.1 / §11.3.4 Sec-WebSocket-Protocol lists", () => {
  it("parses a comma-separated list of tokens in order", () => {
    assert.deepEqual(parseProtocolList("chat, superchat"), ["chat", "superchat"]);
    assert.deepEqual(parseProtocolList("v2.json.example"), ["v2.json.example"]);
  });

  it("duplicate subprotocol → null", () => {
    assert.equal(parseProtocolList("chat, superchat, chat"), null);
  });

  it("names differing only in case are distinct", () => {
    assert.deepEqual(parseProtocolList("chat, Chat"), ["chat", "Chat"]);
  });

  it("empty list → null (1#token)", () => {
    assert.equal(parseProtocolList(""), null);
    assert.equal(parseProtocolList(" , "), null);
  });

  it("non-token element → null", () => {
    assert.equal(parseProtocolList("chat, super chat"), null);
    assert.equal(parseProtocolList("chat; q=1"), null);
    assert.equal(parseProtocolList("[chat]"), null);
  });
});

describe("RFC 6455 §9.1 Sec-WebSocket-Extensions grammar", () => {
  it("parses a single extension without parameters", () => {
    assert.deepEqual(parseExtensionOffers("permessage-deflate"), [
      { name: "permessage-deflate", params: [] },
    ]);
  });

  it("parses parameters with and without values, in order", () => {
    assert.deepEqual(
      parseExtensionOffers("permessage-deflate; client_max_window_bits; server_max_window_bits=10"),
      [
        {
          name: "permessage-deflate",
          params: [
            ["client_max_window_bits", true],
            ["server_max_window_bits", "10"],
          ],
        },
      ],
    );
  });

  it("parses several extensions and keeps repeated names as alternatives", () => {
    assert.deepEqual(parseExtensionOffers("permessage-deflate; a=1, permessage-deflate, foo"), [
      { name: "permessage-deflate", params: [["a", "1"]] },
      { name: "permessage-deflate", params: [] },
      { name: "foo", params: [] },
    ]);
  });

  it("keeps duplicate parameters so the extension can reject them", () => {
    assert.deepEqual(parseExtensionOffers("x; a=1; a=2"), [
      {
        name: "x",
        params: [
          ["a", "1"],
          ["a", "2"],
        ],
      },
    ]);
  });

  it("unquotes quoted-string values, including quoted-pairs", () => {
    assert.deepEqual(parseExtensionOffers('x; bits="10"; y="a\\bc"'), [
      {
        name: "x",
        params: [
          ["bits", "10"],
          ["y", "abc"],
        ],
      },
    ]);
  });

  it("accepts OWS around ',', ';' and '=' and empty list elements", () => {
    assert.deepEqual(parseExtensionOffers(' , a ;\tb = 1 ;c= "2" ,, d ,'), [
      {
        name: "a",
        params: [
          ["b", "1"],
          ["c", "2"],
        ],
      },
      { name: "d", params: [] },
    ]);
  });

  it("preserves case of names and values", () => {
    assert.deepEqual(parseExtensionOffers("X-Ext; Mode=Fast"), [
      { name: "X-Ext", params: [["Mode", "Fast"]] },
    ]);
  });

  it("quoted value that is not a token after unescaping → null", () => {
    assert.equal(parseExtensionOffers('x; a=""'), null);
    assert.equal(parseExtensionOffers('x; a="b c"'), null);
    assert.equal(parseExtensionOffers('x; a="b,c"'), null);
    assert.equal(parseExtensionOffers('x; a="b\\ c"'), null);
    assert.equal(parseExtensionOffers('x; a="\\"'), null);
  });

  it("unterminated quoted-string → null", () => {
    assert.equal(parseExtensionOffers('x; a="10'), null);
    assert.equal(parseExtensionOffers('x; a="10\\'), null);
  });

  it("quoted-string where a token is required → null", () => {
    assert.equal(parseExtensionOffers('"x"'), null);
    assert.equal(parseExtensionOffers('x; "a"=1'), null);
    assert.equal(parseExtensionOffers('x; a="1"2'), null);
  });

  it("empty parameter, trailing ';' or missing value → null", () => {
    assert.equal(parseExtensionOffers("x;;a"), null);
    assert.equal(parseExtensionOffers("x;"), null);
    assert.equal(parseExtensionOffers("x; a="), null);
    assert.equal(parseExtensionOffers("x; a= ,y"), null);
    assert.equal(parseExtensionOffers("x; =1"), null);
    assert.equal(parseExtensionOffers(";a"), null);
  });

  it("junk between elements → null", () => {
    assert.equal(parseExtensionOffers("x y"), null);
    assert.equal(parseExtensionOffers("x; a=1 2"), null);
    assert.equal(parseExtensionOffers("x; a=1=2"), null);
    assert.equal(parseExtensionOffers("x\r\n"), null);
    assert.equal(parseExtensionOffers("x; a=\xe9"), null);
  });

  it("empty list → null (1#extension)", () => {
    assert.equal(parseExtensionOffers(""), null);
    assert.equal(parseExtensionOffers(" ,, "), null);
  });

  it("formatExtensionOffers writes the wire form and round-trips", () => {
    const offers = [
      {
        name: "permessage-deflate",
        params: [
          ["client_max_window_bits", true],
          ["server_max_window_bits", "10"],
        ] as Array<[string, string | true]>,
      },
      { name: "x-other", params: [] },
    ];
    const wire = formatExtensionOffers(offers);
    assert.equal(wire, "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other");
    assert.deepEqual(parseExtensionOffers(wire), offers);
    assert.equal(formatExtensionOffers([]), "");
  });

  it("formatExtensionOffers throws on a non-token name or value", () => {
    assert.throws(() => formatExtensionOffers([{ name: "bad name", params: [] }]), TypeError);
    assert.throws(() => formatExtensionOffers([{ name: "x", params: [["a;b", true]] }]), TypeError);
    assert.throws(() => formatExtensionOffers([{ name: "x", params: [["a", "1\r\nX: y"]] }]), TypeError);
    assert.throws(() => formatExtensionOffers([{ name: "x", params: [["a", ""]] }]), TypeError);
  });
});

describe("ASCII case-insensitive comparison (RFC 6455 §4)", () => {
  it("folds only A-Z", () => {
    assert.equal(asciiEqualsIgnoreCase("WebSocket", "websocket"), true);
    assert.equal(asciiEqualsIgnoreCase("UPGRADE", "upgrade"), true);
    assert.equal(asciiEqualsIgnoreCase("websocket", "websockets"), false);
    // U+212A KELVIN SIGN lowercases to "k" under Unicode folding, but is not ASCII.
    assert.equal(asciiEqualsIgnoreCase("\u212a", "k"), false);
    assert.equal(asciiEqualsIgnoreCase("[", "{"), false);
  });
});

describe("linear time on pathological input (CVE-2021-32640 class)", () => {
  const MB = 1 << 20;
  // A backtracking or quadratic scanner needs minutes on 1 MB; a linear one needs milliseconds.
  const BUDGET_MS = 1500;

  function timed<T>(fn: () => T): T {
    const start = performance.now();
    const result = fn();
    const elapsed = performance.now() - start;
    assert.ok(elapsed < BUDGET_MS, `took ${elapsed.toFixed(0)} ms`);
    return result;
  }

  it('1 MB of "a;" (trailing ";") → null quickly; with a final name → one extension with all params', () => {
    const s = "a;".repeat(MB / 2);
    assert.equal(
      timed(() => parseExtensionOffers(s)),
      null,
    );
    const ok = timed(() => parseExtensionOffers(`${s}a`));
    assert.ok(ok !== null);
    assert.equal(ok.length, 1);
    assert.equal(ok[0]!.params.length, MB / 2);
  });

  it('1 MB of "=\\"" → null quickly for every parser', () => {
    const s = '="'.repeat(MB / 2);
    assert.equal(
      timed(() => parseExtensionOffers(`x;a${s}`)),
      null,
    );
    assert.equal(
      timed(() => parseExtensionOffers(s)),
      null,
    );
    assert.equal(
      timed(() => parseTokenList(s)),
      null,
    );
    assert.equal(
      timed(() => parseProtocolList(s)),
      null,
    );
  });

  it("1 MB quoted value of quoted-pairs unescapes correctly", () => {
    const inner = "\\a".repeat(MB / 2);
    const parsed = timed(() => parseExtensionOffers(`x; v="${inner}"`));
    assert.ok(parsed !== null);
    assert.equal(parsed[0]!.params[0]![1], "a".repeat(MB / 2));
    assert.equal(
      timed(() => parseExtensionOffers(`x; v="${inner}`)),
      null,
    );
  });

  it("1 MB of commas and spaces: empty lists handled quickly", () => {
    const s = ", \t".repeat(MB / 3);
    assert.deepEqual(
      timed(() => parseTokenList(s)),
      [],
    );
    assert.equal(
      timed(() => parseProtocolList(s)),
      null,
    );
    assert.equal(
      timed(() => parseExtensionOffers(s)),
      null,
    );
    assert.deepEqual(
      timed(() => parseTokenList(`${s}a${s}b`)),
      ["a", "b"],
    );
  });

  it("1 MB of spaces followed by an invalid char → null quickly (no rescans)", () => {
    const s = `a${" ".repeat(MB)}!x`;
    assert.equal(
      timed(() => parseTokenList(s)),
      null,
    );
    assert.equal(
      timed(() => parseExtensionOffers(`a;b${" ".repeat(MB)}c`)),
      null,
    );
    assert.equal(
      timed(() => isValidHeaderValue(`${"a ".repeat(MB / 2)}\n`)),
      false,
    );
  });

  it("1 MB list of distinct protocols parses; one repeat at the end → null", () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `p${i}`);
    const joined = names.join(",");
    assert.equal(timed(() => parseProtocolList(joined))?.length, 100_000);
    assert.equal(
      timed(() => parseProtocolList(`${joined},p0`)),
      null,
    );
  });
});
