import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ClientExtensionNegotiator } from "../../src/client/connect.js";
import { parseExtensionOffers } from "../../src/protocol/header-grammar.js";
import type { PerMessageDeflate } from "../../src/protocol/permessage-deflate/codec.js";
import {
  type PerMessageDeflateOptions,
  perMessageDeflateClient,
  perMessageDeflateServer,
} from "../../src/protocol/permessage-deflate/index.js";
import type { ServerExtensionNegotiator } from "../../src/server/options.js";

// RFC 7692 §5 and §7.1: what the client offers, which offer the server accepts and what it answers, and which
// answers the client refuses. Each row is the Sec-WebSocket-Extensions value on the wire and the outcome.

// The negotiators fit the hooks of the client handshake and of the server (a compile-time check).
const asClientHook: ClientExtensionNegotiator = perMessageDeflateClient();
const asServerHook: ServerExtensionNegotiator = perMessageDeflateServer();
void asClientHook;
void asServerHook;

/** The server's answer to a request header value: the response header, or null when every offer is declined. */
function serverAnswer(header: string, options?: PerMessageDeflateOptions): string | null {
  const offers = parseExtensionOffers(header);
  assert.ok(offers !== null, `test header must parse: ${header}`);
  const negotiated = perMessageDeflateServer(options).negotiate(offers);
  if (negotiated === null) return null;
  negotiated.extension.dispose();
  return negotiated.response;
}

/** The codec settings the server ends up with, for the first acceptable offer. */
function serverCodec(header: string, options?: PerMessageDeflateOptions) {
  const negotiated = perMessageDeflateServer(options).negotiate(parseExtensionOffers(header)!);
  assert.ok(negotiated !== null);
  const codec = negotiated.extension as PerMessageDeflate;
  codec.dispose();
  return codec.config;
}

/** The client's reaction to a response header value: its codec settings, or the error it fails with. */
function clientAccept(response: string, options?: PerMessageDeflateOptions) {
  const parsed = parseExtensionOffers(response);
  assert.ok(parsed !== null && parsed.length === 1, `test header must parse: ${response}`);
  const codec = perMessageDeflateClient(options).accept(parsed[0]) as PerMessageDeflate;
  codec.dispose();
  return codec.config;
}

describe("RFC 7692 §7.1 client offer", () => {
  const rows: [string, PerMessageDeflateOptions | undefined, string][] = [
    ["default: as browsers send it", undefined, "permessage-deflate; client_max_window_bits"],
    [
      "server_no_context_takeover asked",
      { serverNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover; client_max_window_bits",
    ],
    [
      "client_no_context_takeover promised",
      { clientNoContextTakeover: true },
      "permessage-deflate; client_no_context_takeover; client_max_window_bits",
    ],
    [
      "server window limited to 10",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
    ],
    ["own window limited to 9", { clientMaxWindowBits: 9 }, "permessage-deflate; client_max_window_bits=9"],
    [
      "all four",
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 12,
      },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=12",
    ],
  ];
  for (const [name, options, expected] of rows) {
    test(`client offers ${JSON.stringify(expected)} (${name})`, () => {
      assert.equal(perMessageDeflateClient(options).offer(), expected);
    });
  }

  for (const [name, options] of [
    ["serverMaxWindowBits 7", { serverMaxWindowBits: 7 }],
    ["clientMaxWindowBits 16", { clientMaxWindowBits: 16 }],
    ["clientMaxWindowBits 9.5", { clientMaxWindowBits: 9.5 }],
    ["level 10", { level: 10 }],
    ["memLevel 0", { memLevel: 0 }],
    ["thresholdBytes -1", { thresholdBytes: -1 }],
    ["serverNoContextTakeover 'yes'", { serverNoContextTakeover: "yes" }],
  ] as const) {
    test(`options with ${name} → throw when the negotiator is made`, () => {
      assert.throws(
        () => perMessageDeflateClient(options as PerMessageDeflateOptions),
        /perMessageDeflate\./,
      );
      assert.throws(
        () => perMessageDeflateServer(options as PerMessageDeflateOptions),
        /perMessageDeflate\./,
      );
    });
  }
});

