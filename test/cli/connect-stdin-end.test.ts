import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { killAll, run, serve } from "./helpers.js";

// `echo hello | sockjet connect URL` shows the echo: by default connect waits up to 1 s after stdin ends for
// the answers (before, --wait defaulted to 0: the Close went out right behind "hello" and the echo, arriving
// while CLOSING, was not delivered, so nothing was printed). A server that closes first ends it sooner.

after(killAll);

describe("sockjet connect: stdin from a pipe", () => {
  test("regression: 'hello' piped in without --wait prints the echo 'hello', exit 0", async () => {
    const served = await serve(["--quiet"]);
    try {
      const result = await run(["connect", `${served.ws}/`], { input: "hello\n" });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "hello\n");
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("two lines piped in, binary: both echoes printed, then a clean close (1000) logged by serve", async () => {
    const served = await serve();
    try {
      const result = await run(["connect", "--binary", `${served.ws}/?case=piped`], { input: "hi\nyo\n" });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "<binary 2 bytes: 6869>\n<binary 2 bytes: 796f>\n");
      await served.cli.waitFor(/close {2}127\.0\.0\.1 {2}\/\?case=piped {2}1000\n/);
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
