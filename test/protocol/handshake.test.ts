import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { HANDSHAKE_GUID } from "../../src/protocol/constants.js";
import {
  computeAccept,
  type ExpectedUpgrade,
  generateKey,
  type HeaderMap,
  isValidKey,
  type UpgradeRequestResult,
  type UpgradeResponseResult,
  validateUpgradeRequest,
  validateUpgradeResponse,
} from "../../src/protocol/handshake.js";
import { checkHeaderLimits } from "../../src/protocol/header-fields.js";

// RFC 6455 §1.3 sample values. (The accept value is the RFC's: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=". The string
// "s3pPLMBiTxaK9+xJQ5C5mEn4ncE=" that circulates in some notes is not the SHA-1 of key + GUID.)
const SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function goodRequestHeaders(): HeaderMap {
  return {
    host: "server.example.com",
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": SAMPLE_KEY,
    "sec-websocket-version": "13",
  };
}

function request(overrides: HeaderMap = {}, method = "GET") {
  const headers = goodRequestHeaders();
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return validateUpgradeRequest({ method, headers });
}

function assertRejected(
  result: UpgradeRequestResult,
  status: number,
): Extract<UpgradeRequestResult, { ok: false }> {
  assert.equal(result.ok, false, "expected the request to be rejected");
  if (result.ok) throw new Error("unreachable");
  assert.equal(result.status, status, result.reason);
  assert.ok(result.reason.length > 0);
  return result;
}

function assertAccepted(result: UpgradeRequestResult): Extract<UpgradeRequestResult, { ok: true }> {
  if (!result.ok) assert.fail(`expected acceptance, got ${result.status} ${result.reason}`);
  return result;
}

describe("RFC 6455 §1.3 / §4.2.2 Sec-WebSocket-Accept", () => {
  it("§1.3 example: key dGhlIHNhbXBsZSBub25jZQ== → accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", () => {
    assert.equal(computeAccept(SAMPLE_KEY), SAMPLE_ACCEPT);
  });

  it("§1.3 example: the accept decodes to the SHA-1 bytes the RFC lists", () => {
    const sha1 = "b37a4f2cc0624f1690f64606cf385945b2bec4ea";
    assert.equal(Buffer.from(computeAccept(SAMPLE_KEY), "base64").toString("hex"), sha1);
  });

  it("is base64(SHA-1(key + GUID)) for arbitrary keys", () => {
    for (let i = 0; i < 20; i++) {
      const key = generateKey();
      const expected = createHash("sha1")
        .update(key + HANDSHAKE_GUID)
        .digest("base64");
      assert.equal(computeAccept(key), expected);
      assert.equal(computeAccept(key).length, 28);
    }
  });
});

describe("RFC 6455 §4.1 item 7 client key generation", () => {
  it("generateKey returns base64 of 16 bytes that passes isValidKey", () => {
    for (let i = 0; i < 50; i++) {
      const key = generateKey();
      assert.equal(Buffer.from(key, "base64").length, 16);
      assert.equal(isValidKey(key), true, key);
    }
  });

  it("generateKey returns a fresh nonce each time", () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateKey()));
    assert.equal(keys.size, 100);
  });
});

describe("RFC 6455 §4.2.1 item 5 / §11.3.1 key format", () => {
  it("accepts the §1.3 sample key and all-alphabet keys", () => {
    assert.equal(isValidKey(SAMPLE_KEY), true);
    assert.equal(isValidKey("AAAAAAAAAAAAAAAAAAAAAA=="), true);
    assert.equal(isValidKey("+/+/+/+/+/+/+/+/+/+/+/=="), true);
    assert.equal(isValidKey("zzzzzzzzzzzzzzzzzzzzzz=="), true);
  });

  it("rejects wrong lengths (decodes to other than 16 bytes)", () => {
    assert.equal(isValidKey(""), false);
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZQ="), false);
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZQ==="), false);
    assert.equal(isValidKey(Buffer.alloc(15).toString("base64")), false);
    assert.equal(isValidKey(Buffer.alloc(17).toString("base64")), false);
    assert.equal(isValidKey(Buffer.alloc(18).toString("base64")), false); // 24 chars, no padding
  });

  it("rejects non-base64 chars, URL-safe alphabet and misplaced padding", () => {
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZQ-="), false);
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZ-=="), false);
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZ_=="), false);
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25j=Q=="), false);
    assert.equal(isValidKey(" GhlIHNhbXBsZSBub25jZQ=="), false);
    assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZQ\n="), false);
  });
});