describe("RFC 7692 §7 server accepts the first acceptable offer (default options)", () => {
  const rows: [offer: string, response: string | null][] = [
    // Plain and the browser offer.
    ["permessage-deflate", "permessage-deflate"],
    ["permessage-deflate; client_max_window_bits", "permessage-deflate"],
    // §7.1.1: context takeover parameters are confirmed.
    ["permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"],
    ["permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"],
    [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ],
    // §7.1.2.1: server_max_window_bits is answered with the same value (every value 8..15).
    ...[8, 9, 10, 11, 12, 13, 14, 15].map(
      (n) =>
        [
          `permessage-deflate; server_max_window_bits=${n}`,
          `permessage-deflate; server_max_window_bits=${n}`,
        ] as [string, string],
    ),
    // §7.1.2.2: a value in the offer is held to by answering with it; 15 is the default and is left out.
    ...[8, 9, 10, 11, 12, 13, 14].map(
      (n) =>
        [
          `permessage-deflate; client_max_window_bits=${n}`,
          `permessage-deflate; client_max_window_bits=${n}`,
        ] as [string, string],
    ),
    ["permessage-deflate; client_max_window_bits=15", "permessage-deflate"],
    // RFC 6455 §9.1: a quoted value is the token inside the quotes.
    ['permessage-deflate; server_max_window_bits="10"', "permessage-deflate; server_max_window_bits=10"],
    ['permessage-deflate; client_max_window_bits="9"', "permessage-deflate; client_max_window_bits=9"],
    // Parameter order does not matter; the response has a fixed order.
    [
      "permessage-deflate; client_max_window_bits=10; server_max_window_bits=11; client_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10",
    ],
    // §7 "MUST decline": unknown parameter, invalid value, duplicate parameter.
    ["permessage-deflate; x_unknown", null],
    ["permessage-deflate; x_unknown=1", null],
    ["permessage-deflate; Server_No_Context_Takeover", null],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", null],
    ["permessage-deflate; client_no_context_takeover; client_no_context_takeover", null],
    ["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", null],
    ["permessage-deflate; client_max_window_bits; client_max_window_bits=10", null],
    ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", null],
    // §7.1.1: the context takeover parameters have no value.
    ["permessage-deflate; server_no_context_takeover=1", null],
    ["permessage-deflate; client_no_context_takeover=true", null],
    ['permessage-deflate; server_no_context_takeover="x"', null],
    // §7.1.2: decimal integers 8..15 without leading zeroes; server_max_window_bits always has a value.
    ["permessage-deflate; server_max_window_bits", null],
    ["permessage-deflate; server_max_window_bits=7", null],
    ["permessage-deflate; server_max_window_bits=16", null],
    ["permessage-deflate; server_max_window_bits=0", null],
    ["permessage-deflate; server_max_window_bits=08", null],
    ["permessage-deflate; server_max_window_bits=010", null],
    ["permessage-deflate; server_max_window_bits=+9", null],
    ["permessage-deflate; server_max_window_bits=9.0", null],
    ["permessage-deflate; server_max_window_bits=a", null],
    ["permessage-deflate; server_max_window_bits=1000000000000000000000", null],
    ["permessage-deflate; client_max_window_bits=7", null],
    ["permessage-deflate; client_max_window_bits=16", null],
    ["permessage-deflate; client_max_window_bits=09", null],
    ['permessage-deflate; client_max_window_bits="08"', null],
    // Other extensions are not ours; an unknown extension name is skipped.
    ["x-webkit-deflate-frame", null],
    ["x-other; a=1, permessage-deflate", "permessage-deflate"],
    // §5: several offers, in preference order — the first acceptable one wins.
    [
      "permessage-deflate; server_max_window_bits=10, permessage-deflate",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "permessage-deflate; bogus, permessage-deflate; client_max_window_bits=9",
      "permessage-deflate; client_max_window_bits=9",
    ],
    [
      "permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=08, permessage-deflate",
      "permessage-deflate",
    ],
    ["permessage-deflate; a, permessage-deflate; b", null],
  ];
  for (const [offer, response] of rows) {
    test(`offer ${JSON.stringify(offer)} → ${response === null ? "declined" : JSON.stringify(response)}`, () => {
      assert.equal(serverAnswer(offer), response);
    });
  }
});

