import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cli, killAll, type Served, serve } from "./helpers.js";

// The chat room of `sockjet serve`, used by two `sockjet connect` processes through pipes.

let served: Served;
before(async () => {
  served = await serve();
});
after(killAll);

/** The chat events a connect process printed so far, parsed. */
function events(cli: Cli): Record<string, unknown>[] {
  return cli.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

describe("sockjet serve: chat between two connect processes", () => {
  test("join notices with the user count, messages to everyone, errors to the sender only, leave notices", async () => {
    const alice = new Cli(["connect", "--protocol", "chat", `${served.ws}/chat?name=alice`]);
    await alice.waitFor(/^\{"type":"welcome","user":"alice","users":1\}\n/);
    // Everyone sees every join, their own included (as on IRC).
    await alice.waitFor(/\{"type":"join","user":"alice","users":1,"time":\d+\}\n/);
    await served.cli.waitFor(/open {3}127\.0\.0\.1 {2}\/chat\?name=alice {2}\(protocol chat[,)]/);

    const bob = new Cli(["connect", "--protocol", "chat", `${served.ws}/chat?name=bob`]);
    await bob.waitFor(/^\{"type":"welcome","user":"bob","users":2\}\n/);
    await alice.waitFor(/\{"type":"join","user":"bob","users":2,"time":\d+\}\n/);

    alice.write("hi bob\n");
    await bob.waitFor(/\{"type":"message","user":"alice","text":"hi bob","time":\d+\}\n/);
    await alice.waitFor(/\{"type":"message","user":"alice","text":"hi bob","time":\d+\}\n/);

    // JSON in, and markup stays text: the server never interprets it, the page renders it with textContent.
    bob.write('{"type":"message","text":"<img src=x onerror=alert(1)>"}\n');
    await alice.waitFor(/"user":"bob","text":"<img src=x onerror=alert\(1\)>"/);

    // Too long: an error for alice alone; bob's next message from alice is the one after it.
    alice.write(`${"y".repeat(1001)}\n`);
    await alice.waitFor(/\{"type":"error","error":"message too long: 1001 characters, at most 1000"\}\n/);
    alice.write("after the long one\n");
    await bob.waitFor(/"text":"after the long one"/);
    const bobSaw = events(bob)
      .filter((e) => e.type === "message" && e.user === "alice")
      .map((e) => e.text);
    assert.deepEqual(bobSaw, ["hi bob", "after the long one"]);
    assert.ok(!events(bob).some((e) => e.type === "error"), bob.stdout);

    bob.end();
    assert.equal((await bob.exit()).code, 0, bob.transcript());
    await alice.waitFor(/\{"type":"leave","user":"bob","users":1,"time":\d+\}\n/);
    alice.end();
    assert.equal((await alice.exit()).code, 0, alice.transcript());

    assert.deepEqual(
      events(alice).map((e) => e.type),
      ["welcome", "join", "join", "message", "message", "error", "message", "leave"],
    );
  });

  test("a client that does not offer the chat subprotocol still chats, with no subprotocol", async () => {
    const carol = new Cli(["connect", `${served.ws}/chat?name=carol`]);
    await carol.waitFor(/^\{"type":"welcome","user":"carol","users":1\}\n/);
    await served.cli.waitFor(/open {3}127\.0\.0\.1 {2}\/chat\?name=carol {2}\(no subprotocol[,)]/);
    carol.end("plain line\n");
    // Without --wait the close follows stdin's end at once; the server still broadcast the line.
    assert.equal((await carol.exit()).code, 0, carol.transcript());
  });
});