describe("RFC 6455 §4.2.1 server validates the opening handshake", () => {
  it("accepts the §1.3 sample request and returns the key", () => {
    const r = assertAccepted(request());
    assert.equal(r.key, SAMPLE_KEY);
    assert.deepEqual(r.protocols, []);
    assert.deepEqual(r.extensions, []);
  });

  it("non-GET request → 405 with Allow: GET (RFC 9110 §15.5.6)", () => {
    for (const method of ["POST", "HEAD", "CONNECT", "get"]) {
      const r = assertRejected(request({}, method), 405);
      assert.deepEqual(r.headers, { Allow: "GET" });
    }
  });

  it("HTTP/1.0 request → 400; HTTP/1.1 and later are accepted", () => {
    const headers = goodRequestHeaders();
    assertRejected(validateUpgradeRequest({ method: "GET", httpVersion: "1.0", headers }), 400);
    assertRejected(validateUpgradeRequest({ method: "GET", httpVersion: "0.9", headers }), 400);
    assertRejected(validateUpgradeRequest({ method: "GET", httpVersion: "x", headers }), 400);
    assertAccepted(validateUpgradeRequest({ method: "GET", httpVersion: "1.1", headers }));
    assertAccepted(validateUpgradeRequest({ method: "GET", httpVersion: "1.10", headers }));
  });

  it("request without Host → 400 (item 2), unless requireHost is false", () => {
    assertRejected(request({ host: undefined }), 400);
    assertRejected(request({ host: "" }), 400);
    const headers = goodRequestHeaders();
    delete headers.host;
    assertAccepted(validateUpgradeRequest({ method: "GET", headers }, { requireHost: false }));
  });

  it("request without Upgrade → 400 (item 3)", () => {
    assertRejected(request({ upgrade: undefined }), 400);
  });

  it("Upgrade not containing websocket → 400 (item 3)", () => {
    assertRejected(request({ upgrade: "h2c" }), 400);
    assertRejected(request({ upgrade: "websockets" }), 400);
    assertRejected(request({ upgrade: "web socket" }), 400);
    assertRejected(request({ upgrade: "" }), 400);
  });

  it("Upgrade matches websocket ASCII case-insensitively, also inside a list", () => {
    assertAccepted(request({ upgrade: "WebSocket" }));
    assertAccepted(request({ upgrade: "WEBSOCKET" }));
    assertAccepted(request({ upgrade: "HTTP/2.0, websocket" }));
    assertAccepted(request({ upgrade: ["foo", "websocket"] }));
  });

  it("request without Connection → 400 (item 4)", () => {
    assertRejected(request({ connection: undefined }), 400);
  });

  it("Connection without the upgrade token → 400 (item 4)", () => {
    assertRejected(request({ connection: "keep-alive" }), 400);
    assertRejected(request({ connection: "upgrades" }), 400);
    assertRejected(request({ connection: "keep alive, upgrade" }), 400);
  });

  it("Connection token upgrade matches case-insensitively, also inside a list or array", () => {
    assertAccepted(request({ connection: "keep-alive, Upgrade" }));
    assertAccepted(request({ connection: "UPGRADE" }));
    assertAccepted(request({ connection: ["keep-alive", "upgrade"] }));
  });

  it("request without Sec-WebSocket-Key → 400 (item 5)", () => {
    assertRejected(request({ "sec-websocket-key": undefined }), 400);
  });

  it("malformed Sec-WebSocket-Key → 400 (item 5)", () => {
    assertRejected(request({ "sec-websocket-key": "not-a-key" }), 400);
    assertRejected(request({ "sec-websocket-key": Buffer.alloc(20).toString("base64") }), 400);
    assertRejected(request({ "sec-websocket-key": "" }), 400);
  });

  it("duplicate Sec-WebSocket-Key, as an array or joined by Node → 400", () => {
    const other = "AAAAAAAAAAAAAAAAAAAAAA==";
    assertRejected(request({ "sec-websocket-key": [SAMPLE_KEY, other] }), 400);
    assertRejected(request({ "sec-websocket-key": [SAMPLE_KEY, SAMPLE_KEY] }), 400);
    assertRejected(request({ "sec-websocket-key": `${SAMPLE_KEY}, ${other}` }), 400);
  });

  it("Sec-WebSocket-Version other than 13 → 426 with Sec-WebSocket-Version: 13 (§4.2.2 item 4, §4.4)", () => {
    for (const v of ["8", "7", "12", "14", "0", "255"]) {
      const r = assertRejected(request({ "sec-websocket-version": v }), 426);
      assert.deepEqual(r.headers, { "Sec-WebSocket-Version": "13" });
    }
  });

  it("request without Sec-WebSocket-Version → 426 with Sec-WebSocket-Version: 13", () => {
    const r = assertRejected(request({ "sec-websocket-version": undefined }), 426);
    assert.deepEqual(r.headers, { "Sec-WebSocket-Version": "13" });
  });

  it("version is checked before the key: a hixie-style request without a key gets 426", () => {
    const r = assertRejected(
      request({ "sec-websocket-version": undefined, "sec-websocket-key": undefined }),
      426,
    );
    assert.equal(r.headers?.["Sec-WebSocket-Version"], "13");
  });

  it("duplicate Sec-WebSocket-Version (array or joined) → 400", () => {
    const a = assertRejected(request({ "sec-websocket-version": ["13", "13"] }), 400);
    assert.equal(a.headers?.["Sec-WebSocket-Version"], "13");
    assertRejected(request({ "sec-websocket-version": "13, 13" }), 400);
    assertRejected(request({ "sec-websocket-version": "13, 8" }), 400);
  });

  it("Sec-WebSocket-Version outside the §11.3.5 grammar → 400", () => {
    for (const v of ["013", "abc", "", "1.3", "256", "+13", "13a"]) {
      assertRejected(request({ "sec-websocket-version": v }), 400);
    }
  });

  it("Sec-WebSocket-Protocol list is returned in order (item 8)", () => {
    const r = assertAccepted(request({ "sec-websocket-protocol": "chat, superchat" }));
    assert.deepEqual(r.protocols, ["chat", "superchat"]);
  });

  it("Sec-WebSocket-Protocol in several header lines is one list (§11.3.4)", () => {
    const r = assertAccepted(request({ "sec-websocket-protocol": ["chat", "superchat"] }));
    assert.deepEqual(r.protocols, ["chat", "superchat"]);
  });

  it("invalid Sec-WebSocket-Protocol → 400", () => {
    assertRejected(request({ "sec-websocket-protocol": "chat, super chat" }), 400);
    assertRejected(request({ "sec-websocket-protocol": "" }), 400);
    assertRejected(request({ "sec-websocket-protocol": "a/b" }), 400);
  });

  it("duplicate subprotocol, in one line or across lines → 400", () => {
    assertRejected(request({ "sec-websocket-protocol": "chat, chat" }), 400);
    assertRejected(request({ "sec-websocket-protocol": ["chat", "chat"] }), 400);
  });

  it("Sec-WebSocket-Extensions offers are returned parsed (item 9)", () => {
    const r = assertAccepted(
      request({
        "sec-websocket-extensions": "permessage-deflate; client_max_window_bits, permessage-deflate",
      }),
    );
    assert.deepEqual(r.extensions, [
      { name: "permessage-deflate", params: [["client_max_window_bits", true]] },
      { name: "permessage-deflate", params: [] },
    ]);
  });

  it("Sec-WebSocket-Extensions across several header lines are joined", () => {
    const r = assertAccepted(request({ "sec-websocket-extensions": ["a; x=1", "b"] }));
    assert.deepEqual(
      r.extensions.map((e) => e.name),
      ["a", "b"],
    );
  });

  it("invalid Sec-WebSocket-Extensions → 400", () => {
    assertRejected(request({ "sec-websocket-extensions": "permessage-deflate;" }), 400);
    assertRejected(request({ "sec-websocket-extensions": 'x; a="b c"' }), 400);
    assertRejected(request({ "sec-websocket-extensions": "" }), 400);
  });

  it("header names are matched case-insensitively and values are OWS-trimmed", () => {
    const r = assertAccepted(
      validateUpgradeRequest({
        method: "GET",
        headers: {
          Host: "example.com",
          Upgrade: " websocket ",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": `\t${SAMPLE_KEY} `,
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Protocol": "chat",
        },
      }),
    );
    assert.equal(r.key, SAMPLE_KEY);
    assert.deepEqual(r.protocols, ["chat"]);
  });

  it("the same header under two spellings counts as a duplicate", () => {
    assertRejected(request({ "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAA==" }), 400);
  });

  it("inherited properties are not headers (no prototype lookups)", () => {
    const headers = Object.create({ upgrade: "websocket" }) as HeaderMap;
    Object.assign(headers, goodRequestHeaders());
    delete headers.upgrade;
    assertRejected(validateUpgradeRequest({ method: "GET", headers }), 400);
  });
});

