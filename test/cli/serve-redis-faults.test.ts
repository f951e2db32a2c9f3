import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createClient } from "redis";
import { nameKey } from "../../src/cli/chat-names.js";
import { WebSocket } from "../../src/index.js";
import { BlackholeRelay, RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { killAll, type Served, serve } from "./helpers.js";

// `sockjet serve --redis` while its Redis restarts empty, freezes (SIGSTOP) or is gone (issue 21 items 11–13):
// a name is never given twice, no join waits forever, the user hears why, and the log has a line per outage,
// not one per failed publish. Real redis-server and serve processes; members are in-process WebSockets.

const skip = redisSkip();

after(killAll);

type ChatEvent = Record<string, unknown>;

interface Member {
  socket: WebSocket;
  events: ChatEvent[];
  closed: Promise<{ code: number }>;
}

function connect(served: Served, name: string): Member {
  const socket = new WebSocket(`${served.ws}/chat?name=${encodeURIComponent(name)}`, "chat");
  const events: ChatEvent[] = [];
  socket.addEventListener("message", (event) => events.push(JSON.parse(event.data as string)));
  const closed = new Promise<{ code: number }>((resolve) =>
    socket.addEventListener("close", (event) => resolve({ code: event.code })),
  );
  return { socket, events, closed };
}

async function until<T>(get: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The member's welcome or the error it got instead (within `ms`). */
function firstAnswer(member: Member, ms = 10_000): Promise<ChatEvent> {
  return until(
    () => member.events.find((e) => e.type === "welcome" || e.type === "error"),
    ms,
    "a welcome or an error",
  );
}

function lines(text: string, pattern: RegExp): string[] {
  return text.split("\n").filter((line) => pattern.test(line));
}

describe("sockjet serve --redis under faults", { skip }, () => {
  const running: { redis: RedisServer[]; served: Served[]; members: Member[] } = {
    redis: [],
    served: [],
    members: [],
  };

  after(async () => {
    for (const m of running.members) m.socket.close();
    for (const s of running.served) s.cli.kill();
    await Promise.all(running.served.map((s) => s.cli.exited));
    for (const r of running.redis) {
      r.thaw();
      await r.kill();
    }
  });

  async function start(processes: number): Promise<{ redis: RedisServer; served: Served[] }> {
    const redis = await RedisServer.start();
    running.redis.push(redis);
    // One after the other: two tsx start-ups at once on a loaded machine can pass serve()'s 10 s.
    const served: Served[] = [];
    for (let i = 0; i < processes; i++) {
      served.push(await serve(["--redis", redis.url]));
      running.served.push(served[i]);
    }
    return { redis, served };
  }

  function member(served: Served, name: string): Member {
    const m = connect(served, name);
    running.members.push(m);
    return m;
  }

  /** Joins until welcomed (within 20 s); refusals ("try again") are fine, a name given twice is not. */
  async function welcomeAfterRefusals(served: Served, name: string): Promise<ChatEvent> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = await firstAnswer(member(served, name));
      if (answer.type === "welcome") return answer;
      assert.match(String(answer.error), /try again/);
      if (Date.now() > deadline) throw new Error(`still refused after 20 s: ${JSON.stringify(answer)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  test("Redis restarted empty: a name in use is not given again on another process, and the count is right", async () => {
    const { redis, served } = await start(2);
    const [a, b] = served;
    const alice = member(a, "alice");
    assert.equal((await firstAnswer(alice)).user, "alice");
    const carol = member(b, "carol");
    assert.equal((await firstAnswer(carol)).users, 2);

    await redis.kill();
    await redis.start();
    // Right after the restart, before any heartbeat (every 10 s): newcomers on both processes. A join may be
    // refused while the room is restored (on a loaded machine the wait can pass joinWaitMs): it tries again.
    const [onB, onA] = await Promise.all([
      welcomeAfterRefusals(b, "alice"),
      welcomeAfterRefusals(a, "Carol"),
    ]);
    assert.equal(onB.user, "alice-2");
    assert.equal(onA.user, "Carol-2");
    // alice, carol and the two newcomers.
    assert.equal(Math.max(Number(onA.users), Number(onB.users)), 4);

    const inspect = createClient({ url: redis.url });
    await inspect.connect();
    try {
      const registry = await inspect.hGetAll("sockjet:presence:chat:members");
      // The registry holds name keys (nameKey(): alice's is "allce", i and l being one letter).
      const [alice, alice2, carol, carol2] = ["alice", "alice-2", "carol", "carol-2"].map(nameKey);
      assert.deepEqual(Object.keys(registry).sort(), [alice, alice2, carol, carol2].sort());
      assert.equal(registry[alice], registry[carol2], "alice and the second carol are on one process");
      assert.equal(registry[carol], registry[alice2]);
    } finally {
      await inspect.close();
    }
  });

  test("a frozen Redis (SIGSTOP): a join is refused within seconds with a message, logged once; it works again after SIGCONT", async () => {
    const { redis, served } = await start(1);
    const [a] = served;
    const carol = member(a, "carol");
    assert.equal((await firstAnswer(carol)).type, "welcome");

    redis.freeze();
    const started = Date.now();
    const dave = member(a, "dave");
    const dave2 = member(a, "dave2");
    for (const m of [dave, dave2]) {
      const answer = await firstAnswer(m, 12_000);
      assert.equal(answer.type, "error", JSON.stringify(answer));
      assert.match(String(answer.error), /cannot reach its Redis/);
      assert.equal((await m.closed).code, 4013);
    }
    assert.ok(Date.now() - started < 10_000, `refused after ${Date.now() - started} ms`);
    // Members already in still chat here.
    carol.socket.send("still here");
    await until(() => carol.events.find((e) => e.text === "still here"), 5_000, "carol's own message");

    redis.thaw();
    const erin = member(a, "erin");
    const answer = await firstAnswer(erin, 12_000);
    assert.equal(answer.type, "welcome", JSON.stringify(answer));
    // The refused joins reached Redis once it went on: they are taken out again, the room is carol and erin.
    const inspect = createClient({ url: redis.url });
    await inspect.connect();
    try {
      const deadline = Date.now() + 5_000;
      let members = await inspect.hKeys("sockjet:presence:chat:members");
      while (members.length !== 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        members = await inspect.hKeys("sockjet:presence:chat:members");
      }
      assert.deepEqual(members.sort(), [nameKey("carol"), nameKey("erin")].sort());
    } finally {
      await inspect.close();
    }
    const stderr = a.cli.stderr;
    assert.equal(lines(stderr, /chat presence: Redis failed/).length, 1, stderr);
    await until(
      () => (/Redis answers again/.test(a.cli.stderr) ? true : undefined),
      5_000,
      "the recovery line",
    );
  });

  test("a dead network path to Redis: serve drops its silent connections, says so, and joins work again", {
    timeout: 90_000,
  }, async () => {
    const redis = await RedisServer.start();
    running.redis.push(redis);
    const relay = await BlackholeRelay.start(redis.port);
    try {
      const a = await serve(["--redis", relay.url]);
      running.served.push(a);
      const carol = member(a, "carol");
      assert.equal((await firstAnswer(carol)).type, "welcome");
      // Every connection serve has to Redis goes silent, and stays open: TCP alone would not notice for minutes.
      relay.blackhole();
      const cutAt = Date.now();
      // The heartbeat's defaults: a PING every 10 s, dropped after 10 s unanswered.
      await until(
        () => (/did not answer a PING/.test(a.cli.stderr) ? true : undefined),
        40_000,
        `the drop in the log:\n${a.cli.stderr}`,
      );
      const foundAfter = Date.now() - cutAt;
      assert.ok(foundAfter < 35_000, `found after ${foundAfter} ms`);
      const dave = await welcomeAfterRefusals(a, "dave");
      assert.equal(dave.type, "welcome");
      // The store's subscriber has a heartbeat of its own, and is remade too (within another 20 s).
      await until(
        () => (relay.live >= 2 ? true : undefined),
        25_000,
        `serve's connections to be made again (${relay.live} live, ${relay.connections} made):\n${a.cli.stderr}`,
      );
    } finally {
      await relay.close();
    }
  });

  test("Redis gone: failed publishes are one line when they start and one with their count when they end", async () => {
    const { redis, served } = await start(1);
    const [a] = served;
    const carol = member(a, "carol");
    assert.equal((await firstAnswer(carol)).type, "welcome");

    await redis.kill();
    const sent = 20;
    for (let i = 0; i < sent; i++) carol.socket.send(`lost ${i}`);
    await until(() => carol.events.find((e) => e.text === `lost ${sent - 1}`), 5_000, "the messages here");
    await until(
      () => (/publishes do not reach Redis/.test(a.cli.stderr) ? true : undefined),
      5_000,
      "the outage line",
    );

    await redis.start();
    // Once the adapter is back, a message gets through and ends the outage.
    const ended = /publishes reach Redis again; (\d+) failed in/;
    for (let i = 0; i < 50 && !ended.test(a.cli.stderr); i++) {
      carol.socket.send(`back ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const match = a.cli.stderr.match(ended);
    assert.ok(match !== null, a.cli.stderr);
    assert.ok(Number(match[1]) >= sent, match[0]);
    assert.equal(lines(a.cli.stderr, /publishes do not reach Redis/).length, 1, a.cli.stderr);
    assert.equal(lines(a.cli.stderr, /did not reach the other processes:/).length, 0, a.cli.stderr);
  });
  test("SIGTERM while Redis is frozen: serve still exits, each Redis wait bounded", async () => {
    const { redis, served } = await start(1);
    const [a] = served;
    const carol = member(a, "carol");
    assert.equal((await firstAnswer(carol)).type, "welcome");
    await until(() => carol.events.find((e) => e.type === "join"), 5_000, "carol's join notice");
    redis.freeze();
    carol.socket.send("into the void");
    a.cli.kill("SIGTERM");
    // Presence (3 s), the adapter's calls and closes (5 s each, partly in parallel): well under 30 s.
    const exit = await a.cli.exit(30_000);
    assert.equal(exit.code, 0, a.cli.transcript());
  });
});
