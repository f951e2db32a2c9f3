import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";

// The `proxy` option is checked in the constructor: a TypeError that says what is wrong, and never repeats the
// URL (it may hold a password).

function constructWith(proxy: unknown): Error {
  try {
    const ws = new WebSocket("ws://127.0.0.1:2/", [], { proxy: proxy as string });
    ws.terminate();
  } catch (error) {
    return error as Error;
  }
  throw new Error("the constructor accepted the proxy option");
}

describe("the proxy option", () => {
  test("an unsupported scheme, a malformed URL, a missing url: TypeError", () => {
    for (const [proxy, pattern] of [
      ["socks4://u:hunter2@h:1", /options\.proxy: unsupported proxy scheme "socks4:"/],
      ["not a url hunter2", /options\.proxy is not a valid URL/],
      [
        { username: "u", password: "hunter2" },
        /options\.proxy must be a URL string, a URL, or an object with a url/,
      ],
      ["http://u:%zzhunter2@h:1", /not valid percent-encoding/],
      // Node's TLS reads all but false as true: "false" would verify the proxy's certificate after all.
      [
        { url: "https://u:hunter2@h:1", rejectUnauthorized: "false" },
        /^options\.proxy\.rejectUnauthorized must be a boolean$/,
      ],
    ] as const) {
      const error = constructWith(proxy);
      assert.ok(error instanceof TypeError, `${String(error)}`);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("hunter2"), `the message repeats the password: ${error.message}`);
    }
  });

  test("RFC 7617 §2: a Basic user-id with ':' is refused; RFC 1929: SOCKS5 credentials of 1 to 255 bytes", () => {
    assert.match(
      constructWith({ url: "http://h:1", username: "a:b", password: "p" }).message,
      /cannot contain ":"/,
    );
    assert.match(
      constructWith({ url: "socks5://h:1", username: "u", password: "" }).message,
      /password must be 1 to 255 bytes/,
    );
    assert.match(
      constructWith({ url: "socks5://h:1", username: "u".repeat(256), password: "p" }).message,
      /username must be 1 to 255 bytes/,
    );
  });
});
