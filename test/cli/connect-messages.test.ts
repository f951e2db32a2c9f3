import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { killAll, run, serve } from "./helpers.js";

// What `sockjet connect` tells a newcomer: why serve refused it (the reason the server sent), and a help text
// that is plain text (it describes the escapes; it must not contain the controls themselves).

after(killAll);

describe("sockjet connect: messages", () => {
  test("refused by serve's origin check: stderr gives the server's reason, which names --allow-origin", async () => {
    const served = await serve(["--quiet"]);
    try {
      const result = await run(["connect", "-o", "https://app.example.com", `${served.ws}/`]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^sockjet connect: cannot connect to .*: the server answered HTTP 403 Forbidden: Origin not allowed: serve takes pages of its own origin only; start it with --allow-origin https:\/\/app\.example\.com to allow that one\n$/,
      );
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("connect --help writes no ESC and no U+202E (it shows them as \\x1b and \\u202e)", async () => {
    const result = await run(["connect", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /ESC as \\x1b, U\+202E as \\u202e/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for the raw control is the point
    assert.doesNotMatch(result.stdout, /[\u001b\u202e]/);
  });
});
