import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { RedisPresence } from "../../src/cli/chat-redis.js";
import { freePort, RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { Cli, killAll, type Served, serve } from "./helpers.js";

// `sockjet serve --redis URL`: two serve processes on one real redis-server share one chat room — messages
// cross both ways exactly once, join/leave notices too, and the user count is the whole room's. Skips when
// redis-server is missing, unless SOCKJET_REQUIRE_REDIS=1 (CI): then it fails.

const skip = redisSkip();

after(killAll);

type ChatEvent = Record<string, unknown>;

/** The chat events a connect process printed so far, parsed. */
function events(cli: Cli): ChatEvent[] {
  return cli.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

function texts(cli: Cli): string[] {
  return events(cli)
    .filter((e) => e.type === "message")
    .map((e) => `${e.user}: ${e.text}`);
}

/** Processes the scale-out tests started, killed after them. */
const started: Cli[] = [];

/** `sockjet connect` to a serve's chat room; resolves once welcomed, with the welcome. */
async function member(served: Served, name: string): Promise<{ cli: Cli; welcome: ChatEvent }> {
  const cli = new Cli(["connect", "--protocol", "chat", `${served.ws}/chat?name=${name}`]);
  started.push(cli);
  await cli.waitFor(/^\{"type":"welcome".*\n/);
  return { cli, welcome: events(cli)[0] };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe("sockjet serve --redis: one chat room across processes", { skip }, () => {
  let redis: RedisServer;
  let a: Served;
  let b: Served;
  let inspect: ReturnType<typeof createClient>;

  /** Members of the room as kept in Redis (src/cli/chat-redis.ts). */
  const roomSize = async () => Number(await inspect.hLen("sockjet:presence:chat:members"));
  async function untilRoomSize(n: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while ((await roomSize()) !== n) {
      if (Date.now() > deadline) throw new Error(`the room did not get to ${n} members: ${await roomSize()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  before(async () => {
    redis = await RedisServer.start();
    inspect = createClient({ url: redis.url });
    await inspect.connect();
    [a, b] = await Promise.all([
      serve(["--redis", redis.url]),
      serve(["--redis", `${redis.url}/0`, "--no-deflate"]),
    ]);
    started.push(a.cli, b.cli);
  });

  after(async () => {
    for (const cli of started) cli.kill();
    await Promise.all(started.map((cli) => cli.exited));
    if (inspect?.isOpen) inspect.destroy();
    await redis?.kill();
  });

  test("messages cross both ways once each; join and leave notices with the room's count", async () => {
    assert.notEqual(a.port, b.port);
    assert.match(a.cli.stdout, /\n {2}redis {2}redis:\/\/127\.0\.0\.1:\d+ \(one chat room/);

    const alice = await member(a, "alice");
    assert.deepEqual(alice.welcome, { type: "welcome", user: "alice", users: 1 });
    await alice.cli.waitFor(/\{"type":"join","user":"alice","users":1,"time":\d+\}\n/);

    // Bob is on the other process: he is the second user of the same room, and alice hears of him.
    const bob = await member(b, "bob");
    assert.deepEqual(bob.welcome, { type: "welcome", user: "bob", users: 2 });
    await bob.cli.waitFor(/\{"type":"join","user":"bob","users":2,"time":\d+\}\n/);
    await alice.cli.waitFor(/\{"type":"join","user":"bob","users":2,"time":\d+\}\n/);

    alice.cli.write("hello from A\n");
    await bob.cli.waitFor(/"user":"alice","text":"hello from A"/);
    bob.cli.write("hello from B\n");
    await alice.cli.waitFor(/"user":"bob","text":"hello from B"/);
    alice.cli.write("second from A\n");
    await bob.cli.waitFor(/"text":"second from A"/);
    await alice.cli.waitFor(/"text":"second from A"/);
    await bob.cli.waitFor(/"user":"bob","text":"hello from B"/);
    // Anything delivered twice (locally and again from Redis) would show up by now.
    await settle();
    const expected = ["alice: hello from A", "bob: hello from B", "alice: second from A"];
    assert.deepEqual(texts(alice.cli), expected, alice.cli.transcript());
    assert.deepEqual(texts(bob.cli), expected, bob.cli.transcript());
    const joins = (cli: Cli) =>
      events(cli)
        .filter((e) => e.type === "join")
        .map((e) => e.user);
    assert.deepEqual(joins(alice.cli), ["alice", "bob"]);
    assert.deepEqual(joins(bob.cli), ["bob"]);

    bob.cli.end();
    assert.equal((await bob.cli.exit()).code, 0, bob.cli.transcript());
    await alice.cli.waitFor(/\{"type":"leave","user":"bob","users":1,"time":\d+\}\n/);
    alice.cli.end();
    assert.equal((await alice.cli.exit()).code, 0, alice.cli.transcript());
    await untilRoomSize(0);
    assert.equal(a.cli.stderr + b.cli.stderr, "", "no errors on either server");
  });

  test("names are unique in the whole room: a second alice and the guests on each process", async () => {
    const alice = await member(a, "alice");
    assert.equal(alice.welcome.user, "alice");
    const alice2 = await member(b, "alice");
    assert.equal(alice2.welcome.user, "alice-2");
    const guestA = await member(a, "");
    const guestB = await member(b, "");
    assert.match(String(guestA.welcome.user), /^guest-\d+$/);
    assert.match(String(guestB.welcome.user), /^guest-\d+$/);
    assert.notEqual(guestA.welcome.user, guestB.welcome.user);
    assert.equal(guestB.welcome.users, 4);
    for (const m of [alice, alice2, guestA, guestB]) m.cli.end();
    for (const m of [alice, alice2, guestA, guestB]) assert.equal((await m.cli.exit()).code, 0);
    await untilRoomSize(0);
  });

  test("SIGTERM on one process: its members' leave notices reach the other process, the count drops", async () => {
    assert.equal(await roomSize(), 0);
    const carol = await member(a, "carol");
    const dave = await member(b, "dave");
    const erin = await member(b, "erin");
    assert.equal(erin.welcome.users, 3);
    await carol.cli.waitFor(/"type":"join","user":"erin","users":3/);
    b.cli.kill("SIGTERM");
    assert.equal((await b.cli.exit()).code, 0, b.cli.transcript());
    assert.equal(await roomSize(), 1, "b took its members out of the room before exiting");
    await carol.cli.waitFor(/"type":"leave","user":"erin","users":1/);
    const leaves = events(carol.cli).filter((e) => e.type === "leave");
    assert.deepEqual(
      leaves.map((e) => [e.user, e.users]),
      [
        ["dave", 2],
        ["erin", 1],
      ],
    );
    // The room is carol alone now, as a newcomer is told.
    const frank = await member(a, "frank");
    assert.equal(frank.welcome.users, 2);
    // Their server went away with 1001 (Going Away): connect reports it and exits.
    for (const m of [dave, erin]) await m.cli.exit();
    assert.match(dave.cli.stdout + dave.cli.stderr, /1001/);
    for (const m of [carol, frank]) m.cli.end();
    for (const m of [carol, frank]) assert.equal((await m.cli.exit()).code, 0);
  });

  test("presence: 300 joins under one name get unique names; past name-50, numbered from the counter (review)", async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    const presence = new RedisPresence(client, { topic: "dup-test", report: () => {} });
    try {
      const names: string[] = [];
      for (let i = 0; i < 300; i++) {
        const joined = await presence.join("x".repeat(32));
        assert.ok("name" in joined, "joined");
        names.push(joined.name);
      }
      assert.equal(new Set(names).size, 300, "every name unique");
      assert.equal(names[49], `${"x".repeat(32)}-50`);
      const after = Number(names[50].slice(33));
      assert.ok(after > 50, `after name-50: ${names[50]}`);
      // Counted, not scanned: each join past name-50 draws from the room's counter (the guests' key), so
      // a join looks up a bounded number of names, however many share it.
      assert.ok(Number(await client.get(presence.keys[2])) >= 250, "the counter gave the numbers");
      await presence.leaveAll(names);
    } finally {
      presence.stop();
      await client.close();
    }
  });

  test("presence: a process that stops without leaving drops out after its ttl; a heartbeat restores a flushed room", async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    const reports: string[] = [];
    const report = (line: string) => reports.push(line);
    const crashed = new RedisPresence(client, { topic: "presence-test", ttlMs: 300, report });
    const alive = new RedisPresence(client, { topic: "presence-test", ttlMs: 300, report });
    try {
      assert.deepEqual(await crashed.join("x"), { name: "x", users: 1 });
      assert.deepEqual(await crashed.join("y"), { name: "y", users: 2 });
      assert.deepEqual(await alive.join("x"), { name: "x-2", users: 3 });
      // `crashed` stops its heartbeat without leaving, like a SIGKILLed serve.
      crashed.stop();
      await new Promise((resolve) => setTimeout(resolve, 700));
      // `alive` kept beating meanwhile: only its member is left, and the crashed one's names are free.
      assert.deepEqual(await alive.join("x"), { name: "x", users: 2 });
      // Redis restarted empty: the next heartbeat (every ttl/3) registers alive's members again.
      await client.flushAll();
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.deepEqual(await alive.join("z"), { name: "z", users: 3 });
      assert.equal(await alive.leave("z"), 2);
      assert.equal(await alive.leaveAll(["x", "x-2"]), 0);
      assert.deepEqual(reports, []);
    } finally {
      crashed.stop();
      alive.stop();
      await client.close();
    }
  });
});

describe("sockjet serve --redis: failures", () => {
  test("without the optional redis package: one line, exit 2", async () => {
    const hook = fileURLToPath(new URL("./fixtures/hide-redis.mjs", import.meta.url));
    const cli = new Cli(["serve", "--port", "0", "--host", "127.0.0.1", "--redis", "redis://127.0.0.1:1"], {
      NODE_OPTIONS: `--import ${hook}`,
    });
    const exit = await cli.exit(15_000);
    assert.equal(exit.code, 2, cli.transcript());
    assert.equal(
      cli.stderr,
      "sockjet serve: --redis needs the optional package 'redis' (node-redis): npm install redis\n",
    );
    assert.equal(cli.stdout, "");
  });

  test("without --redis the package is never loaded: serve starts with it hidden", async () => {
    const hook = fileURLToPath(new URL("./fixtures/hide-redis.mjs", import.meta.url));
    const cli = new Cli(["serve", "--port", "0", "--host", "127.0.0.1", "--quiet"], {
      NODE_OPTIONS: `--import ${hook}`,
    });
    await cli.waitFor(/chat\s+ws:\/\/127\.0\.0\.1:\d+\/chat\n/, { timeoutMs: 15_000 });
    cli.kill("SIGTERM");
    assert.equal((await cli.exit()).code, 0, cli.transcript());
  });

  test("an unreachable Redis: one line naming it (no credentials), exit 1, within the connect timeout", async () => {
    const port = await freePort();
    const started = Date.now();
    const cli = new Cli([
      "serve",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--redis",
      `redis://user:secret@127.0.0.1:${port}`,
    ]);
    const exit = await cli.exit(15_000);
    assert.equal(exit.code, 1, cli.transcript());
    assert.match(
      cli.stderr,
      new RegExp(
        `^sockjet serve: error: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`,
      ),
    );
    assert.doesNotMatch(cli.stderr, /secret/);
    assert.ok(Date.now() - started < 12_000);
  });

  test("a URL that is not redis:// is a usage error", async () => {
    const cli = new Cli(["serve", "--redis", "http://127.0.0.1:6379"]);
    assert.equal((await cli.exit()).code, 2);
    assert.match(
      cli.stderr,
      /invalid value for --redis \(expected a redis:\/\/ or rediss:\/\/ URL; not repeated here: it may hold a password\)/,
    );
  });
});
