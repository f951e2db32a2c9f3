import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { startRelay } from "../resume/redis-resume-helpers.js";
import { redisSkip } from "../support/require.js";
import { ResumingMember } from "./chat-members.js";
import { killAll, type Served, serve } from "./helpers.js";
import { openOn, said, until, welcome } from "./workers-helpers.js";

// `sockjet serve --workers 2 --redis URL`: the workers share the chat room through Redis (topic and
// names), as separate serve processes do; the primary runs no relay. The chat's sessions are in Redis
// Streams too: a member whose worker dies resumes on another worker process. Skips without redis-server
// unless SOCKJET_REQUIRE_REDIS=1.

const skip = redisSkip();
after(killAll);

describe("sockjet serve --workers --redis", { skip }, () => {
  let redis: RedisServer;
  let served: Served;

  before(async () => {
    redis = await RedisServer.start();
    served = await serve(["--workers", "2", "--redis", redis.url, "--chat-rate", "0"]);
  });
  after(async () => {
    served?.cli.kill("SIGTERM");
    await served?.cli.exit();
    await redis?.kill();
  });

  test("one room across the workers through Redis: unique names, the whole room's count, messages once", async () => {
    assert.match(
      served.cli.stdout,
      /\(2 worker processes\)\n[\s\S]*\n {2}redis {2}redis:\/\/127\.0\.0\.1:\d+/,
    );
    const alice = await openOn(served, 1, "/chat?name=alice", "chat");
    await until(() => welcome(alice) !== undefined, "alice's welcome");
    const alice2 = await openOn(served, 2, "/chat?name=alice", "chat");
    await until(() => welcome(alice2) !== undefined, "the second alice's welcome");
    assert.deepEqual(welcome(alice), { type: "welcome", user: "alice", users: 1 });
    assert.deepEqual(welcome(alice2), { type: "welcome", user: "alice-2", users: 2 });
    alice.socket.send("one");
    alice2.socket.send("two");
    for (const member of [alice, alice2])
      await until(() => said(member).length === 2, "both messages").catch((error) => {
        throw new Error(
          `${error.message}: alice ${JSON.stringify(alice.events)}, alice-2 ${JSON.stringify(alice2.events)} ` +
            `(slots ${alice.slot}, ${alice2.slot})\n${served.cli.stdout.slice(-3000)}\n${served.cli.stderr}`,
        );
      });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const member of [alice, alice2])
      assert.deepEqual(said(member).sort(), ["alice-2: two", "alice: one"]);
    alice.socket.close();
    alice2.socket.close();
    assert.equal(served.cli.stderr, "");
  });

  test("a member whose worker is killed resumes on another worker process with every line said meanwhile", async () => {
    const relay = await startRelay(served.port);
    const ann = new ResumingMember(`ws://127.0.0.1:${relay.port}/chat?name=ann`);
    try {
      await until(() => ann.me !== null, "ann's welcome");
      // Which worker took ann: its log line (the relay hides the 101's X-Sockjet-Worker header), which may
      // come after her welcome.
      const annOpen = /\[worker (\d+)\]\s+open\s+\S+\s+\/chat\?name=ann\b/;
      await until(() => annOpen.test(served.cli.stdout), "the log line of ann's connection");
      const opened = annOpen.exec(served.cli.stdout);
      assert.ok(opened, served.cli.stdout);
      const annSlot = Number(opened[1]);
      const probe = await openOn(served, annSlot, "/");
      probe.socket.close();
      const ben = await openOn(served, annSlot === 1 ? 2 : 1, "/chat?name=ben", "chat");
      await until(() => ann.events.some((e) => e.type === "join" && e.user === "ben"), "ben's join at ann");
      assert.notEqual(ben.pid, probe.pid);

      // ann's worker dies at once; the primary starts another in its slot.
      process.kill(probe.pid, "SIGKILL");
      const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
      for (const text of lines) ben.socket.send(JSON.stringify({ type: "message", text }));
      await until(() => ann.lines("ben").length >= lines.length, "every line at ann", 20_000).catch(
        (error) => {
          // Say what ann did have: how many lines, her sessions and resets, and the server's output.
          const got = ann.lines("ben");
          throw new Error(
            `${error.message}: ${got.length} of ${lines.length} (first ${got[0]}, last ${got.at(-1)}), ` +
              `sessions ${JSON.stringify(ann.sessions)}, resets ${JSON.stringify(ann.resets)}, ` +
              `readyState ${ann.socket.readyState}\n${served.cli.stdout.slice(-3000)}\n${served.cli.stderr}`,
          );
        },
      );
      assert.deepEqual(ann.lines("ben"), lines);
      assert.deepEqual(ann.sessions, [false, true], "resumed on a worker that is not the one she was on");
      assert.deepEqual(ann.resets, []);
      ben.socket.close();
    } finally {
      ann.socket.close();
      relay.close();
    }
  });
});