describe("RFC 7692 §7.1 server options shape the response", () => {
  const rows: [name: string, options: PerMessageDeflateOptions, offer: string, response: string | null][] = [
    // §7.1.1.1: the server may announce server_no_context_takeover unasked.
    [
      "serverNoContextTakeover, not asked",
      { serverNoContextTakeover: true },
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_no_context_takeover",
    ],
    // §7.1.1.2: the server may forbid the client's context takeover unasked.
    [
      "clientNoContextTakeover",
      { clientNoContextTakeover: true },
      "permessage-deflate",
      "permessage-deflate; client_no_context_takeover",
    ],
    // §7.1.2.1: may announce a smaller window than the default, unasked...
    [
      "serverMaxWindowBits 10, not asked",
      { serverMaxWindowBits: 10 },
      "permessage-deflate",
      "permessage-deflate; server_max_window_bits=10",
    ],
    // ... and answers the smaller of the asked and its own.
    [
      "serverMaxWindowBits 10, asked 12",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=12",
      "permessage-deflate; server_max_window_bits=10",
    ],
    [
      "serverMaxWindowBits 12, asked 9",
      { serverMaxWindowBits: 12 },
      "permessage-deflate; server_max_window_bits=9",
      "permessage-deflate; server_max_window_bits=9",
    ],
    // §7.1.2.2: the client's window can be limited only when it sent client_max_window_bits.
    [
      "clientMaxWindowBits 10, bare client_max_window_bits",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "clientMaxWindowBits 10, client offers 9",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=9",
      "permessage-deflate; client_max_window_bits=9",
    ],
    [
      "clientMaxWindowBits 10, client offers 12",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=12",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "clientMaxWindowBits 10, offer without client_max_window_bits → declined (response MUST NOT include it)",
      { clientMaxWindowBits: 10 },
      "permessage-deflate",
      null,
    ],
    [
      "clientMaxWindowBits 10, falls through to the offer that allows it",
      { clientMaxWindowBits: 10 },
      "permessage-deflate, permessage-deflate; client_max_window_bits",
      "permessage-deflate; client_max_window_bits=10",
    ],
    [
      "clientMaxWindowBits 15 limits nothing, so any offer is fine",
      { clientMaxWindowBits: 15 },
      "permessage-deflate",
      "permessage-deflate",
    ],
  ];
  for (const [name, options, offer, response] of rows) {
    test(`${name}: ${JSON.stringify(offer)} → ${response === null ? "declined" : JSON.stringify(response)}`, () => {
      assert.equal(serverAnswer(offer, options), response);
    });
  }

  test("server codec: its compressor follows server_*, its decompressor client_* parameters", () => {
    assert.deepEqual(
      serverCodec(
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=11",
        { level: 6, memLevel: 7, thresholdBytes: 10 },
      ),
      {
        thresholdBytes: 10,
        level: 6,
        memLevel: 7,
        compressWindowBits: 9,
        compressNoContextTakeover: true,
        decompressWindowBits: 11,
        decompressNoContextTakeover: false,
      },
    );
    assert.deepEqual(serverCodec("permessage-deflate; client_no_context_takeover"), {
      thresholdBytes: 1024,
      level: 1,
      memLevel: 8,
      compressWindowBits: 15,
      compressNoContextTakeover: false,
      decompressWindowBits: 15,
      decompressNoContextTakeover: true,
    });
  });
});

