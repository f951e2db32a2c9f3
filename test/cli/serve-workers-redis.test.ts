import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { killAll, type Served, serve } from "./helpers.js";
import { openOn, said, until, welcome } from "./workers-helpers.js";

// `sockjet serve --workers 2 --redis URL`: the workers share the chat room through Redis (topic and
// names), as separate serve processes do; the primary runs no relay. Skips without redis-server unless
// SOCKJET_REQUIRE_REDIS=1.

const skip = redisSkip();
after(killAll);

describe("sockjet serve --workers --redis", { skip }, () => {
  let redis: RedisServer;
  let served: Served;

  before(async () => {
    redis = await RedisServer.start();
    served = await serve(["--workers", "2", "--redis", redis.url]);
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
    for (const member of [alice, alice2]) await until(() => said(member).length === 2, "both messages");
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const member of [alice, alice2])
      assert.deepEqual(said(member).sort(), ["alice-2: two", "alice: one"]);
    alice.socket.close();
    alice2.socket.close();
    assert.equal(served.cli.stderr, "");
  });
});