describe("checkHeaderLimits (RFC 6585 §5: 431 Request Header Fields Too Large)", () => {
  const raw = ["Host", "example.com", "Upgrade", "websocket", "Connection", "Upgrade"];
  const rawBytes = 4 + 11 + 4 + 7 + 9 + 4 + 10 + 7 + 4; // name + value + ": " + CRLF each

  it("accepts heads within both limits, limits inclusive", () => {
    assert.deepEqual(checkHeaderLimits(raw, { maxHeaderCount: 3, maxHeaderBytes: rawBytes }), { ok: true });
    assert.deepEqual(checkHeaderLimits([], { maxHeaderCount: 0, maxHeaderBytes: 0 }), { ok: true });
  });

  it("too many header fields → 431", () => {
    const r = checkHeaderLimits(raw, { maxHeaderCount: 2, maxHeaderBytes: 1 << 20 });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.status, 431);
  });

  it("too many header bytes → 431", () => {
    const r = checkHeaderLimits(raw, { maxHeaderCount: 100, maxHeaderBytes: rawBytes - 1 });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.status, 431);
  });

  it("one huge value → 431", () => {
    const r = checkHeaderLimits(["X-Big", "a".repeat(10_000)], { maxHeaderCount: 100, maxHeaderBytes: 8192 });
    assert.equal(!r.ok && r.status, 431);
  });
});