describe("RFC 7692 §7 client checks the server's response", () => {
  const accepted: [
    name: string,
    options: PerMessageDeflateOptions | undefined,
    response: string,
    expected: object,
  ][] = [
    [
      "plain",
      undefined,
      "permessage-deflate",
      {
        compressWindowBits: 15,
        compressNoContextTakeover: false,
        decompressWindowBits: 15,
        decompressNoContextTakeover: false,
      },
    ],
    [
      "server_no_context_takeover unasked (§7.1.1.1 allows it)",
      undefined,
      "permessage-deflate; server_no_context_takeover",
      { decompressNoContextTakeover: true },
    ],
    [
      "client_no_context_takeover (§7.1.1.2: the server forbids our takeover)",
      undefined,
      "permessage-deflate; client_no_context_takeover",
      { compressNoContextTakeover: true },
    ],
    [
      "server_max_window_bits unasked (§7.1.2.1 allows it): it binds the server; we inflate with 15, as Chromium",
      undefined,
      "permessage-deflate; server_max_window_bits=10",
      { decompressWindowBits: 15 },
    ],
    [
      "client_max_window_bits=8",
      undefined,
      "permessage-deflate; client_max_window_bits=8",
      { compressWindowBits: 8 },
    ],
    [
      'quoted client_max_window_bits="12"',
      undefined,
      'permessage-deflate; client_max_window_bits="12"',
      { compressWindowBits: 12 },
    ],
    [
      "server_max_window_bits smaller than asked",
      { serverMaxWindowBits: 12 },
      "permessage-deflate; server_max_window_bits=9",
      { decompressWindowBits: 9 },
    ],
    [
      "server_max_window_bits asked but left out: the server uses 15, which we decode",
      { serverMaxWindowBits: 12 },
      "permessage-deflate",
      { decompressWindowBits: 15 },
    ],
    [
      "server_no_context_takeover asked but not confirmed: we keep the window",
      { serverNoContextTakeover: true },
      "permessage-deflate",
      { decompressNoContextTakeover: false },
    ],
    [
      "client_no_context_takeover promised, not echoed: we keep the promise",
      { clientNoContextTakeover: true },
      "permessage-deflate",
      { compressNoContextTakeover: true },
    ],
    [
      "own window 10 promised, server says 9",
      { clientMaxWindowBits: 10 },
      "permessage-deflate; client_max_window_bits=9",
      { compressWindowBits: 9 },
    ],
    [
      "own window 10 promised, server says nothing",
      { clientMaxWindowBits: 10 },
      "permessage-deflate",
      { compressWindowBits: 10 },
    ],
  ];
  for (const [name, options, response, expected] of accepted) {
    test(`response ${JSON.stringify(response)} → accepted (${name})`, () => {
      const config = clientAccept(response, options);
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(config[key as keyof typeof config], value, key);
      }
    });
  }

  const refused: [response: string, options: PerMessageDeflateOptions | undefined, reason: RegExp][] = [
    // "The negotiation response contains an extension parameter not defined for use in a response."
    ["permessage-deflate; x_unknown", undefined, /unknown parameter x_unknown/],
    ["permessage-deflate; Client_Max_Window_Bits=10", undefined, /unknown parameter/],
    // "... an extension parameter with an invalid value."
    ["permessage-deflate; client_max_window_bits", undefined, /must have a value/],
    ["permessage-deflate; client_max_window_bits=7", undefined, /invalid client_max_window_bits/],
    ["permessage-deflate; client_max_window_bits=16", undefined, /invalid client_max_window_bits/],
    ["permessage-deflate; server_max_window_bits", undefined, /invalid server_max_window_bits/],
    ["permessage-deflate; server_max_window_bits=07", undefined, /invalid server_max_window_bits/],
    ["permessage-deflate; server_no_context_takeover=1", undefined, /must not have a value/],
    ["permessage-deflate; client_no_context_takeover=x", undefined, /must not have a value/],
    // "... multiple extension parameters with the same name."
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", undefined, /duplicate/],
    ["permessage-deflate; client_max_window_bits=9; client_max_window_bits=9", undefined, /duplicate/],
    // "The client does not support the configuration that the response represents": a bigger window than allowed.
    ["permessage-deflate; server_max_window_bits=11", { serverMaxWindowBits: 10 }, /exceeds the 10 offered/],
    ["permessage-deflate; client_max_window_bits=12", { clientMaxWindowBits: 11 }, /exceeds the 11 offered/],
  ];
  for (const [response, options, reason] of refused) {
    test(`response ${JSON.stringify(response)}${options ? ` to ${JSON.stringify(options)}` : ""} → the client fails the handshake`, () => {
      assert.throws(() => clientAccept(response, options), reason);
    });
  }
});
