import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import WebSocket from "ws";
import { CHAT_DEFAULTS } from "../../src/cli/chat-room-options.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { killAll, type Served, serve } from "./helpers.js";
import { type Client, open, until, welcome } from "./workers-helpers.js";

// `sockjet serve --workers 2 --redis URL`: the chat's members per address are counted across the workers by
// the primary (serve-address-count.ts), as the refusal says ("at most 20"). Each worker counting its own let
// one address hold 2 × 20 members on one serve. Skips without redis-server unless SOCKJET_REQUIRE_REDIS=1.

const skip = redisSkip();
after(killAll);

const limit = CHAT_DEFAULTS.maxMembersPerAddress;
const refusal = `too many chat members from your address (at most ${limit})`;

/** Every connection join() opened, to be closed at the end of a test whatever its outcome. */
const opened: Client[] = [];

/** A chat member that was welcomed, or the close of one that was refused before its welcome. */
async function join(served: Served, name: string): Promise<Client | { code: number; reason: string }> {
  const member = await open(served, `/chat?name=${name}`, "chat");
  opened.push(member);
  let closed: { code: number; reason: string } | null = null;
  void member.closed.then((close) => (closed = close));
  await until(() => welcome(member) !== undefined || closed !== null, `${name}'s welcome or close`);
  return closed ?? member;
}

const isMember = (joined: Client | { code: number }): joined is Client => "socket" in joined;

/** Joins until one is welcomed: a slot given back is counted free once the worker's release is through. */
async function joinWhenFree(served: Served, name: string): Promise<Client> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const joined = await join(served, `${name}-${attempt}`);
    if (isMember(joined)) return joined;
    assert.deepEqual(joined, { code: 4008, reason: refusal });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name}: no slot came free`);
}

describe("sockjet serve --workers --redis: chat members per address", { skip }, () => {
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

  afterEach(async () => {
    for (const client of opened) client.socket.close();
    await Promise.all(opened.splice(0).map((client) => client.closed));
  });

  test("the limit holds across both workers; a leave and a killed worker free their slots", async () => {
    const members: Client[] = [];
    const refused: { code: number; reason: string }[] = [];
    // Dealt round-robin: each worker gets limit + 1 of these, one past what it would allow by itself.
    for (let i = 0; i < 2 * limit + 2; i++) {
      const joined = await join(served, `m${i}`);
      if (isMember(joined)) members.push(joined);
      else refused.push(joined);
    }
    const slots = new Set(members.map((m) => m.slot));
    assert.equal(
      members.length,
      limit,
      `${members.length} of ${2 * limit + 2} joins from one address were welcomed on workers ${[...slots]}`,
    );
    assert.equal(slots.size, 2, "the members are on both workers");
    for (const close of refused) assert.deepEqual(close, { code: 4008, reason: refusal });

    // A member leaving gives its slot back, and only its own.
    const leaving = members.shift() as Client;
    leaving.socket.close();
    await leaving.closed;
    members.push(await joinWhenFree(served, "after-leave"));
    assert.deepEqual(await join(served, "one-too-many"), { code: 4008, reason: refusal });

    // A worker killed with its members: the primary stops counting them.
    const victim = members[0].pid;
    const onVictim = members.filter((m) => m.pid === victim);
    process.kill(victim, "SIGKILL");
    await Promise.all(onVictim.map((m) => m.closed));
    await served.cli.waitFor(/worker \d \(pid \d+\) listening/);
    const alive = members.filter((m) => m.pid !== victim);
    for (let i = 0; i < onVictim.length; i++) alive.push(await joinWhenFree(served, `after-kill${i}`));
    assert.deepEqual(await join(served, "still-too-many"), { code: 4008, reason: refusal });
  });

  test("a primary that does not answer lets the member in after 2 s (its worker's own count still holds)", async () => {
    const primary = served.cli.process.pid ?? 0;
    // The primary hands a worker the TCP connection before it is stopped.
    const tcp = net.connect(served.port, "127.0.0.1");
    await once(tcp, "connect");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const started = Date.now();
    process.kill(primary, "SIGSTOP");
    let welcomed: Record<string, unknown> | null = null;
    try {
      const socket = new WebSocket(`${served.ws}/chat?name=stalled`, ["chat"], {
        createConnection: () => tcp,
      });
      socket.on("error", () => {});
      welcomed = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), 9000);
        socket.on("message", (data) => {
          const event = JSON.parse(String(data));
          if (event.type === "welcome") {
            clearTimeout(timer);
            resolve(event);
          }
        });
        socket.on("close", () => resolve(null));
      });
      socket.close();
    } finally {
      process.kill(primary, "SIGCONT");
    }
    // The handshake's count (--max-connections-per-ip) and the member's each wait 2 s, then let it in.
    assert.equal(welcomed?.user, "stalled");
    assert.ok(Date.now() - started >= 4000, `welcomed after ${Date.now() - started} ms`);
  });
});