function goodResponseHeaders(key = SAMPLE_KEY): HeaderMap {
  return { upgrade: "websocket", connection: "Upgrade", "sec-websocket-accept": computeAccept(key) };
}

function response(overrides: HeaderMap = {}, expected: Partial<ExpectedUpgrade> = {}, statusCode = 101) {
  const headers = goodResponseHeaders();
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return validateUpgradeResponse(
    { statusCode, headers },
    { key: SAMPLE_KEY, offeredProtocols: [], offeredExtensions: [], ...expected },
  );
}

function assertFailed(result: UpgradeResponseResult, pattern: RegExp): void {
  assert.equal(result.ok, false, "expected the response to be rejected");
  if (!result.ok) assert.match(result.reason, pattern);
}

function assertSucceeded(result: UpgradeResponseResult): Extract<UpgradeResponseResult, { ok: true }> {
  if (!result.ok) assert.fail(`expected success, got: ${result.reason}`);
  return result;
}

describe("RFC 6455 §4.1 client validates the server's opening handshake", () => {
  it("accepts the §1.3 sample response with no protocol and no extensions", () => {
    const r = assertSucceeded(response());
    assert.equal(r.protocol, "");
    assert.deepEqual(r.extensions, []);
  });

  it("status other than 101 → fail (check 1)", () => {
    for (const status of [200, 301, 401, 426, 500]) assertFailed(response({}, {}, status), /status/);
  });

  it("missing or wrong Upgrade → fail (check 2)", () => {
    assertFailed(response({ upgrade: undefined }), /Upgrade/);
    assertFailed(response({ upgrade: "h2c" }), /Upgrade/);
    assertFailed(response({ upgrade: "websocket, h2c" }), /Upgrade/);
    assertFailed(response({ upgrade: ["websocket", "websocket"] }), /Upgrade/);
  });

  it("Upgrade matches websocket ASCII case-insensitively (check 2)", () => {
    assertSucceeded(response({ upgrade: "WebSocket" }));
  });

  it("missing Connection or no upgrade token → fail (check 3)", () => {
    assertFailed(response({ connection: undefined }), /Connection/);
    assertFailed(response({ connection: "keep-alive" }), /Connection/);
    assertFailed(response({ connection: "up grade" }), /Connection/);
  });

  it("Connection upgrade token matches case-insensitively in a list (check 3)", () => {
    assertSucceeded(response({ connection: "keep-alive, UPGRADE" }));
  });

  it("missing Sec-WebSocket-Accept → fail (check 4)", () => {
    assertFailed(response({ "sec-websocket-accept": undefined }), /Accept/);
  });

  it("Sec-WebSocket-Accept for another key → fail (check 4)", () => {
    assertFailed(response({ "sec-websocket-accept": computeAccept("AAAAAAAAAAAAAAAAAAAAAA==") }), /Accept/);
    assertFailed(response({ "sec-websocket-accept": SAMPLE_ACCEPT.toLowerCase() }), /Accept/);
  });

  it("duplicate Sec-WebSocket-Accept → fail even if both match (check 4)", () => {
    assertFailed(response({ "sec-websocket-accept": [SAMPLE_ACCEPT, SAMPLE_ACCEPT] }), /Accept/);
  });

  it("extension the client offered is returned with its parameters (check 5)", () => {
    const r = assertSucceeded(
      response(
        { "sec-websocket-extensions": "permessage-deflate; server_max_window_bits=10" },
        { offeredExtensions: ["permessage-deflate"] },
      ),
    );
    assert.deepEqual(r.extensions, [
      { name: "permessage-deflate", params: [["server_max_window_bits", "10"]] },
    ]);
  });

  it("extension the client did not offer → fail (check 5)", () => {
    assertFailed(response({ "sec-websocket-extensions": "permessage-deflate" }), /did not offer/);
    assertFailed(
      response(
        { "sec-websocket-extensions": "permessage-deflate, x-other" },
        { offeredExtensions: ["permessage-deflate"] },
      ),
      /x-other/,
    );
  });

  it("the same extension twice in the response → fail", () => {
    assertFailed(
      response(
        { "sec-websocket-extensions": ["permessage-deflate", "permessage-deflate"] },
        { offeredExtensions: ["permessage-deflate"] },
      ),
      /more than once/,
    );
  });

  it("malformed Sec-WebSocket-Extensions → fail (check 5)", () => {
    assertFailed(
      response(
        { "sec-websocket-extensions": "permessage-deflate;" },
        { offeredExtensions: ["permessage-deflate"] },
      ),
      /Extensions/,
    );
    assertFailed(response({ "sec-websocket-extensions": "" }, { offeredExtensions: ["x"] }), /Extensions/);
  });

  it("offered subprotocol selected by the server is returned (check 6)", () => {
    const r = assertSucceeded(
      response({ "sec-websocket-protocol": "superchat" }, { offeredProtocols: ["chat", "superchat"] }),
    );
    assert.equal(r.protocol, "superchat");
  });

  it("subprotocol the client did not offer → fail (check 6)", () => {
    assertFailed(
      response({ "sec-websocket-protocol": "other" }, { offeredProtocols: ["chat"] }),
      /not offered/,
    );
    assertFailed(
      response({ "sec-websocket-protocol": "Chat" }, { offeredProtocols: ["chat"] }),
      /not offered/,
    );
  });

  it("subprotocol when the client offered none → fail (check 6)", () => {
    assertFailed(response({ "sec-websocket-protocol": "chat" }), /offered none/);
    assertFailed(response({ "sec-websocket-protocol": "" }), /offered none/);
  });

  it("a list or repeat of subprotocols in the response → fail (§11.3.4: server sends one token)", () => {
    assertFailed(
      response({ "sec-websocket-protocol": "chat, superchat" }, { offeredProtocols: ["chat", "superchat"] }),
      /once/,
    );
    assertFailed(
      response({ "sec-websocket-protocol": ["chat", "chat"] }, { offeredProtocols: ["chat"] }),
      /once/,
    );
  });
});

describe("WHATWG establish a WebSocket connection: subprotocol required when offered", () => {
  it("protocols offered but none in the response → fail", () => {
    assertFailed(response({}, { offeredProtocols: ["chat"] }), /did not select/);
  });

  it("allowMissingProtocol accepts it with protocol '' (RFC 6455-only behaviour)", () => {
    const r = assertSucceeded(response({}, { offeredProtocols: ["chat"], allowMissingProtocol: true }));
    assert.equal(r.protocol, "");
  });

  it("a full negotiated response round-trips with a generated key", () => {
    const key = generateKey();
    const r = validateUpgradeResponse(
      {
        statusCode: 101,
        headers: {
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-accept": computeAccept(key),
          "sec-websocket-protocol": "chat",
          "sec-websocket-extensions": "permessage-deflate; client_max_window_bits=15",
        },
      },
      { key, offeredProtocols: ["chat"], offeredExtensions: ["permessage-deflate"] },
    );
    assert.deepEqual(r, {
      ok: true,
      protocol: "chat",
      extensions: [{ name: "permessage-deflate", params: [["client_max_window_bits", "15"]] }],
    });
  });
});
