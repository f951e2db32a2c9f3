import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { until } from "../pubsub/helpers.js";
import { RedisCluster, cli as redisCli } from "../pubsub/redis-cluster-helpers.js";
import { type Relay, startRelay } from "../resume/redis-resume-helpers.js";
import { redisSkip } from "../support/require.js";
import { plainMember, ResumingMember, say } from "./chat-members.js";
import { Cli, killAll, type Served, serve } from "./helpers.js";

// `sockjet serve --redis` on a real Redis Cluster (3 masters, 3 replicas): one serve finds the cluster from
// one node's URL, the other is given a list of nodes; both serve one chat room over sharded pub/sub, with the
// presence keys in the slot of the room's channel (a Lua script may only touch keys of one slot). The room
// is on the Redis Streams resume store there too (sharded): a member resumes on another serve process.

const skip = redisSkip();

after(killAll);

type ChatEvent = Record<string, unknown>;

function events(cli: Cli): ChatEvent[] {
  return cli.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

const started: Cli[] = [];
/** The chat room's channel: RedisStreamStore.channel("chat"), in the slot of its stream. */
const CHANNEL = "sockjet:{t:chat}:live";
const LINES = 1000;

async function member(served: Served, name: string): Promise<{ cli: Cli; welcome: ChatEvent }> {
  const cli = new Cli(["connect", "--protocol", "chat", `${served.ws}/chat?name=${name}`]);
  started.push(cli);
  await cli.waitFor(/^\{"type":"welcome".*\n/);
  return { cli, welcome: events(cli)[0] };
}

describe("sockjet serve --redis on a Redis Cluster", { skip }, () => {
  let cluster: RedisCluster;
  let a: Served;
  let b: Served;

  before(async () => {
    cluster = await RedisCluster.start();
    [a, b] = await Promise.all([
      serve(["--redis", cluster.urls[3]]),
      serve(["--redis", cluster.urls.join(",")]),
    ]);
    started.push(a.cli, b.cli);
  });

  after(async () => {
    for (const cli of started) cli.kill();
    await Promise.all(started.map((cli) => cli.exited));
    await cluster?.stop();
  });

  test("found from one node or a list; one room across both, names unique, over sharded pub/sub", async () => {
    for (const served of [a, b]) {
      assert.match(
        served.cli.stdout,
        /\n {2}redis {2}redis:\/\/127\.0\.0\.1:\d+.* \(Redis Cluster, sharded pub\/sub;/,
      );
    }
    const alice = await member(a, "alice");
    assert.deepEqual(alice.welcome, { type: "welcome", user: "alice", users: 1 });
    const alice2 = await member(b, "alice");
    assert.deepEqual(alice2.welcome, { type: "welcome", user: "alice-2", users: 2 });
    await alice.cli.waitFor(/\{"type":"join","user":"alice-2","users":2,"time":\d+\}\n/);

    alice.cli.write("hello from A\n");
    await alice2.cli.waitFor(/"user":"alice","text":"hello from A"/);
    alice2.cli.write("hello from B\n");
    await alice.cli.waitFor(/"user":"alice-2","text":"hello from B"/);

    // The room's channel is a shard channel of the master that owns its slot; its stream and the presence
    // keys live there.
    const owner = await cluster.ownerOf(CHANNEL);
    assert.ok((await redisCli(owner, "PUBSUB", "SHARDCHANNELS")).split("\n").includes(CHANNEL));
    assert.equal(await redisCli(owner, "PUBSUB", "CHANNELS"), "", "no classic channel");
    const stream = await redisCli(owner, "XRANGE", "sockjet:{t:chat}:messages", "-", "+");
    assert.match(stream, /hello from A[\s\S]*hello from B/, "the lines in the room's stream, in order");
    assert.equal(await redisCli(owner, "HLEN", "sockjet:presence:{t:chat}:members"), "2");
    // What the join script asks after Redis lost the registry (chat-redis-scripts.ts): both processes are
    // subscribed, counted on the node that owns the keys' slot.
    const counted = await redisCli(
      owner,
      "EVAL",
      "return redis.call('PUBSUB', ARGV[2], ARGV[1])[2]",
      "1",
      "sockjet:presence:{t:chat}:members",
      CHANNEL,
      "SHARDNUMSUB",
    );
    assert.equal(counted, "2");

    alice2.cli.end();
    assert.equal((await alice2.cli.exit()).code, 0, alice2.cli.transcript());
    await alice.cli.waitFor(/\{"type":"leave","user":"alice-2","users":1,"time":\d+\}\n/);
    alice.cli.end();
    assert.equal((await alice.cli.exit()).code, 0, alice.cli.transcript());
    assert.equal(a.cli.stderr + b.cli.stderr, "", "no errors on either server");
  });

  test("a member of one serve, cut off while 1,000 lines are said, resumes on the other: every line, in order, once", async () => {
    const unlimited = ["--rate-limit", "0", "--byte-rate", "0", "--chat-rate", "0", "--quiet"];
    const [c, d] = await Promise.all([
      serve(["--redis", cluster.urls[0], ...unlimited]),
      serve(["--redis", cluster.urls[4], ...unlimited]),
    ]);
    started.push(c.cli, d.cli);
    let relay: Relay | undefined;
    let ann: ResumingMember | undefined;
    try {
      relay = await startRelay(c.port);
      ann = new ResumingMember(`ws://127.0.0.1:${relay.port}/chat?name=ann`);
      const resuming = ann;
      await until(() => resuming.me !== null, 10_000, "ann's welcome on c");
      const ben = await plainMember(d, "ben");
      await until(
        () => resuming.events.some((e) => e.type === "join" && e.user === "ben"),
        5_000,
        "ben's join",
      );
      // Whatever connects through the relay now reaches d; c dies at once, without a word to anyone.
      relay.retarget(d.port);
      c.cli.kill("SIGKILL");
      say(ben, LINES);
      await until(() => resuming.lines("ben").length >= LINES, 30_000, "every line at ann, through d");
      const expected = Array.from({ length: LINES }, (_, i) => `line ${i}`);
      assert.deepEqual(resuming.lines("ben"), expected);
      assert.deepEqual(resuming.sessions, [false, true], "resumed on d");
      assert.deepEqual(resuming.resets, []);
      ben.send("one more");
      await until(() => resuming.lines("ben").includes("one more"), 5_000, "a live line on d");
      assert.equal(resuming.lines("ben").length, LINES + 1);
      ben.close();
      assert.equal(d.cli.stderr, "", "no errors on d");
    } finally {
      ann?.socket.close();
      relay?.close();
      d.cli.kill("SIGTERM");
      await d.cli.exit();
    }
  });
});
