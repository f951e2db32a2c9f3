import assert from "node:assert/strict";
import { after, test } from "node:test";
import { killAll, run } from "./helpers.js";

// A URL typed without a scheme, `alice:S3CRETpw@127.0.0.1:8080`, parses as scheme `alice:` with the rest as
// its path; `connect` then printed it whole in its invalid-URL message (attack review, connect-leak).

after(killAll);

test("connect: the invalid-URL message of a scheme-less user:password@host URL shows no password", async () => {
  const typed = [
    "alice:S3CRETpw@127.0.0.1:8080",
    "alice:S3CRETpw@localhost",
    "alice:S3CRETpw@127.0.0.1:8080/chat",
    "ws:/alice:S3CRETpw@[::1",
    " alice:S3CRETpw@host?x=1",
  ];
  const results = await Promise.all(typed.map((url) => run(["connect", url])));
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 2, typed[i]);
    assert.match(result.stderr, /invalid URL .*\*\*\*@/, result.stderr);
    assert.doesNotMatch(result.stderr, /S3CRETpw/, result.stderr);
  }
});

test("connect: a password holding # / or ? in a URL that does not parse is not shown (newcomer review)", async () => {
  const typed = [
    "ws://user:sec#S3CRETpw@127.0.0.1:5/",
    "ws://u:se/S3CRETpw@host/",
    "ws://u:se?S3CRETpw@host/",
  ];
  const results = await Promise.all(typed.map((url) => run(["connect", url])));
  for (const [i, result] of results.entries()) {
    assert.equal(result.code, 2, typed[i]);
    assert.match(result.stderr, /invalid URL "ws:\/\/\*\*\*@/, result.stderr);
    assert.doesNotMatch(result.stderr, /S3CRETpw|sec|se\//, result.stderr);
  }
});
